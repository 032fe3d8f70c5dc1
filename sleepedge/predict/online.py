"""``--mode online`` with a stateful pair: one epoch at a time, the causal head's state carried (docs/streaming.md).

Each recording is scored the way a wearable would: one feature call and one step call per 30-s epoch, the LSTM
state carried from epoch to epoch, zeroed at the recording's start and at every gap, each decision made
``lookahead`` epochs after its epoch (:mod:`sleepedge.models.stateful` holds the rules; the runner,
:class:`~sleepedge.firmware_bench.stateful.StatefulRunner`, applies them). A gap is a run of epochs without
signal: those MNE marked ``BAD_ACQ_SKIP`` (the holes of an EDF+D, which it fills with zeros) and flat epochs
(peak-to-peak 0: a disconnected electrode or zero-filled samples).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.models.stateful import segment_starts

from sleepedge.predict.model import STATEFUL_FORMATS, ExportedModel, softmax
from sleepedge.predict.score import Scores

log = logging.getLogger(__name__)
EPOCH_SEC = 30
GAP_ANNOTATION = "BAD_ACQ_SKIP"  # MNE's description of the missing stretches of an EDF+D


def check_mode(model: ExportedModel, mode: str) -> None:
    """Refuse a mode the model cannot score: a window model online, a stateful pair in windows (one line, exit 2)."""
    first = model.files[0]
    if mode == "online" and model.kind == "window":
        raise DataError(f"{first}: --mode online needs a model that decides every epoch: a stateful pair "
                        f"({', '.join(STATEFUL_FORMATS)}: --model RUN/export/causal) or a streaming pair (stream_*); "
                        "this is a window model")
    if mode != "online" and model.kind == "stateful":
        raise DataError(f"{first}: a stateful pair scores one epoch at a time with its state carried; "
                        "pass --mode online")


def annotated_gap_epochs(edf: Path, n_epochs: int) -> np.ndarray:
    """Epochs overlapping a ``BAD_ACQ_SKIP`` annotation of the recording (MNE's gaps of an EDF+D)."""
    import mne

    try:
        ann = mne.io.read_raw_edf(edf, preload=False, verbose="error").annotations
    except (OSError, ValueError, RuntimeError) as exc:
        raise DataError(f"{edf}: cannot read its annotations for the gap check ({exc})") from None
    gap = np.zeros(n_epochs, dtype=bool)
    for onset, duration, text in zip(ann.onset, ann.duration, ann.description):
        if text != GAP_ANNOTATION:
            continue
        first = int(np.floor(onset / EPOCH_SEC))
        last = int(np.ceil((onset + max(duration, 1e-9)) / EPOCH_SEC))
        gap[max(first, 0):min(last, n_epochs)] = True
    return gap


def gap_mask(x: np.ndarray, edf: Path | None) -> np.ndarray:
    """Gap epochs of a recording ``(n, S)``: flat (peak-to-peak 0) or, with ``edf``, annotated ``BAD_ACQ_SKIP``."""
    gap = np.ptp(x, axis=1) == 0
    if edf is not None:
        gap |= annotated_gap_epochs(Path(edf), len(x))
    return gap


def score_online(model: ExportedModel, x: np.ndarray, edf: Path | None = None) -> tuple[Scores, dict[str, Any]]:
    """Scores of epochs ``x`` ``(n, S)`` streamed through a stateful pair, and what predict.json records of it:
    ``lookahead``, ``lag_s``, ``resets`` (epochs where the state was zeroed) and ``gap_epochs``."""
    if model.kind != "stateful":
        raise DataError(f"{model.files[0]}: not a stateful pair")
    if x.ndim != 2 or x.shape[1] != model.epoch_samples:
        raise DataError(f"recording epochs of {x.shape[-1]} samples, the model takes {model.epoch_samples}")
    gap = gap_mask(x, edf)
    starts = segment_starts(gap)
    t0 = time.perf_counter()
    logits = model.runner.night(x, starts).astype(np.float32)
    seconds = time.perf_counter() - t0
    probs = softmax(logits.astype(np.float64)).astype(np.float32)
    scores = Scores(logits, probs, logits.argmax(-1).astype(np.int64), seconds, 2 * len(x))
    k = model.runner.lookahead
    info = {"lookahead": k, "lag_s": k * EPOCH_SEC, "resets": [int(s) for s in starts], "gap_epochs": int(gap.sum())}
    if info["gap_epochs"]:
        log.info("%s: %d gap epoch(s); state reset at epochs %s", edf or "recording", info["gap_epochs"], info["resets"])
    return scores, info


def online_summary(model: ExportedModel, mode: str) -> dict[str, Any]:
    """The model-level fields of predict.json for the scoring mode (look-ahead and lag of a stateful pair)."""
    if model.kind != "stateful":
        return {"mode": mode}
    k = model.runner.lookahead
    return {"mode": mode, "lookahead": k, "lag_s": k * EPOCH_SEC,
            "reset": "state zeroed at each recording's start and at every gap (BAD_ACQ_SKIP or flat epochs)"}
