"""Ratio columns are computed against the configured reference row, from the same run."""
from __future__ import annotations

import numpy as np
import pytest

from sleepedge.firmware_bench.report import results_markdown, results_table
from sleepedge.firmware_bench.rows import add_reference_fields, find_reference


def _row(model, fmt, runtime, p50, size, peak, rounds):
    return {"key": f"{model}/{fmt}/{runtime}", "model": model, "format": fmt, "runtime": runtime, "status": "ok",
            "latency_ms_p50": p50, "file_bytes": size, "peak_rss_bytes": peak, "rss_increase_bytes": peak // 2,
            "round_p50_ms": rounds, "precision": fmt.split("_")[1], "reason": "", "agreement_ref": None,
            "device": {"machine": "x86_64", "cpu": "test", "cores": 2, "os": "Linux", "emulated": False}}


@pytest.fixture
def rows():
    return [
        _row("compressed", "tflite_int8", "ai-edge-litert", 2.0, 1_000, 50, [2.0, 2.2]),
        _row("baseline", "onnx_fp32", "onnxruntime", 10.0, 40_000, 200, [10.0, 9.0]),
        _row("baseline", "tflite_fp32", "ai-edge-litert", 20.0, 40_000, 400, [20.0, 18.0]),
    ]


def test_ratios_against_the_baseline_row_not_the_first_row(rows):
    preds = {r["key"]: np.array([[0, 1, 2]]) for r in rows}
    preds["compressed/tflite_int8/ai-edge-litert"] = np.array([[0, 1, 1]])
    add_reference_fields(rows, preds, "baseline/onnx_fp32/onnxruntime")
    c, ref, tf = rows
    assert c["speedup_vs_ref"] == pytest.approx(5.0) and c["size_ratio_vs_ref"] == pytest.approx(40.0)
    assert c["memory_ratio_vs_ref"] == pytest.approx(4.0) and c["agreement_ref"] == pytest.approx(2 / 3)
    assert (c["speedup_vs_ref_min"], c["speedup_vs_ref_max"]) == pytest.approx((9.0 / 2.2, 5.0))  # paired rounds
    assert ref["speedup_vs_ref"] == 1.0 and ref["agreement_ref"] == 1.0
    assert tf["speedup_vs_ref"] == pytest.approx(0.5) and tf["memory_ratio_vs_ref"] == pytest.approx(0.5)
    table = results_table(rows)
    assert "| 5.00 (4.09-5.00) | 40.00 | 4.00 | ok |" in table


def test_configurable_reference_and_goal_lines(rows):
    add_reference_fields(rows, {}, "baseline/tflite_fp32/ai-edge-litert")
    assert rows[0]["speedup_vs_ref"] == pytest.approx(10.0) and rows[1]["speedup_vs_ref"] == pytest.approx(2.0)
    md = results_markdown(rows, {"threads": 1, "xnnpack": [False], "rounds": 2, "min_time_s": 1.0, "min_runs": 5,
                                 "warmup": 1, "reference": "baseline/tflite_fp32/ai-edge-litert"}, "t")
    assert "speedup 10.00x met; size 40.00x met; memory 8.00x met" in md
    assert "Emulated" not in md


def test_missing_or_failed_reference_gives_no_ratios(rows):
    rows[1]["status"] = "failed"
    add_reference_fields(rows, {}, "baseline/onnx_fp32/onnxruntime")
    assert all(r["speedup_vs_ref"] is None and r["size_ratio_vs_ref"] is None for r in rows)
    add_reference_fields(rows, {}, "nothing/like/this")
    assert find_reference(rows, "nothing/like/this") is None and rows[0]["memory_ratio_vs_ref"] is None


def test_prefix_reference_matches_a_tflite_key_with_xnnpack_suffix(rows):
    rows[0]["key"] += "/xnnpack"
    assert find_reference(rows, "compressed/tflite_int8/ai-edge-litert") is rows[0]


def test_emulated_markdown_says_so(rows):
    for r in rows:
        r["device"]["emulated"] = True
    add_reference_fields(rows, {}, "baseline/onnx_fp32/onnxruntime")
    md = results_markdown(rows, {"threads": 1, "xnnpack": [True], "rounds": 1, "min_time_s": 1.0, "min_runs": 5,
                                 "warmup": 1, "reference": "baseline/onnx_fp32/onnxruntime"}, "t")
    assert "NOT board figures" in md


