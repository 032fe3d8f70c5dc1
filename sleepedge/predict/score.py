"""Score one recording with an exported model: per-epoch logits, stages and probabilities.

``window`` mode scores the night in windows of ``L`` epochs, the last one ending at the night's end,
each epoch from the first window that covers it; a night shorter than one window is padded by
mirroring (:func:`sleepedge.firmware_bench.stream.pad_index`). A window model and a streaming pair give
the same stages this way. ``online`` mode (streaming pair only) runs the firmware loop: one feature
call and one head call per epoch, each decision ``lag`` epochs late.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.firmware_bench.stream import online_logits, windowed_logits

from sleepedge.predict.model import ExportedModel, softmax

MODES = ("window", "online")


@dataclass
class Scores:
    """Per-epoch results of one recording."""

    logits: np.ndarray  # float32 (n_epochs, C)
    probs: np.ndarray  # float32 (n_epochs, C)
    stages: np.ndarray  # int64 (n_epochs,)
    seconds: float  # scoring wall time
    model_calls: int  # feature + head calls (pair) or window calls


def score_recording(model: ExportedModel, x: np.ndarray, mode: str = "window", lag: int | None = None) -> Scores:
    """Scores of epochs ``x`` ``(n_epochs, S)`` (float32 microvolts).

    Parameters
    ----------
    model : ExportedModel
        From :func:`sleepedge.predict.model.load_model`.
    x : ndarray
        The recording's epochs.
    mode : str
        ``window`` or ``online`` (streaming pair only).
    lag : int, optional
        ``online``: epochs of look-ahead (default ``L // 2``).
    """
    _check_input(model, x, mode)
    calls = [0]
    t0 = time.perf_counter()
    if model.kind == "pair":
        logits = _pair_logits(model, x, mode, lag, calls)
    else:
        logits = _window_logits(model, x, mode, calls)
    seconds = time.perf_counter() - t0
    probs = softmax(logits.astype(np.float64)).astype(np.float32)
    return Scores(logits.astype(np.float32), probs, logits.argmax(-1).astype(np.int64), seconds, calls[0])


def _check_input(model: ExportedModel, x: np.ndarray, mode: str) -> None:
    if mode not in MODES:
        raise DataError(f"--mode: expected one of {', '.join(MODES)}, got {mode!r}")
    if x.ndim != 2 or x.shape[1] != model.epoch_samples:
        raise DataError(f"recording epochs of {x.shape[-1]} samples, the model takes {model.epoch_samples}")


def _pair_logits(model: ExportedModel, x: np.ndarray, mode: str, lag: int | None, calls: list[int]) -> np.ndarray:
    """A streaming pair: features of every epoch once, then the head per window (or per epoch, online)."""
    L = model.seq_len
    feats = model.runner.epoch_features(x)
    calls[0] += len(x)

    def head(f: np.ndarray) -> np.ndarray:
        calls[0] += 1
        return model.runner.head_logits(f)

    if mode == "online":
        if lag is not None and not 0 <= lag < L:
            raise DataError(f"--lag {lag}: must be in 0..{L - 1} for a window of {L} epochs")
        return online_logits(feats, L, L // 2 if lag is None else lag, head)
    return windowed_logits(len(x), L, lambda idx: head(feats[idx]))


def _window_logits(model: ExportedModel, x: np.ndarray, mode: str, calls: list[int]) -> np.ndarray:
    """A window model: one call per window of ``L`` epochs."""
    if mode == "online":
        raise DataError("--mode online needs a streaming pair (features + head); a window model scores windows")

    def window(idx: np.ndarray) -> np.ndarray:
        calls[0] += 1
        return model.runner.run(np.ascontiguousarray(x[idx][None, :, None, :], dtype=np.float32))[0]

    return windowed_logits(len(x), model.seq_len, window)
