"""``--against CHECKPOINT``: the PyTorch model's stages on the same windows, for agreement with the export.

PyTorch runs in a bench worker subprocess (``runtime torch``), so the predicting process itself never
imports torch and ``sleepedge predict`` stays usable on a board without it.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.firmware_bench.client import WorkerClient, WorkerError
from sleepedge.firmware_bench.runtimes import TORCH, is_installed
from sleepedge.firmware_bench.stream import pad_index, window_starts, windowed_logits
from sleepedge.core.metrics import classification_metrics


def torch_logits(checkpoint: str | Path, x: np.ndarray, seq_len: int, threads: int = 1,
                 timeout_s: float = 900.0) -> np.ndarray:
    """Per-epoch logits ``(n, C)`` of a sleepedge checkpoint on epochs ``x``, scored in the same windows as
    :func:`sleepedge.predict.score.score_recording` (``window`` mode)."""
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise DataError(f"{checkpoint}: checkpoint not found")
    if not is_installed(TORCH):
        raise DataError(f"{checkpoint}: --against needs PyTorch in this environment (pip install \"sleepedge[train]\")")
    idx = pad_index(len(x), seq_len)
    windows = np.stack([x[idx[s:s + seq_len]] for s in window_starts(len(x), seq_len)])[:, :, None, :]
    with tempfile.TemporaryDirectory(prefix="sleepedge-against-") as tmp:
        wpath, xpath, out = Path(tmp) / "w.npy", Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(wpath, windows[:1].astype(np.float32))
        np.save(xpath, windows.astype(np.float32))
        client = WorkerClient("against", timeout_s)
        try:
            client.request("load", runtime=TORCH, path=str(checkpoint.resolve()), threads=threads, xnnpack=None,
                           window=str(wpath))
            client.request("predict", x=str(xpath), out=str(out))
            logits = np.load(out)
        except WorkerError as exc:
            raise DataError(f"{checkpoint}: PyTorch could not score the recording ({exc})") from exc
        finally:
            client.close()
    calls = iter(logits)
    return windowed_logits(len(x), seq_len, lambda _idx: next(calls))


def agreement_fields(stages: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Epoch-by-epoch agreement and Cohen's kappa of the exported model with PyTorch."""
    m = classification_metrics(reference, stages)
    return {"agreement_torch": float(np.mean(stages == reference)), "kappa_vs_torch": m["kappa"],
            "epochs_differing": int(np.sum(stages != reference))}
