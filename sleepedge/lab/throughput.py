"""Printed benchmark (not a test): training throughput of an architecture in 30-s epochs per second.

    python -m sleepedge.lab.throughput --arch paper [--seq-len 10 --batch 8 --steps 5 --device auto]

Times full AdamW training steps (forward, backward, clipping, update) on random input after warm-up
and prints parameters, MACs per epoch and epochs/s. Used for the figures in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import statistics
import time


def measure(arch_name: str, seq_len: int, batch: int, steps: int, device: str, threads: int) -> dict[str, float]:
    import torch
    from torch import nn

    from sleepedge.models import DeepSleepNet, count_params, get_arch, macs_per_epoch
    from sleepedge.train.loop import select_device

    if threads > 0:
        torch.set_num_threads(threads)
    dev = select_device(device)
    arch = get_arch(arch_name)
    model = DeepSleepNet(arch).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, seq_len, 1, arch.epoch_samples, device=dev) * 30
    y = torch.randint(0, 5, (batch, seq_len), device=dev)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        loss = loss_fn(model(x).reshape(-1, 5), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"params": count_params(arch), "macs_per_epoch": macs_per_epoch(arch), "step_s_median": med,
            "epochs_per_s": batch * seq_len / med, "device": str(dev), "threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="paper")
    p.add_argument("--seq-len", type=int, default=10)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    r = measure(a.arch, a.seq_len, a.batch, a.steps, a.device, a.threads)
    print(f"arch {a.arch}: {r['params']:,} parameters, {r['macs_per_epoch'] / 1e6:.1f} M MACs per epoch")
    print(f"training on {r['device']} ({r['threads']} threads), batch {a.batch} x seq {a.seq_len}: "
          f"{r['step_s_median'] * 1000:.0f} ms per step (median of {a.steps}) = {r['epochs_per_s']:.1f} epochs/s")


if __name__ == "__main__":
    main()
