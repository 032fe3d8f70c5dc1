"""Timing harness: warm-up excluded, minimum time and count respected, percentiles ordered."""
from __future__ import annotations

import time

import numpy as np
import pytest

from sleepedge.firmware_bench.timing import round_spread, summarize, time_runs


def test_warmup_calls_are_not_timed():
    calls = []

    def fn():
        calls.append(1)
        time.sleep(0.3 if len(calls) <= 2 else 0.001)  # the first two calls are slow

    times = time_runs(fn, warmup=2, min_time_s=0.0, min_runs=5)
    assert len(times) == 5 and len(calls) == 7
    assert max(times) < 200, "a slow warm-up call leaked into the timed runs"


def test_minimum_time_and_minimum_runs_are_both_respected():
    times = time_runs(lambda: time.sleep(0.002), warmup=0, min_time_s=0.1, min_runs=3)
    assert sum(times) >= 100.0 and len(times) >= 3
    assert sum(times[:-1]) < 100.0, "kept timing after the minimum time was reached"
    few = time_runs(lambda: None, warmup=0, min_time_s=0.0, min_runs=7)
    assert len(few) == 7


def test_summary_percentiles_ordered_and_exact():
    rng = np.random.default_rng(0)
    a = rng.lognormal(0.0, 0.5, size=500)
    s = summarize(list(a))
    assert s["min"] <= s["p50"] <= s["p90"] <= s["p99"] <= s["max"]
    assert s["p50"] == pytest.approx(np.median(a))
    assert s["mean"] == pytest.approx(a.mean()) and s["std"] == pytest.approx(a.std())
    assert s["n"] == 500 and s["total_ms"] == pytest.approx(a.sum())


def test_bad_settings_and_empty_input_rejected():
    with pytest.raises(ValueError):
        time_runs(lambda: None, warmup=0, min_time_s=0.0, min_runs=0)
    with pytest.raises(ValueError):
        summarize([])


def test_round_spread():
    assert round_spread([1.0]) is None
    assert round_spread([9.0, 10.0, 11.0]) == pytest.approx(20.0)
