"""Reproducible export figures for an architecture preset (random weights, synthetic EEG-like sequences).

    python -m sleepedge.lab.export_measure --arch quick --seq-len 10 --train-epochs 3 --out /tmp/measure-quick

Sizes, conversion times, parity errors, op counts and the TFLite Micro arena depend on the
architecture, not on trained weights, so a seeded random model measures them. Accuracy figures from
this script mean little (synthetic signals: each stage a dominant rhythm plus noise); with
``--train-epochs`` the model first learns that task briefly, so the int8-vs-fp32 difference in
macro-F1 and the agreement between formats are measured on a model that actually separates stages.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from sleepedge.run.manifest import atomic_write_json

log = logging.getLogger(__name__)


def synthetic_sequences(n: int, seq_len: int, samples: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` EEG-like sequences in microvolts: per-stage dominant rhythm (Hz) plus 1/f-ish noise, labels random."""
    rng = np.random.default_rng(seed)
    rhythm = np.array([10.0, 6.0, 13.0, 1.5, 7.0])  # W alpha, N1 theta, N2 spindle, N3 delta, REM theta
    amp = np.array([15.0, 20.0, 25.0, 60.0, 20.0])
    y = rng.integers(0, 5, size=(n, seq_len))
    t = np.arange(samples) / 100.0
    phase = rng.uniform(0, 2 * np.pi, size=(n, seq_len, 1))
    x = amp[y][..., None] * np.sin(2 * np.pi * rhythm[y][..., None] * t + phase)
    x += np.cumsum(rng.standard_normal((n, seq_len, samples)), axis=-1) * 0.5
    x -= x.mean(-1, keepdims=True)
    return x[:, :, None, :].astype(np.float32), y.astype(np.int64)


def brief_training(model, x: np.ndarray, y: np.ndarray, epochs: int, batch: int = 16, lr: float = 1e-3) -> None:
    """A few AdamW epochs on the synthetic sequences, so that accuracy figures mean something."""
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for ep in range(epochs):
        perm, total = torch.randperm(len(xt)), 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            loss = torch.nn.functional.cross_entropy(model(xt[idx]).reshape(-1, 5), yt[idx].reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        log.info("training epoch %d: loss %.3f", ep + 1, total / len(xt))
    model.eval()


def measure(arch_name: str, seq_len: int, out: Path, n_calib: int, n_test: int, seed: int = 0,
            train_epochs: int = 0, n_train: int = 256) -> list[dict]:
    """Export a seeded ``arch_name`` model (random, or briefly trained) with every format; return the rows."""
    import torch

    from sleepedge.config.settings import load_config
    from sleepedge.models import DeepSleepNet, get_arch, save_checkpoint

    from sleepedge.export.calibration import calibration_sample
    from sleepedge.export.checkpoint_export import export_checkpoint

    torch.manual_seed(seed)
    model = DeepSleepNet(get_arch(arch_name)).eval()
    train_x, train_y = synthetic_sequences(max(n_train, n_calib), seq_len, seed=seed + 1)
    if train_epochs:
        brief_training(model, train_x, train_y, train_epochs)
    ckpt = save_checkpoint(out / f"{arch_name}.pt", model, overwrite=True)
    calib_x = calibration_sample(train_x, train_y, n_calib, seed=seed)
    test_x, test_y = synthetic_sequences(n_test, seq_len, seed=seed + 2)
    cfg = load_config("quick", [f"export.formats=onnx_fp32,tflite_fp32,tflite_int8,tflite_int8_fio"])
    t0 = time.perf_counter()
    rows = export_checkpoint(ckpt, out, calib_x, test_x, test_y, cfg, arch_name, overwrite=True)
    log.info("%s: exported in %.1f s", arch_name, time.perf_counter() - t0)
    return rows


def summary(rows: list[dict]) -> str:
    """One line per row with the figures the closing report needs."""
    keys = ("format", "status", "file_bytes", "convert_s", "parity_max_abs", "accuracy", "macro_f1",
            "macro_f1_delta_vs_fp32", "agreement_torch", "tflm_arena_bytes",
            "tflm_status", "fits_boards", "n_ops", "float_ops", "flex_ops", "reason")
    return "\n".join(json.dumps({k: r.get(k) for k in keys}) for r in rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="quick", help="architecture preset (tiny, quick, paper)")
    p.add_argument("--seq-len", type=int, default=10)
    p.add_argument("--calib", type=int, default=32, help="calibration sequences")
    p.add_argument("--test", type=int, default=16, help="test sequences")
    p.add_argument("--train-epochs", type=int, default=0, help="brief training on the synthetic data first (0 = random)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--out", default=None, help="output folder (default: ./measure-<arch>)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out = Path(args.out or f"measure-{args.arch}")
    out.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(args.threads)
    rows = measure(args.arch, args.seq_len, out, args.calib, args.test, train_epochs=args.train_epochs)
    atomic_write_json(out / "rows.json", rows, overwrite=True)
    print(summary(rows))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
