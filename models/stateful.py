"""How a causal head streams, as data and one loop every runtime shares (numpy only: boards run it).

A causal head (``DeepSleepNetArch.bidirectional`` False) is run one epoch at a time: the feature model
turns the epoch into a feature vector, the one-step head takes that vector and the LSTM state (``h`` and
``c`` of every layer, explicit tensors) and returns logits and the next state. The rules, the same in
PyTorch (:meth:`sleepedge.models.deepsleepnet.DeepSleepNet.sequence`), onnxruntime, LiteRT, TFLite Micro and
a firmware loop:

* **Reset.** The state is zero at the start of a recording and at the start of every *segment*: a run
  of epochs with signal after a gap, or a run of gap epochs (a gap is scored like any epoch, from a zero
  state, and never leaks into the signal after it). :func:`segment_starts` finds the starts.
* **Look-ahead.** With look-ahead ``k`` the output of the step that consumed epoch ``t`` is the decision
  for epoch ``t - k`` (the decision lags the signal by ``k`` epochs, ``30 k`` seconds). The last ``k``
  epochs of a segment have no later epoch: they take the output of the segment's last step
  (:func:`decision_steps`).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

STATE_PARTS = ("h", "c")
StepFn = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]


def decision_steps(n: int, lookahead: int) -> np.ndarray:
    """Index of the step whose output decides each of ``n`` epochs: ``min(t + lookahead, n - 1)``."""
    if n < 0 or lookahead < 0:
        raise ValueError(f"n and lookahead must be >= 0, got {n}, {lookahead}")
    return np.minimum(np.arange(n) + lookahead, max(n - 1, 0)).astype(np.int64)


def segment_starts(gap: np.ndarray | Sequence[bool]) -> np.ndarray:
    """Epoch indices where the state is reset: 0 and every change between signal and gap.

    ``gap[i]`` is True for an epoch without usable signal (e.g. zeros MNE filled in for an EDF+D gap).
    """
    gap = np.asarray(gap, dtype=bool)
    if gap.ndim != 1 or gap.size == 0:
        raise ValueError(f"gap must be a non-empty 1-D mask, got shape {gap.shape}")
    return np.concatenate([[0], np.flatnonzero(gap[1:] != gap[:-1]) + 1]).astype(np.int64)


def zero_state(layers: int, hidden: int, dtype=np.float32) -> tuple[np.ndarray, np.ndarray]:
    """``(h, c)`` of shape ``(1, layers, hidden)`` each, zeros: the state at every reset."""
    return np.zeros((1, layers, hidden), dtype), np.zeros((1, layers, hidden), dtype)


def run_stateful(step: StepFn, feats: np.ndarray, layers: int, hidden: int, lookahead: int,
                 starts: Sequence[int] | np.ndarray = (0,)) -> np.ndarray:
    """Decisions (logits ``(n, n_classes)``) for ``n`` epochs of features ``(n, F)``, one step per epoch.

    Parameters
    ----------
    step : ``step(features (1, F), h, c) -> (logits (1, C), h, c)`` in any runtime (float in and out).
    feats : features of every epoch in order.
    layers, hidden : shape of the state.
    lookahead : epochs between an epoch and its decision.
    starts : segment starts (``0`` first; see :func:`segment_starts`): the state is zeroed at each.
    """
    n = len(feats)
    bounds = sorted({0, *(int(s) for s in starts if 0 <= int(s) < n)}) + [n]
    raw: list[np.ndarray] = []
    out = np.empty((n, 0), np.float32)
    for s, e in zip(bounds[:-1], bounds[1:]):
        h, c = zero_state(layers, hidden)
        seg = []
        for t in range(s, e):
            logits, h, c = step(np.ascontiguousarray(feats[t:t + 1], dtype=np.float32), h, c)
            seg.append(np.asarray(logits, np.float32).reshape(-1))
        raw.append(np.stack(seg)[decision_steps(e - s, lookahead)])
    if raw:
        out = np.concatenate(raw)
    return out
