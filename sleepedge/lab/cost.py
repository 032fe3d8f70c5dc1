"""Printed estimate (not a test): what the compression grid of a preset costs on this machine.

    python -m sleepedge.lab.cost --preset paper [--mode fit|bound|all] [--device cpu] [--json out.json]

Measures one fine-tuning step (forward, backward, gradient clipping, AdamW update on a batch of
``train.batch_size`` sequences of ``data.seq_len`` epochs) and one evaluation batch, and extrapolates
the grid of ``build_plan``. Assumptions, printed with the result:

* a fine-tune epoch = ceil(train sequences / batch) training steps + one pass over validation
  (the training loop evaluates after every epoch); no early stop inside the short fine-tunes;
* every step also evaluates validation before fine-tuning and validation + test after it;
* sequence counts: Sleep-EDF-20 has 42,308 scored epochs (DESIGN.md), split by subjects in proportion
  to ``data.val_subjects`` / ``data.test_subjects`` of 20; for the synthetic dataset they are counted
  by generating it;
* per-model step time: ``all`` times every distinct architecture; ``fit`` (default) times the baseline
  and the smallest model and interpolates linearly in MACs per epoch; ``bound`` charges every model
  the baseline's time (an upper bound).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from typing import Any

SLEEP_EDF_20_EPOCHS = 42308
SLEEP_EDF_20_SUBJECTS = 20


def time_arch(arch, batch: int, seq_len: int, repeats: int, device: str) -> dict[str, float]:
    """Median seconds of one training step and of one evaluation batch for ``arch``."""
    import torch
    from torch import nn

    from sleepedge.models import DeepSleepNet

    model = DeepSleepNet(arch).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, seq_len, 1, arch.epoch_samples, device=device) * 30
    y = torch.randint(0, arch.n_classes, (batch, seq_len), device=device)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def train_step() -> None:
        model.train()
        loss = nn.functional.cross_entropy(model(x).reshape(-1, arch.n_classes), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        sync()

    @torch.no_grad()
    def eval_step() -> None:
        model.eval()
        model(x)
        sync()

    return {name: _median_time(fn, repeats) for name, fn in (("train_step_s", train_step), ("eval_step_s", eval_step))}


def _median_time(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def sequence_counts(cfg) -> dict[str, int]:
    """Train / val / test sequences per the assumptions in the module docstring."""
    d = cfg.data
    if d.dataset == "synthetic":
        from sleepedge.train.stage import split_data

        data, _, _, _ = split_data(cfg)
        return {k: len(v) for k, v in data.items()}
    per_subject = SLEEP_EDF_20_EPOCHS / SLEEP_EDF_20_SUBJECTS
    n = {"val": d.val_subjects, "test": d.test_subjects}
    n["train"] = SLEEP_EDF_20_SUBJECTS - n["val"] - n["test"]
    return {k: int(v * per_subject) // d.seq_len for k, v in n.items()}


def _interpolate(t_big: dict, t_small: dict, macs_big: int, macs_small: int, macs: int) -> dict[str, float]:
    if macs_big == macs_small:
        return dict(t_big)
    f = (macs - macs_small) / (macs_big - macs_small)
    return {k: t_small[k] + f * (t_big[k] - t_small[k]) for k in t_big}


def estimate(cfg, mode: str, repeats: int, device: str) -> dict[str, Any]:
    """Per-step and total estimated seconds of the grid of ``cfg``."""
    from sleepedge.models import get_arch, macs_per_epoch

    from sleepedge.compress.plan import build_plan, step_arch

    base = get_arch(cfg.model.arch)
    plan = build_plan(base, cfg.compress)
    archs = {s.id: step_arch(base, s) for s in plan}
    batch, seq = cfg.train.batch_size, cfg.data.seq_len
    counts = sequence_counts(cfg)
    nb = {k: math.ceil(v / batch) for k, v in counts.items()}
    eval_nb = {k: math.ceil(v / 64) for k, v in counts.items()}  # the sweep evaluates in batches of 64
    timed: dict[str, dict[str, float]] = {}
    t_base = time_arch(base, batch, seq, repeats, device)
    smallest = min(plan, key=lambda s: macs_per_epoch(archs[s.id])) if plan else None
    if mode == "fit" and smallest is not None:
        t_small = time_arch(archs[smallest.id], batch, seq, repeats, device)
    for s in plan:
        a = archs[s.id]
        if mode == "all":
            t = time_arch(a, batch, seq, repeats, device)
        elif mode == "fit":
            t = _interpolate(t_base, t_small, macs_per_epoch(base), macs_per_epoch(archs[smallest.id]), macs_per_epoch(a))
        else:
            t = dict(t_base)
        epochs = cfg.compress.stage1_finetune_epochs if s.stage == 1 else cfg.compress.stage2_finetune_epochs
        eval_batch_s = t["eval_step_s"] * 64 / batch  # eval batches are 64 sequences
        epoch_s = nb["train"] * t["train_step_s"] + eval_nb["val"] * eval_batch_s
        step_s = epochs * epoch_s + (2 * eval_nb["val"] + eval_nb["test"]) * eval_batch_s
        timed[s.id] = {"stage": s.stage, "macs": macs_per_epoch(a), "epochs": epochs, "epoch_s": epoch_s, "step_s": step_s, **t}
    totals = {f"stage{k}_s": sum(v["step_s"] for v in timed.values() if v["stage"] == k) for k in (1, 2)}
    return {"preset": cfg.name, "arch": cfg.model.arch, "device": device, "mode": mode, "batch": batch, "seq_len": seq,
            "sequences": counts, "baseline": t_base, "steps": timed, **totals, "total_s": sum(totals.values())}


def _print(r: dict[str, Any]) -> None:
    b = r["baseline"]
    print(f"preset {r['preset']} (arch {r['arch']}) on {r['device']}: batch {r['batch']} x seq {r['seq_len']}, "
          f"sequences {r['sequences']}")
    print(f"baseline: {b['train_step_s'] * 1000:.0f} ms per training step, {b['eval_step_s'] * 1000:.0f} ms per eval batch "
          f"of {r['batch']}")
    print(f"{'step':<18}{'MACs':>10}{'epochs':>8}{'s/epoch':>10}{'s/step':>10}")
    for sid, v in r["steps"].items():
        print(f"{sid:<18}{v['macs'] / 1e6:>9.2f}M{v['epochs']:>8}{v['epoch_s']:>10.1f}{v['step_s']:>10.1f}")
    print(f"stage 1: {r['stage1_s'] / 60:.1f} min, stage 2: {r['stage2_s'] / 60:.1f} min, "
          f"grid total {r['total_s'] / 3600:.2f} h (mode {r['mode']}; assumptions: python -m sleepedge.lab.cost --help)")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="paper", help="preset whose grid, architecture, batch and data are costed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--mode", choices=("fit", "bound", "all"), default="fit")
    p.add_argument("--repeats", type=int, default=3, help="timed repetitions per measurement (median)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    p.add_argument("--json", default=None, help="also write the result as JSON to this path")
    a = p.parse_args(argv)
    import torch

    from sleepedge.config.settings import load_config
    from sleepedge.run.manifest import atomic_write_json

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    r = estimate(load_config(a.preset, a.overrides), a.mode, a.repeats, a.device)
    r["threads"] = torch.get_num_threads()
    _print(r)
    if a.json:
        atomic_write_json(a.json, r, overwrite=True)


if __name__ == "__main__":
    main()
