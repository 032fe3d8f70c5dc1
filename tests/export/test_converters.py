"""Both converters (the tf_keras build with fused LSTMs, the default; onnx2tf, unrolled) on one checkpoint, and
the int8 streaming pairs (TensorFlow). Every test reads the one session export ``tiny_export`` (tests/fixtures/plugin.py)."""
from __future__ import annotations

import pytest

from fixtures.settings import SEQ_LEN

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]


def test_keras_fp32_matches_pytorch_with_fused_lstm_and_no_pad_operators(tiny_export):
    _, rows = tiny_export
    r = rows["tflite_fp32"]
    assert r["status"] == "ok" and r["converter"] == "keras" and r["parity_max_abs"] < 1e-4
    assert r["op_counts"].get("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2  # one per direction of the 1-layer tiny BiLSTM
    assert "PAD" not in r["op_counts"]  # SAME padding inside the convs and pools
    unrolled = rows["tflite_fp32_onnx2tf"]  # onnx2tf on the same checkpoint
    assert unrolled["converter"] == "onnx2tf" and unrolled["parity_max_abs"] < 1e-4
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in unrolled["op_counts"] and unrolled["n_ops"] > 2 * r["n_ops"]


def test_keras_int8_runs_under_tflite_micro(tiny_export):
    out, rows = tiny_export
    r = rows["tflite_int8"]
    assert r["status"] == "ok" and r["converter"] == "keras" and r["input_dtype"] == "int8" and r["agreement_torch"] > 0
    assert r["tflm_status"] == "ok" and 0 < r["tflm_arena_bytes"] < rows["tflite_int8_onnx2tf"]["tflm_arena_bytes"]
    assert (out / r["c_source"]).is_file() and r["c_source"].endswith("model_data.cc")


def test_keras_unrolled_int8_window_has_no_fused_lstm_and_scores_like_the_fused_one(tiny_export):
    """``tflite_int8_unrolled``: the same Keras build with the LSTM unrolled (no fused operator), fully integer,
    checked against PyTorch and against the Keras fp32 file like the fused int8 window, with its own C array."""
    out, rows = tiny_export
    r, fused = rows["tflite_int8_unrolled"], rows["tflite_int8"]
    assert r["status"] == "ok" and r["converter"] == "keras" and r["lstm"] == "unrolled" and fused["lstm"] == "fused"
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in r["op_counts"] and r["n_ops"] > fused["n_ops"]
    assert r["input_dtype"] == "int8" and not r["float_ops"] and r["fp32_reference"] == "tflite_fp32"
    assert abs(r["accuracy"] - fused["accuracy"]) <= 0.05 and r["agreement_torch"] >= 0.9
    assert r["convert_job"] == "keras_window_unrolled" and fused["convert_job"] == "keras_window"
    assert r["tflm_status"] == "ok" and (out / r["c_source"]).name == "tflite_int8_unrolled_data.cc"


@pytest.mark.parametrize("fmt,converter", [("stream_tflite_int8", "keras"), ("stream_tflite_int8_onnx2tf", "onnx2tf")])
def test_int8_streaming_pair_arenas_and_files(tiny_export, fmt, converter):
    out, rows = tiny_export
    r = rows[fmt]
    assert r["status"] == "ok" and r["converter"] == converter and r["stream_window"] == SEQ_LEN
    assert r["tflm_status"] in ("ok", "unverified")
    assert r["tflm_arena_bytes"] == r["tflm_arena_features_bytes"] + r["tflm_arena_head_bytes"]
    assert r["stream_ram_bytes"] == r["tflm_arena_bytes"] + SEQ_LEN * r["n_features"]
    assert r["file_bytes"] == sum((out / f).stat().st_size for f in r["files"].values())
    assert all((out / f).is_file() for f in r["c_files"].values())
    assert r["agreement_torch"] > 0 and r["fp32_reference"] == "stream_onnx_fp32"


def test_int8_keras_lstm_keeps_the_fp32_accuracy(tiny_export):
    """The fused int8 LSTM (calibrated gate intermediates) scores like onnx2tf's unrolled int8 on the same
    checkpoint, and the default int8 pair like the int8 window model."""
    _, rows = tiny_export
    window = rows["tflite_int8_onnx2tf"]
    for fmt in ("tflite_int8", "stream_tflite_int8", "stream_tflite_int8_onnx2tf"):
        r = rows[fmt]
        assert abs(r["accuracy"] - window["accuracy"]) <= 0.05 and r["agreement_torch"] >= 0.9, fmt
    assert rows["stream_tflite_int8"]["converter"] == "keras"
    assert rows["stream_tflite_int8"]["tflm_arena_bytes"] < rows["stream_tflite_int8_onnx2tf"]["tflm_arena_bytes"]
