"""Merging results files of two devices into one comparison table."""
from __future__ import annotations

import copy
import json

import pytest

from sleepedge.core.errors import DataError
from sleepedge.firmware_bench import merge_markdown


def _rows(machine, emulated, p50_epoch):
    dev = {"machine": machine, "cpu": f"cpu-{machine}", "cores": 4, "os": "Linux", "python": "3.11", "emulated": emulated}
    base = {"format": "onnx_fp32", "runtime": "onnxruntime", "xnnpack": None, "threads": 1, "status": "ok",
            "reason": "", "device": dev, "reference": "baseline/onnx_fp32/onnxruntime", "peak_rss_bytes": 64 << 20,
            "accuracy": 0.8}
    a = {**base, "model": "baseline", "latency_ms_per_epoch_p50": p50_epoch, "speedup_vs_ref": 1.0}
    b = {**copy.deepcopy(base), "model": "compressed", "format": "tflite_int8", "runtime": "ai-edge-litert",
         "xnnpack": False, "latency_ms_per_epoch_p50": p50_epoch / 4, "speedup_vs_ref": 4.0}
    return [a, b]


def test_merge_two_devices(tmp_path):
    x86, arm = tmp_path / "x86.json", tmp_path / "arm.json"
    x86.write_text(json.dumps(_rows("x86_64", False, 1.0)))
    rows = _rows("aarch64", True, 50.0)
    rows.append({**rows[0], "model": "extra", "status": "failed", "reason": "boom"})
    arm.write_text(json.dumps(rows))
    md = merge_markdown([x86, arm])
    assert "| D1 |" in md and "| D2 |" in md and "(EMULATED)" in md and "not board figures" in md
    assert "D1 ms/epoch" in md and "D2 speedup" in md
    line = next(l for l in md.splitlines() if l.startswith("| compressed | tflite_int8 |"))
    assert "| 0.250 | 4.00 | 64.0 | 0.800 | 12.500 | 4.00 | 64.0 | 0.800 |" in line
    extra = next(l for l in md.splitlines() if l.startswith("| extra |"))
    assert "| - |" in extra and "| failed |" in extra  # row only on D2: D1 shows '-'


def test_merge_rejects_bad_input(tmp_path):
    good = tmp_path / "g.json"
    good.write_text(json.dumps(_rows("x86_64", False, 1.0)))
    with pytest.raises(DataError, match="at least two"):
        merge_markdown([good])
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps([{"model": "x"}]))
    with pytest.raises(DataError, match="lacks"):
        merge_markdown([good, bad])
    with pytest.raises(FileNotFoundError):
        merge_markdown([good, tmp_path / "missing.json"])
