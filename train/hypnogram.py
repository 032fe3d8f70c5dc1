"""Hypnogram handling: R&K -> AASM labels, the 30-s epoch grid, and wake trimming (numpy only).

The grid starts at the PSG start: epoch ``k`` covers seconds ``[30 k, 30 (k + 1))`` of the recording,
i.e. samples ``[3000 k, 3000 (k + 1))`` of a 100 Hz channel. ``-1`` marks an epoch that is not
scored (``Sleep stage ?``), is movement time, or that the hypnogram does not reach.
"""
from __future__ import annotations

import numpy as np

from sleepedge.core.errors import DataError

EPOCH_SEC = 30
LABEL_NAMES: tuple[str, ...] = ("W", "N1", "N2", "N3", "REM")
UNSCORED = -1

# Sleep-EDF annotation text -> AASM class (R&K stages 3 and 4 merge into N3; M and ? are dropped).
STAGE_MAP: dict[str, int] = {
    "Sleep stage W": 0,
    "Sleep stage 1": 1,
    "Sleep stage 2": 2,
    "Sleep stage 3": 3,
    "Sleep stage 4": 3,
    "Sleep stage R": 4,
    "Movement time": UNSCORED,
    "Sleep stage ?": UNSCORED,
}

# Annotation onsets/durations are whole multiples of 30 s in Sleep-EDF; allow float rounding only.
_GRID_TOL_S = 1e-3


def _grid_span(onset: float, duration: float, where: str) -> tuple[int, int]:
    """First epoch and one-past-last epoch of an annotation; ``DataError`` if it is off the 30-s grid."""
    start, stop = onset / EPOCH_SEC, (onset + duration) / EPOCH_SEC
    if abs(start - round(start)) * EPOCH_SEC > _GRID_TOL_S or abs(stop - round(stop)) * EPOCH_SEC > _GRID_TOL_S:
        raise DataError(f"{where}: annotation at {onset:g} s lasting {duration:g} s is not on the 30-s epoch grid")
    return int(round(start)), int(round(stop))


def annotations_to_grid(
    onsets: np.ndarray,
    durations: np.ndarray,
    descriptions: list[str] | np.ndarray,
    n_epochs: int,
    source: str = "hypnogram",
) -> np.ndarray:
    """Place hypnogram annotations on the PSG's 30-s epoch grid.

    Parameters
    ----------
    onsets, durations : array of float
        Seconds from the PSG start (the hypnogram must start at the PSG start).
    descriptions : sequence of str
        Sleep-EDF stage names (keys of :data:`STAGE_MAP`).
    n_epochs : int
        Full 30-s epochs in the PSG; scored epochs past the end are an error, ``?`` past the end is cut.
    source : str
        File name used in error messages.

    Returns
    -------
    numpy.ndarray
        int8 ``(n_epochs,)``, labels 0..4 or -1 (unscored, movement, not covered).

    Raises
    ------
    DataError
        Unknown stage name, annotation off the 30-s grid, or sleep stages scored beyond the recording.
    """
    y = np.full(n_epochs, UNSCORED, dtype=np.int8)
    beyond = 0
    for onset, duration, text in zip(onsets, durations, descriptions):
        first, stop, label = _annotation_span(onset, duration, text, source)
        if label != UNSCORED:
            beyond += max(0, stop - max(first, n_epochs))
        y[first:min(stop, n_epochs)] = label
    _refuse_beyond(beyond, n_epochs, source)
    return y


def _annotation_span(onset, duration, text, source: str) -> tuple[int, int, int]:
    """First epoch, one-past-last epoch and label of one annotation; ``DataError`` for a bad one."""
    if text not in STAGE_MAP:
        raise DataError(f"{source}: unknown hypnogram annotation {text!r} at {onset:g} s "
                        f"(expected one of {', '.join(STAGE_MAP)})")
    if onset < -_GRID_TOL_S:
        raise DataError(f"{source}: annotation {text!r} starts {-onset:g} s before the PSG")
    first, stop = _grid_span(float(onset), float(duration), source)
    return first, stop, STAGE_MAP[text]


def _refuse_beyond(beyond: int, n_epochs: int, source: str) -> None:
    """``DataError`` when scored epochs lie past the end of the recording."""
    if beyond:
        raise DataError(f"{source}: {beyond} scored epoch(s) lie beyond the end of the recording "
                        f"({n_epochs} epochs = {n_epochs * EPOCH_SEC} s): the hypnogram does not match the PSG")


def trim_wake(y_full: np.ndarray, trim_wake_min: float = 30.0, source: str = "hypnogram") -> np.ndarray:
    """Indices of the epochs kept for training: unscored dropped, wake trimmed around the sleep period.

    Drops unscored epochs, then keeps ``trim_wake_min`` minutes of epochs before the first sleep epoch
    (N1/N2/N3/REM) and after the last one, clipped to the recording (the DeepSleepNet/TinySleepNet
    convention; it reproduces the published Sleep-EDF-20 class counts).
    A negative ``trim_wake_min`` keeps all scored epochs.

    Returns
    -------
    numpy.ndarray
        int32 indices into ``y_full``, increasing.
    """
    y_full = np.asarray(y_full)
    scored = np.flatnonzero(y_full >= 0)
    if trim_wake_min < 0:
        return scored.astype(np.int32)
    # Trimming counts epochs in the unscored-free sequence (as DeepSleepNet's preparation does: drop
    # unknown epochs first, then cut), so a dropped epoch inside the margin widens it in grid terms.
    sleep = np.flatnonzero(y_full[scored] >= 1)
    if sleep.size == 0:
        raise DataError(f"{source}: no sleep epoch (N1, N2, N3 or REM) is scored")
    margin = int(round(trim_wake_min * 60 / EPOCH_SEC))
    lo, hi = max(0, sleep[0] - margin), sleep[-1] + margin + 1
    return scored[lo:hi].astype(np.int32)


def class_counts(y: np.ndarray) -> dict[str, int]:
    """``{"W": n, "N1": n, ...}`` for labels 0..4."""
    counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=len(LABEL_NAMES))
    return {name: int(c) for name, c in zip(LABEL_NAMES, counts)}
