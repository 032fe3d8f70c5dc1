"""Helpers for the bench tests (a plain module, not conftest, so `from bench_fixtures import` is unambiguous)."""
from __future__ import annotations

from sleepedge.firmware_bench import BenchSettings


def fast_settings(**kw) -> BenchSettings:
    """Seconds-long bench settings for tests."""
    base = dict(min_time_s=0.05, min_runs=3, rounds=2, warmup=1, runtimes=["onnxruntime"], worker_timeout_s=120)
    base.update(kw)
    return BenchSettings(**base)
