"""The TFLite Micro arena: the recorder's total when it runs, else the smallest size that does (fake runtime)."""
from __future__ import annotations

import numpy as np

from sleepedge.export import tflm


def _fake(monkeypatch, works_from: int, recorded: int, calls: list[int]):
    out = np.arange(5, dtype=np.int8)

    def run(path, x_in, arena_size, timeout_s=300):
        calls.append(arena_size)
        ok = arena_size >= works_from
        return {"ok": ok, "reason": "" if ok else "TFLite Micro exit status 1: failed to allocate tensors",
                "arena_bytes": recorded, "output": out if ok else None, "outputs": [out] if ok else None}

    monkeypatch.setattr(tflm, "run_tflm", run)


def test_recorded_arena_that_runs_is_reported(monkeypatch, tmp_path):
    f = tmp_path / "m.tflite"
    f.write_bytes(b"x" * 100)
    calls: list[int] = []
    _fake(monkeypatch, works_from=4000, recorded=4000, calls=calls)
    r = tflm.measure_arena(f, np.zeros(1), max_arena=1 << 20)
    assert r["tflm_status"] == "ok" and r["tflm_arena_bytes"] == 4000 and calls == [1 << 20, 4000]


def test_too_small_recorded_arena_is_replaced_by_the_smallest_verified_one(monkeypatch, tmp_path):
    f = tmp_path / "m.tflite"
    f.write_bytes(b"x" * 100)
    calls: list[int] = []
    _fake(monkeypatch, works_from=6300, recorded=6000, calls=calls)
    r = tflm.measure_arena(f, np.zeros(1), max_arena=1 << 20)
    assert r["tflm_status"] == "ok" and r["tflm_reason"] == ""
    assert 6300 <= r["tflm_arena_bytes"] <= 6300 + 256 and r["tflm_arena_bytes"] % 16 == 0
    assert r["tflm_recorded_arena_bytes"] == 6000
    assert all(c >= 6300 for c in calls if c == r["tflm_arena_bytes"])


def test_no_arena_reproducing_the_output_is_unverified(monkeypatch, tmp_path):
    f = tmp_path / "m.tflite"
    f.write_bytes(b"x" * 100)
    _fake(monkeypatch, works_from=1 << 30, recorded=6000, calls=[])
    monkeypatch.setattr(tflm, "run_tflm", _first_only_ok(tflm.run_tflm))
    r = tflm.measure_arena(f, np.zeros(1), max_arena=1 << 16)
    assert r["tflm_status"] == "unverified" and "no arena up to" in r["tflm_reason"]


def _first_only_ok(run):
    """The measuring run (at max_arena) succeeds; every rerun at a smaller size fails."""
    seen = []

    def wrapped(path, x_in, arena_size, timeout_s=300):
        seen.append(arena_size)
        if len(seen) == 1:
            return {"ok": True, "reason": "", "arena_bytes": 6000, "output": np.arange(5, dtype=np.int8),
                    "outputs": [np.arange(5, dtype=np.int8)]}
        return {"ok": False, "reason": "TFLite Micro exit status 1", "arena_bytes": 6000, "output": None, "outputs": None}

    return wrapped
