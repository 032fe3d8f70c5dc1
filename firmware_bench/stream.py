"""The streaming pair at run time: a per-epoch feature model and a sequence head over cached features.

numpy + a runtime only (the bench, the export check and ``sleepedge predict`` share it). What a
firmware loop does, one epoch every 30 s (see docs/streaming.md):

1. fill the feature model's input with the epoch's 3000 samples, invoke it, keep its output (the
   epoch's CNN features) in a ring buffer of the last ``L`` feature vectors;
2. copy the ring, oldest first, into the head's input, reset the head's variable tensors (a fused
   LSTM keeps its state there), invoke it: ``L`` rows of logits, one per buffered epoch.

On a full window the pair computes what the window model computes (the CNN is per epoch), which the
export checks on every test window.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from sleepedge.firmware_bench.runner import Runner

PARTS = ("features", "head")


class PairRunner:
    """Both parts of a streaming pair, loaded in one runtime.

    ``run(window)`` maps a float32 window ``(1, L, 1, S)`` to logits ``(1, L, C)`` like a window
    model: ``L`` feature calls, then one head call. ``timed_call(window, part)`` gives the call the
    timing harness measures for one part: ``"features"`` (one epoch) or ``"head"`` (one decision).
    """

    def __init__(self, features: Runner, head: Runner) -> None:
        self.features, self.head = features, head
        f_in, h_in = features.info.get("input_shape") or [], head.info.get("input_shape") or []
        if len(f_in) != 4 or len(h_in) != 4 or f_in[1] != 1:
            raise ValueError(f"not a streaming pair: feature input {f_in}, head input {h_in} "
                             "(expected (1, 1, 1, S) and (1, L, 1, F))")
        self.seq_len, self.n_features = int(h_in[1]), int(h_in[3])
        self.info: dict[str, Any] = {**features.info, "head": head.info, "seq_len": self.seq_len,
                                     "n_features": self.n_features}

    def epoch_features(self, epochs: np.ndarray) -> np.ndarray:
        """Float32 features ``(n, F)`` of epochs ``(n, S)`` (one feature call each)."""
        x = np.ascontiguousarray(epochs, dtype=np.float32).reshape(len(epochs), 1, 1, 1, -1)
        return np.stack([self.features.run(e).reshape(-1) for e in x]).astype(np.float32)

    def head_logits(self, feats: np.ndarray) -> np.ndarray:
        """Logits ``(L, C)`` of one head call on features ``(L, F)``."""
        return self.head.run(np.ascontiguousarray(feats, dtype=np.float32)[None, :, None, :])[0]

    def run(self, window: np.ndarray) -> np.ndarray:
        feats = self.epoch_features(window.reshape(window.shape[1], -1))
        return self.head_logits(feats)[None]

    def timed_call(self, window: np.ndarray, part: str | None = None) -> Callable[[], Any]:
        """Zero-argument call of one part (``features``: the first epoch; ``head``: the window's features)."""
        if part == "features":
            return self.features.timed_call(np.ascontiguousarray(window[:, :1], dtype=np.float32))
        if part == "head":
            feats = self.epoch_features(window.reshape(window.shape[1], -1))
            return self.head.timed_call(np.ascontiguousarray(feats[None, :, None, :]))
        raise ValueError(f"a streaming pair is timed per part ({', '.join(PARTS)}), got {part!r}")


def window_starts(n_epochs: int, seq_len: int) -> list[int]:
    """Starts of the windows that cover ``n_epochs``: every ``seq_len`` epochs, the last one ending at the
    night's end (it overlaps the previous one when ``n_epochs`` is not a multiple). ``[0]`` when the night
    is shorter than one window (it is padded)."""
    if n_epochs <= seq_len:
        return [0]
    starts = list(range(0, n_epochs - seq_len + 1, seq_len))
    if starts[-1] + seq_len < n_epochs:
        starts.append(n_epochs - seq_len)
    return starts


def pad_index(n_epochs: int, seq_len: int) -> np.ndarray:
    """Indices that pad a night shorter than one window to ``seq_len`` epochs by mirroring it
    (``0, 1, .., n-1, n-1, n-2, ..``, repeated as needed); identity for longer nights."""
    idx = np.arange(max(n_epochs, seq_len))
    if n_epochs >= seq_len:
        return idx
    period = 2 * n_epochs
    k = idx % period
    return np.where(k < n_epochs, k, period - 1 - k)


def windowed_logits(n_epochs: int, seq_len: int, window_fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Logits ``(n_epochs, C)`` of a night scored in windows of ``seq_len`` epochs.

    ``window_fn(indices)`` returns the logits ``(seq_len, C)`` of the window made of those epochs
    (indices into the night, already padded). Each epoch takes its logits from the first window that
    covers it, so a window model and a streaming pair scored this way give the same stages.
    """
    idx = pad_index(n_epochs, seq_len)
    out: np.ndarray | None = None
    filled = np.zeros(n_epochs, dtype=bool)
    for s in window_starts(n_epochs, seq_len):
        logits = window_fn(idx[s:s + seq_len])
        if out is None:
            out = np.zeros((n_epochs, logits.shape[-1]), dtype=np.float32)
        span = np.arange(s, min(s + seq_len, n_epochs))
        new = span[~filled[span]]
        out[new] = logits[new - s]
        filled[new] = True
    return out


def online_logits(feats: np.ndarray, seq_len: int, lag: int, head_fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The firmware loop over a night's features ``(n, F)``: one head call per epoch.

    The call made when epoch ``t`` arrives sees epochs ``t - L + 1 .. t`` (the first ones mirrored
    before the night starts) and decides epoch ``t - lag`` from its row ``L - 1 - lag``: ``lag`` epochs
    of look-ahead for the backward LSTM, at ``lag * 30`` s of delay. The last ``lag`` epochs take
    their rows from the final call.
    """
    n = len(feats)
    if not 0 <= lag < seq_len:
        raise ValueError(f"lag must be in 0..{seq_len - 1}, got {lag}")
    out: np.ndarray | None = None
    for t in range(n):
        idx = np.arange(t - seq_len + 1, t + 1)
        idx = np.where(idx < 0, np.minimum(-idx - 1, n - 1), idx)  # mirror before the start
        logits = head_fn(feats[idx])
        if out is None:
            out = np.zeros((n, logits.shape[-1]), dtype=np.float32)
        if t - lag >= 0:
            out[t - lag] = logits[seq_len - 1 - lag]
        if t == n - 1:
            for k in range(max(0, n - lag), n):
                out[k] = logits[seq_len - 1 - (t - k)]
    return out
