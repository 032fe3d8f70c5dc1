"""Timing harness: warm-up runs excluded, timed runs until a minimum time AND a minimum count are reached.

Standard library + numpy only (it runs inside the bench workers on a board).
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np


def time_runs(fn: Callable[[], Any], warmup: int, min_time_s: float, min_runs: int,
              max_runs: int = 1_000_000) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then time calls until ``min_time_s`` and ``min_runs`` are both met.

    Parameters
    ----------
    fn : callable
        One inference (no arguments).
    warmup : int
        Untimed calls before timing starts (caches, lazy allocation, JIT-like first-call work).
    min_time_s : float
        The timed calls together last at least this long ...
    min_runs : int
        ... and there are at least this many of them.
    max_runs : int
        Hard cap on the number of timed calls.

    Returns
    -------
    list of float
        Wall time of each timed call in milliseconds (``time.perf_counter_ns``).
    """
    if warmup < 0 or min_runs < 1 or min_time_s < 0:
        raise ValueError(f"bad timing settings: warmup={warmup}, min_runs={min_runs}, min_time_s={min_time_s}")
    for _ in range(warmup):
        fn()
    times_ns: list[int] = []
    total_ns, min_ns = 0, int(min_time_s * 1e9)
    while (len(times_ns) < min_runs or total_ns < min_ns) and len(times_ns) < max_runs:
        t0 = time.perf_counter_ns()
        fn()
        dt = time.perf_counter_ns() - t0
        times_ns.append(dt)
        total_ns += dt
    return [t / 1e6 for t in times_ns]


def summarize(times_ms: list[float]) -> dict[str, float]:
    """p50, p90, p99, mean, std (population), min, max, count and total of a list of latencies in ms."""
    a = np.asarray(times_ms, dtype=np.float64)
    if a.size == 0:
        raise ValueError("no timed runs to summarise")
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {
        "p50": float(p50), "p90": float(p90), "p99": float(p99),
        "mean": float(a.mean()), "std": float(a.std()), "min": float(a.min()), "max": float(a.max()),
        "n": int(a.size), "total_ms": float(a.sum()),
    }


def round_spread(round_medians: list[float]) -> float | None:
    """Spread of per-round medians: ``(max - min) / median``, in percent (None with fewer than 2 rounds)."""
    if len(round_medians) < 2:
        return None
    a = np.asarray(round_medians, dtype=np.float64)
    return float((a.max() - a.min()) / np.median(a) * 100.0)
