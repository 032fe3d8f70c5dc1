"""TFLite rows: both interpreters, XNNPACK on and off, int8 (de)quantisation, TFLM arena from the export."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from fixtures.settings import fast_settings

from sleepedge.firmware_bench import prediction_key, run_bench
from sleepedge.firmware_bench.runtimes import dequantize, quantize


def test_quantize_round_trip_and_clipping():
    x = np.array([-1.0, 0.0, 0.5, 100.0], np.float32)
    q = quantize(x, np.int8, 0.01, -3)
    assert q.dtype == np.int8 and q.tolist() == [-103, -3, 47, 127]
    np.testing.assert_allclose(dequantize(q, 0.01, -3)[:3], x[:3], atol=0.005)
    assert quantize(x, np.float32, 0.0, 0) is x


@pytest.mark.tensorflow
def test_tflite_rows_both_interpreters_and_xnnpack_modes(tflite_run_master, tmp_path):
    run = shutil.copytree(tflite_run_master, tmp_path / "run")
    settings = fast_settings(rounds=1, runtimes=["onnxruntime", "ai-edge-litert", "tflite-runtime"], xnnpack=[False, True])
    rows = {r["key"]: r for r in run_bench(run, settings)}
    for rt in ("ai-edge-litert", "tflite-runtime"):
        for x in ("no-xnnpack", "xnnpack"):
            i8, f32 = rows[f"compressed/tflite_int8/{rt}/{x}"], rows[f"baseline/tflite_fp32/{rt}/{x}"]
            assert i8["status"] == f32["status"] == "ok", (i8["reason"], f32["reason"])
            assert i8["precision"] == "int8" and i8["tflm_arena_bytes"] == 64 * 1024 and f32["tflm_arena_bytes"] is None
            assert i8["xnnpack"] is (x == "xnnpack") and i8["runtime_version"]
    with np.load(run / "bench" / "predictions.npz") as p:
        f32 = p[prediction_key("baseline/tflite_fp32/ai-edge-litert/no-xnnpack")]
        i8 = p[prediction_key("compressed/tflite_int8/ai-edge-litert/no-xnnpack")]
        i8_other = p[prediction_key("compressed/tflite_int8/tflite-runtime/no-xnnpack")]
    # the int8 model is the quantised fp32 one: dequantised logits close, and one interpreter = the other
    assert np.abs(i8 - f32).max() < 0.1 * np.abs(f32).max()
    np.testing.assert_array_equal(i8, i8_other)


@pytest.mark.tensorflow
def test_tflite_auto_picks_one_interpreter(tflite_run_master, tmp_path):
    run = shutil.copytree(tflite_run_master, tmp_path / "run")
    rows = run_bench(run, fast_settings(rounds=1, runtimes=["tflite"], reference="baseline/tflite_fp32/ai-edge-litert"))
    assert {r["runtime"] for r in rows} == {"ai-edge-litert"}
    assert rows[0]["speedup_vs_ref"] == 1.0
