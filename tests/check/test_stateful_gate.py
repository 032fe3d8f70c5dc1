"""The budget gate reads a stateful pair's row: both files for flash, both arenas, and fails closed without it."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # stateful_fixture: the hand-built ONNX pair
from stateful_fixture import write_export  # noqa: E402

BUDGET = """
[model.causal]
format = "{fmt}"
max_arena_bytes = 32768
max_tflite_bytes = 1048576
"""


def _check(*args):
    from sleepedge.commands.cli import main

    return main(["check", *map(str, args)])


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return write_export(tmp_path_factory.mktemp("gate") / "export", {"tflm_arena_bytes": 40000,
                                                                     "stateful_ram_bytes": 52000})[0]


def _budget(tmp_path, fmt="stateful_onnx_fp32"):
    path = tmp_path / "budget.toml"
    path.write_text(BUDGET.format(fmt=fmt))
    return path


def test_a_stateful_row_over_its_arena_limit_fails_and_flash_counts_both_files(export_dir, tmp_path, capsys):
    from sleepedge.check import check_budget

    result = check_budget(_budget(tmp_path), export_dir)
    rows = {r.limit: r for r in result.rows}
    assert rows["max_arena_bytes"].status == "FAIL" and rows["max_arena_bytes"].measured == 40000
    assert "52000 bytes" in rows["max_arena_bytes"].detail
    files = [export_dir / "causal" / "stateful_onnx_fp32" / n for n in ("features.onnx", "step.onnx")]
    assert rows["max_tflite_bytes"].measured == sum(p.stat().st_size for p in files)
    assert rows["max_tflite_bytes"].status == "PASS"
    assert _check(export_dir, "--budget", _budget(tmp_path)) == 1


def test_a_missing_stateful_row_fails_closed(export_dir, tmp_path):
    from sleepedge.check import check_budget

    result = check_budget(_budget(tmp_path, "stateful_tflite_int8"), export_dir)
    assert {r.status for r in result.rows} == {"FAIL"}
    assert all("no export row for causal/stateful_tflite_int8" in r.detail for r in result.rows)
    assert _check(export_dir, "--budget", _budget(tmp_path, "stateful_tflite_int8")) == 1


def test_the_wearable_preset_limits_the_causal_stateful_int8_pair():
    from sleepedge.check.load import load_budget

    b = load_budget("wearable")
    causal, compressed = b.resolve("causal"), b.resolve("compressed")
    assert causal.settings["format"] == "stateful_tflite_int8" and causal.limits["max_arena_bytes"] == 32 * 1024
    assert causal.limits["max_tflite_bytes"] == compressed.limits["max_tflite_bytes"]  # the same flash
    assert causal.settings["latency_runtime"] == "tflite" and causal.settings["latency_precision"] == "int8"
    assert compressed.settings["format"] == "tflite_int8" and compressed.limits["max_arena_bytes"] > 32 * 1024
