"""TFLite conversion (fp32 and int8 calibrated on the given sequences), op lists, TFLM arena, C array.

All share the one session-scoped conversion of the tiny model (``tiny_export`` in tests/fixtures/plugin.py).
"""
from __future__ import annotations

import numpy as np
import pytest

from fixtures.settings import TFLITE_FORMATS
from sleepedge.export.carray import read_c_array
from sleepedge.export.oplist import OpRecord, check_ops, list_ops

pytestmark = pytest.mark.tensorflow


@pytest.mark.parametrize("fmt", ["tflite_fp32", "tflite_fp32_onnx2tf"])
def test_fp32_tflite_matches_pytorch(tiny_export, fmt):
    out, rows = tiny_export
    r = rows[fmt]
    assert r["status"] == "ok", r["reason"]
    assert r["parity_max_abs"] < r["parity_tol"] and r["agreement_torch"] == 1.0
    assert (out / r["file"]).stat().st_size == r["file_bytes"]
    assert "WHILE" not in r["op_counts"]  # fused LSTM operators (Keras) or the BiLSTM unrolled (onnx2tf -eru)


@pytest.mark.parametrize("fmt", ["tflite_int8", "tflite_int8_onnx2tf"])
def test_int8_tflite_is_full_integer_and_calibrated_on_given_data(tiny_export, sequences, fmt):
    out, rows = tiny_export
    r = rows[fmt]
    assert r["status"] == "ok", r["reason"]
    assert r["input_dtype"] == "int8" and r["output_dtype"] == "int8" and r["input_scale"] > 0
    # asymmetric int8 input quantisation spans the calibration data's range: proof the given EEG was
    # used, not onnx2tf's default images (which would give a scale near 1/255)
    calib_x = sequences[0]
    span = (max(calib_x.max(), 0) - min(calib_x.min(), 0)) / 255
    assert 0.8 * span < r["input_scale"] < 1.25 * span
    ops = list_ops(out / r["file"])
    for op in ops:
        if op.name in ("CONV_2D", "FULLY_CONNECTED"):
            assert op.input_types[:2] == ("INT8", "INT8"), op
    assert r["float_ops"] == check_ops(ops, int8=True)["float_ops"]  # float leftovers listed by name and count
    assert r["flex_ops"] == {} and r["file_bytes"] < rows[fmt.replace("int8", "fp32")]["file_bytes"]
    assert r["parity_max_abs"] is not None and 0 <= r["agreement_torch"] <= 1
    assert r["macro_f1"] is not None and r["kappa"] is not None


def test_int8_float_io_variant(tiny_export):
    _, rows = tiny_export
    r = rows["tflite_int8_fio"]
    assert r["status"] == "ok", r["reason"]
    assert r["input_dtype"] == "float32" and r["output_dtype"] == "float32"
    assert r["float_ops"].get("QUANTIZE", 0) >= 1 and r["float_ops"].get("DEQUANTIZE", 0) >= 1


def test_op_check_rejects_flex_ops():
    ops = [OpRecord("CONV_2D", ("INT8", "INT8", "INT32"), ("INT8",)),
           OpRecord("FlexMatrixDeterminant", ("FLOAT32",), ("FLOAT32",), custom=True),
           OpRecord("DEQUANTIZE", ("INT8",), ("FLOAT32",))]
    v = check_ops(ops, int8=True)
    assert not v["ok"] and v["flex_ops"] == {"FlexMatrixDeterminant": 1} and "Flex" in v["reason"]
    assert v["float_ops"] == {"FlexMatrixDeterminant": 1, "DEQUANTIZE": 1}
    assert check_ops(ops[:1], int8=True)["ok"]


@pytest.mark.integration  # TensorFlow in this process and a converter run
def test_op_check_rejects_a_real_flex_model(tmp_path):
    import tensorflow as tf

    f = tf.function(lambda x: tf.linalg.det(x), input_signature=[tf.TensorSpec([1, 3, 3], tf.float32)])
    conv = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    path = tmp_path / "flex.tflite"
    path.write_bytes(conv.convert())
    v = check_ops(list_ops(path), int8=False)
    assert not v["ok"] and "FlexMatrixDeterminant" in v["flex_ops"]


