"""Realistic synthetic hypnograms: NREM-REM cycles with semi-Markov intrusions.

The sleep period is split into NREM-REM cycles of about 90 min (short nights are compressed so
every night holds at least two cycles, each cycle's length jittered). A cycle is a sequence of
segments -- N1 at sleep onset or after an awakening, N2, N3, N2, REM -- whose shares follow the
night: N3 mostly in the first cycles, REM growing towards the morning. Inside each segment, short
intrusions of neighbouring stages (N2 -> N1/W/N3, N3 -> N2, REM -> W/N1/N2) are drawn as a
semi-Markov process with geometric bout lengths, and cycles often end with a brief awakening. The
sleep period is framed by ``margin_min`` minutes of wake on each side (what trimming keeps of a real
night's wake).
"""
from __future__ import annotations

import numpy as np

W, N1, N2, N3, REM = range(5)

# Per dominant stage: probability per epoch that an intrusion starts, and the intruding stages with
# their weights and mean bout lengths (epochs).
INTRUSIONS: dict[int, tuple[float, list[tuple[int, float, float]]]] = {
    N2: (0.07, [(N1, 0.45, 1.8), (W, 0.35, 2.2), (N3, 0.25, 2.0)]),
    N3: (0.05, [(N2, 0.85, 2.0), (W, 0.15, 1.2)]),
    REM: (0.05, [(W, 0.35, 1.8), (N1, 0.45, 1.8), (N2, 0.20, 1.8)]),
    N1: (0.10, [(W, 0.70, 1.5), (N2, 0.30, 1.5)]),
}


def _intrude(rng: np.random.Generator, stage: int, n: int) -> np.ndarray:
    """``n`` epochs dominated by ``stage`` with short intrusions of other stages."""
    out = np.full(n, stage, dtype=np.int64)
    rate, options = INTRUSIONS.get(stage, (0.0, []))
    t = 0
    while t < n and options:
        gap = int(rng.geometric(rate))
        t += gap
        if t >= n - 1:
            break
        weights = np.array([w for _, w, _ in options])
        other, _, mean = options[int(rng.choice(len(options), p=weights / weights.sum()))]
        length = int(rng.geometric(1.0 / mean))
        if other == W:  # an awakening is followed by N1 before the dominant stage resumes
            out[t:min(t + length, n - 1)] = W
            t += length
            length = int(rng.integers(1, 3)) if rng.random() < 0.8 else 0
            other = N1
        out[t:min(t + length, n - 1)] = other
        t += length
    return out


def _cycle_segments(rng: np.random.Generator, length: int, pos: float, first: bool) -> list[tuple[int, int]]:
    """``[(stage, epochs)]`` of one cycle at night position ``pos`` (0 = start, 1 = end of the night)."""
    jitter = rng.lognormal(0.0, 0.25, size=3)
    n1 = int(rng.integers(4, 12) if first else rng.integers(2, 6))
    n3 = int(round(length * 0.36 * (1.0 - pos) ** 1.5 * jitter[0]))
    rem = int(round(length * (0.10 + 0.26 * pos) * jitter[1]))
    n2 = max(4, length - n1 - n3 - rem)
    split = rng.uniform(0.3, 0.6)
    down, up = int(round(n2 * split)), n2 - int(round(n2 * split))
    return [(N1, n1), (N2, down), (N3, n3), (N2, up), (REM, rem)]


def sleep_period(rng: np.random.Generator, n_sleep: int, cycle_min: float = 90.0) -> np.ndarray:
    """Stages of ``n_sleep`` epochs starting at sleep onset (N1) and ending on a sleep epoch."""
    n_cycles = max(2, int(round(n_sleep * 0.5 / cycle_min)))
    lengths = rng.dirichlet(np.full(n_cycles, 30.0)) * n_sleep
    parts: list[np.ndarray] = []
    start = 0.0
    for c, length in enumerate(lengths):
        pos = (start + length / 2) / n_sleep
        for stage, n in _cycle_segments(rng, int(round(length)), pos, first=(c == 0)):
            if n > 0:
                parts.append(_intrude(rng, stage, n))
        if c < n_cycles - 1 and rng.random() < 0.8:  # awakening at the end of a cycle
            parts.append(np.full(int(rng.integers(2, 20)), W, dtype=np.int64))
        start += length
    out = np.concatenate(parts)
    out = np.concatenate([out, np.full(max(0, n_sleep - out.size), N2, dtype=np.int64)])[:n_sleep]
    out[0] = N1
    if out[-1] == W:  # the period ends on its last sleep epoch
        out[-1] = N1
    return out


def synthetic_hypnogram(rng: np.random.Generator, sleep_hours: float, margin_min: float = 30.0,
                        cycle_min: float = 90.0) -> np.ndarray:
    """A whole synthetic night: ``margin_min`` of wake, ``sleep_hours`` of sleep period, ``margin_min`` of wake.

    Returns
    -------
    numpy.ndarray
        int64 labels 0..4 (W, N1, N2, N3, REM), one per 30-s epoch.
    """
    n_sleep = max(4, int(round(sleep_hours * 120)))
    margin = np.full(max(0, int(round(margin_min * 2))), W, dtype=np.int64)
    return np.concatenate([margin, sleep_period(rng, n_sleep, cycle_min), margin])
