"""Synthetic hypnograms shaped like real Sleep-EDF nights: a semi-Markov chain over sleep-stage bouts.

The statistics come from the 39 expert-scored Sleep-EDF-20 nights (:mod:`.hypnogram_stats`, shipped
as ``hypnogram_stats.json``; ODC-By 1.0, Kemp et al. 2000). The sleep period is walked bout by bout:
each bout's length is drawn from the real bout lengths of its stage in the current third of the
night (N3 bouts are long early, REM bouts late), and the next stage from the real bout-to-bout
transition counts of that third. The period starts with the real sleep-onset stage distribution
and ends on a sleep epoch, and is framed by ``margin_min`` minutes of wake on each side (what
trimming keeps of a real night's wake). Stage shares, bout lengths and transitions of generated
nights match the real labels (tests/train/test_synthetic_hypnogram.py compares them).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from sleepedge.train.hypnogram_stats import PHASES, W, load_stats



class _Tables:
    """The shipped statistics as sampling tables (cumulative probabilities), built once."""

    def __init__(self, stats: dict) -> None:
        trans = np.asarray(stats["transitions"], dtype=np.float64)  # (phase, from, to)
        rows = trans.sum(2, keepdims=True)
        self.next_p = np.divide(trans, rows, out=np.full_like(trans, 0.2), where=rows > 0)
        self.lengths: list[list[tuple[np.ndarray, np.ndarray]]] = []
        for per_stage in stats["bout_lengths"]:
            phase_tables = []
            for hist in per_stage:
                lengths = np.array(sorted(int(k) for k in hist) or [1])
                counts = np.array([hist.get(str(k), 1) for k in lengths], dtype=np.float64)
                phase_tables.append((lengths, counts / counts.sum()))
            self.lengths.append(phase_tables)
        onset = np.asarray(stats["onset_counts"], dtype=np.float64)
        self.onset_p = onset / onset.sum()
        self.period_epochs = np.asarray(stats["sleep_period_epochs"], dtype=np.int64)


@lru_cache(maxsize=1)
def tables() -> _Tables:
    return _Tables(load_stats())


def sleep_period(rng: np.random.Generator, n_sleep: int) -> np.ndarray:
    """Stages of ``n_sleep`` epochs from sleep onset, ending on a sleep epoch."""
    t = tables()
    out = np.empty(n_sleep, dtype=np.int64)
    pos, stage = 0, int(rng.choice(5, p=t.onset_p))
    while pos < n_sleep:
        phase = min(pos * PHASES // n_sleep, PHASES - 1)
        lengths, p = t.lengths[phase][stage]
        length = int(rng.choice(lengths, p=p))
        out[pos:pos + length] = stage
        pos += length
        stage = int(rng.choice(5, p=t.next_p[phase, stage]))
    last = np.flatnonzero(out != W)[-1]  # the onset stage is never wake, so a sleep epoch exists
    out[last + 1:] = out[last]  # a sleep period ends on its last sleep epoch: a final wake bout stays asleep
    return out


def real_sleep_hours(rng: np.random.Generator) -> float:
    """A sleep-period length drawn from the real nights (hours)."""
    return float(rng.choice(tables().period_epochs)) / 120.0


def synthetic_hypnogram(rng: np.random.Generator, sleep_hours: float, margin_min: float = 30.0) -> np.ndarray:
    """A whole synthetic night: ``margin_min`` of wake, ``sleep_hours`` of sleep period, ``margin_min`` of wake.

    ``sleep_hours <= 0`` draws the sleep-period length from the real nights (7.9 h on average).

    Returns
    -------
    numpy.ndarray
        int64 labels 0..4 (W, N1, N2, N3, REM), one per 30-s epoch.
    """
    if sleep_hours <= 0:
        sleep_hours = real_sleep_hours(rng)
    n_sleep = max(4, int(round(sleep_hours * 120)))
    margin = np.full(max(0, int(round(margin_min * 2))), W, dtype=np.int64)
    return np.concatenate([margin, sleep_period(rng, n_sleep), margin])