def test_tflm_arena_measured_and_verified(tiny_export):
    _, rows = tiny_export
    r = rows["tflite_int8"]
    assert r["tflm_status"] == "ok", r.get("tflm_reason")
    assert 1000 < r["tflm_arena_bytes"] < 4 << 20
    assert r["flash_bytes"] == r["file_bytes"]
    assert "nRF52840" in r["fits_boards"]  # ~100 KB model, < 256 KB arena


def test_tflm_too_small_arena_is_a_failure_not_a_crash(tiny_export, sequences):
    from sleepedge.export.rows import tflm_input
    from sleepedge.export.tflm import run_tflm

    out, rows = tiny_export
    r = rows["tflite_int8"]
    res = run_tflm(out / r["file"], tflm_input(r, sequences[1]), arena_size=2048, timeout_s=120)
    assert not res["ok"] and res["reason"].startswith("TFLite Micro")


def test_c_array_of_int8_model_round_trips(tiny_export):
    out, rows = tiny_export
    r = rows["tflite_int8"]
    assert read_c_array(out / r["c_source"]) == (out / r["file"]).read_bytes()
    assert (out / r["c_header"]).is_file()


def test_markdown_table_and_int8_delta(tiny_export):
    from sleepedge.export.report import formats_markdown

    _, rows = tiny_export
    r = rows["tflite_int8"]
    assert r["fp32_reference"] == "tflite_fp32"  # each int8 file against the fp32 file of its own converter
    assert rows["tflite_int8_onnx2tf"]["fp32_reference"] == "tflite_fp32_onnx2tf"
    assert r["macro_f1_delta_vs_fp32"] == pytest.approx(r["macro_f1"] - rows["tflite_fp32"]["macro_f1"])
    md = formats_markdown(list(rows.values()))
    assert md.count("| baseline |") == len(rows) and "int8 vs fp32" in md and "macro-F1" in md
    assert "baseline/tflite_int16x8: macro-F1" in md  # the 16x8 file is compared with fp32 too


@pytest.mark.slow  # a second export of every window format
def test_export_is_byte_identical_from_one_run_to_the_next(tiny_export, tiny_export_again):
    """Same checkpoint, same calibration, same config: the same .onnx and .tflite bytes (the int8 conversion
    runs single-threaded; with TensorFlow's thread pools it left a random BiLSTM SPLIT in float).

    The second export (``tiny_export_again``) runs every converter child of the first one with the same inputs (the
    fused Keras window child beside the others: tests/fixtures/side_by_side.py), and every file of every window
    format is compared."""
    from sleepedge.run.manifest import sha256_file

    out, rows = tiny_export
    again_dir, again = tiny_export_again
    assert sorted(r["format"] for r in again) == sorted(TFLITE_FORMATS)
    for r in again:
        assert r["status"] == "ok", r["reason"]
        assert sha256_file(again_dir / r["file"]) == sha256_file(out / rows[r["format"]]["file"]), r["format"]
    assert rows["tflite_int8"]["float_ops"] == {} and rows["tflite_int8_onnx2tf"]["float_ops"] == {}


def test_int16x8_variant_runs_in_tflite_micro_and_stays_close_to_fp32(tiny_export):
    _, rows = tiny_export
    r, i8 = rows["tflite_int16x8"], rows["tflite_int8_onnx2tf"]  # the same onnx2tf graph at 8-bit activations
    assert r["status"] == "ok", r["reason"]
    assert r["input_dtype"] == "int16" and r["output_dtype"] == "int16" and r["float_ops"] == {}
    assert r["tflm_status"] == "ok" and r["tflm_arena_bytes"] > i8["tflm_arena_bytes"]  # 16-bit activations
    assert r["parity_max_abs"] <= i8["parity_max_abs"]  # finer activations than int8
    assert r["quantize_attempts"] >= 1
