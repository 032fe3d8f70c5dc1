"""Hypnogram statistics of real nights: stage bouts, bout lengths and bout-to-bout transitions.

The synthetic generator (:mod:`.synthetic_hypnogram`) draws nights from these statistics, derived once
from the 39 expert-scored Sleep-EDF-20 nights (Sleep-EDF Database Expanded, PhysioNet, ODC-By 1.0:
Kemp et al. 2000, Goldberger et al. 2000) and shipped inside the package as ``hypnogram_stats.json``
(a fresh machine has no ``../shared``; only these derived counts ship, no label file)::

    sleepedge lab hypnogram_stats --labels ../shared/data/sleep-edf/labels \\
        --out train/hypnogram_stats.json

The sleep period (first to last sleep epoch of a trimmed night) is cut into ``PHASES`` equal parts by
position, because sleep changes across the night (N3 early, REM late). For each phase the file holds
the bout-length histogram of every stage and the stage-to-stage transition counts between bouts
(a bout is a run of one stage, so a transition always changes stage). The functions here are
also what the tests use to compare synthetic nights with the real labels.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

import numpy as np

STAGES = ("W", "N1", "N2", "N3", "REM")
W = 0
PHASES = 3
STATS_FILE = Path(__file__).with_name("hypnogram_stats.json")
SOURCE = {
    "data": "Sleep-EDF Database Expanded 1.0.0, sleep-cassette subjects 0-19 (Sleep-EDF-20), 39 nights, "
            "expert R&K scoring mapped to AASM (3+4 = N3), trimmed to 30 min of wake around sleep",
    "license": "ODC-By 1.0 (Open Data Commons Attribution License)",
    "citation": "Kemp B, Zwinderman AH, Tuk B, Kamphuisen HAC, Oberye JJL. IEEE Trans Biomed Eng 47(9):1185-1194 "
                "(2000); Goldberger AL et al. PhysioBank, PhysioToolkit, and PhysioNet. Circulation 101(23):e215-e220 (2000)",
    "url": "https://physionet.org/content/sleep-edfx/1.0.0/",
}


def bouts(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal labels: ``(stage, start, length)`` arrays, one entry per bout."""
    y = np.asarray(y)
    if y.size == 0:
        return (np.zeros(0, np.int64),) * 3
    starts = np.flatnonzero(np.r_[True, y[1:] != y[:-1]])
    lengths = np.diff(np.r_[starts, y.size])
    return y[starts].astype(np.int64), starts, lengths


def sleep_period(y: np.ndarray) -> tuple[int, int]:
    """``(first, last + 1)``: the span from the first to the last non-wake epoch."""
    sleep = np.flatnonzero(np.asarray(y) != W)
    if sleep.size == 0:
        raise ValueError("the night holds no sleep epoch")
    return int(sleep[0]), int(sleep[-1]) + 1


def phase_of(position: np.ndarray | float, n: int) -> np.ndarray:
    """Phase index (0 .. PHASES-1) of positions inside a sleep period of ``n`` epochs."""
    return np.minimum((np.asarray(position) * PHASES) // max(n, 1), PHASES - 1).astype(np.int64)


def night_summary(y: np.ndarray) -> dict[str, Any]:
    """Counts of one night: sleep-period bouts by phase, transitions by phase, margins and onset stage."""
    a, b = sleep_period(y)
    period = np.asarray(y)[a:b]
    stage, start, length = bouts(period)
    phase = phase_of(start, period.size)
    trans = np.zeros((PHASES, 5, 5), np.int64)
    np.add.at(trans, (phase[1:], stage[:-1], stage[1:]), 1)  # the phase of the bout being entered
    return {"stage": stage, "length": length, "phase": phase, "transitions": trans, "period": period.size,
            "onset": int(period[0]), "margins": (a, len(y) - b)}


def derive(nights: Iterable[np.ndarray], max_length: int = 240) -> dict[str, Any]:
    """The statistics the generator needs, from trimmed label sequences (0..4 per 30-s epoch).

    Bout lengths above ``max_length`` epochs are counted at ``max_length`` (none occurs in Sleep-EDF-20
    inside the sleep period; the cap keeps the file small for other data).
    """
    hist = np.zeros((PHASES, 5, max_length + 1), np.int64)
    trans = np.zeros((PHASES, 5, 5), np.int64)
    onset = np.zeros(5, np.int64)
    periods, totals = [], np.zeros(5, np.int64)
    for y in nights:
        s = night_summary(y)
        np.add.at(hist, (s["phase"], s["stage"], np.minimum(s["length"], max_length)), 1)
        trans += s["transitions"]
        onset[s["onset"]] += 1
        periods.append(s["period"])
        totals += np.bincount(np.asarray(y), minlength=5)[:5]
    return {
        "schema": "sleepedge.hypnogram-stats/1", "source": SOURCE, "stages": list(STAGES), "phases": PHASES,
        "n_nights": len(periods), "sleep_period_epochs": sorted(int(p) for p in periods),
        "onset_counts": onset.tolist(), "class_counts": totals.tolist(),
        "transitions": trans.tolist(),
        "bout_lengths": [[{str(k): int(c) for k, c in enumerate(h) if c} for h in per_stage] for per_stage in hist],
    }


def load_label_nights(folder: str | Path) -> list[np.ndarray]:
    """The trimmed label sequences ``y`` of every ``*_labels.npz`` in ``folder`` (sorted by name)."""
    files = sorted(Path(folder).glob("*_labels.npz"))
    if not files:
        raise FileNotFoundError(f"{folder}: no *_labels.npz files")
    out = []
    for f in files:
        with np.load(f) as z:
            out.append(z["y"].astype(np.int64))
    return out


def load_stats(path: str | Path = STATS_FILE) -> dict[str, Any]:
    """The shipped statistics (or another file written by :func:`derive`)."""
    return json.loads(Path(path).read_text("utf-8"))


def describe(nights: Iterable[np.ndarray]) -> dict[str, Any]:
    """Summary figures to compare two sets of nights: stage shares, mean bout length, transition matrix.

    ``shares`` are over the whole trimmed nights, ``period_shares`` over the sleep periods,
    ``mean_bout`` per stage inside the sleep period, ``transition`` the row-normalised bout-to-bout
    matrix (all phases), and ``third_shares`` the stage shares of each third of the sleep period.
    """
    counts, period_counts, thirds = np.zeros(5), np.zeros(5), np.zeros((PHASES, 5))
    trans, bout_sum, bout_n = np.zeros((5, 5)), np.zeros(5), np.zeros(5)
    for y in nights:
        y = np.asarray(y)
        s = night_summary(y)
        counts += np.bincount(y, minlength=5)[:5]
        a, b = sleep_period(y)
        period_counts += np.bincount(y[a:b], minlength=5)[:5]
        for k, part in enumerate(np.array_split(y[a:b], PHASES)):
            thirds[k] += np.bincount(part, minlength=5)[:5]
        trans += s["transitions"].sum(0)
        np.add.at(bout_sum, s["stage"], s["length"])
        np.add.at(bout_n, s["stage"], 1)
    row = trans.sum(1, keepdims=True)
    return {"shares": counts / counts.sum(), "period_shares": period_counts / period_counts.sum(),
            "mean_bout": np.divide(bout_sum, bout_n, out=np.zeros(5), where=bout_n > 0),
            "transition": np.divide(trans, row, out=np.zeros_like(trans), where=row > 0),
            "third_shares": thirds / thirds.sum(1, keepdims=True)}