def _dsn_rows():
    """Compressed int8 TFLite, DeepSleepNet fp32 in onnxruntime (its fastest runtime) and in TFLite (two files)."""
    rows = [_row("compressed", "tflite_int8", "ai-edge-litert", 1.0, 300, 50, [1.0, 1.1]),
            _row("deepsleepnet", "onnx_fp32", "onnxruntime", 20.0, 99_000, 200, [20.0, 21.0]),
            _row("deepsleepnet", "tflite_fp32_onnx2tf", "ai-edge-litert", 40.0, 99_000, 300, [40.0, 44.0]),
            _row("deepsleepnet", "tflite_fp32", "ai-edge-litert", 60.0, 99_000, 300, [60.0, 60.0]),
            _row("compressed", "onnx_fp32", "tflite-runtime", 1.0, 300, 50, [1.0, 1.0])]
    for r in rows:
        r.update(kind="window", latency_ms_per_epoch_p50=r["latency_ms_p50"] / 10,
                 round_p50_ms_per_epoch=[v / 10 for v in r["round_p50_ms"]])
    return rows


def test_same_runtime_yardstick_uses_the_fastest_dsn_file_of_that_runtime():
    from sleepedge.firmware_bench.report import yardstick_goal_lines
    from sleepedge.firmware_bench.rows import add_ratio_fields, add_same_runtime_ratios

    rows = _dsn_rows()
    add_ratio_fields(rows, "deepsleepnet/onnx_fp32/onnxruntime", "yardstick")
    add_same_runtime_ratios(rows, "deepsleepnet/onnx_fp32/onnxruntime")
    comp = rows[0]
    assert comp["dsn_runtime"] == "deepsleepnet/tflite_fp32_onnx2tf/ai-edge-litert"  # 40 ms beats 60 ms
    assert comp["speedup_vs_dsn_runtime"] == pytest.approx(40.0)
    assert (comp["speedup_vs_dsn_runtime_min"], comp["speedup_vs_dsn_runtime_max"]) == pytest.approx((40.0, 40.0))
    assert comp["speedup_vs_yardstick"] == pytest.approx(20.0)
    assert rows[4]["dsn_runtime"] is None and rows[4]["speedup_vs_dsn_runtime"] is None  # no DSN in that runtime
    lines = "\n".join(yardstick_goal_lines(rows))
    assert ("speed 40.0x vs `deepsleepnet/tflite_fp32_onnx2tf/ai-edge-litert` met; "
            "20.0x vs `deepsleepnet/onnx_fp32/onnxruntime` MISSED; size 330.0x met") in lines


def test_same_runtime_yardstick_missing_dsn_file_is_said_not_guessed():
    from sleepedge.firmware_bench.report import yardstick_goal_lines
    from sleepedge.firmware_bench.rows import add_ratio_fields, add_same_runtime_ratios

    rows = [r for r in _dsn_rows() if r["format"] not in ("tflite_fp32_onnx2tf", "tflite_fp32")]
    add_ratio_fields(rows, "deepsleepnet/onnx_fp32/onnxruntime", "yardstick")
    add_same_runtime_ratios(rows, "deepsleepnet/onnx_fp32/onnxruntime")
    assert "speed x vs `-` no DSN row in this runtime" in "\n".join(yardstick_goal_lines(rows))


def test_yardstick_goal_judges_the_unrolled_host_window_beside_the_device_window():
    from sleepedge.firmware_bench.report import yardstick_goal_lines
    from sleepedge.firmware_bench.rows import add_ratio_fields, add_same_runtime_ratios

    rows = _dsn_rows() + [_row("compressed", "tflite_int8_unrolled", "ai-edge-litert", 0.5, 700, 50, [0.5, 0.5]),
                          _row("baseline", "tflite_int8_unrolled", "ai-edge-litert", 0.8, 900, 50, [0.8, 0.8])]
    for r in rows[-2:]:
        r.update(kind="window", latency_ms_per_epoch_p50=r["latency_ms_p50"] / 10,
                 round_p50_ms_per_epoch=[v / 10 for v in r["round_p50_ms"]])
    add_ratio_fields(rows, "deepsleepnet/onnx_fp32/onnxruntime", "yardstick")
    add_same_runtime_ratios(rows, "deepsleepnet/onnx_fp32/onnxruntime")
    lines = yardstick_goal_lines(rows)
    judged = [ln for ln in lines if ln.startswith("- `")]
    assert [ln.split("`")[1] for ln in judged] == ["compressed/tflite_int8/ai-edge-litert",
                                                   "compressed/tflite_int8_unrolled/ai-edge-litert"]
    assert "40.0x vs `deepsleepnet/onnx_fp32/onnxruntime` met" in judged[1]  # 20 ms / 0.5 ms
