"""ONNX export: opset, embedded weights, fixed shape, parity with PyTorch; a parity miss fails the row."""
from __future__ import annotations

import numpy as np
import pytest

from sleepedge.config.formats import FORMATS, get_formats
from sleepedge.export.onnx_export import export_onnx, max_abs_diff, onnx_logits, torch_logits

from fixtures.settings import SEQ_LEN


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory, tiny_checkpoint):
    from sleepedge.models import load_checkpoint

    model, _ = load_checkpoint(tiny_checkpoint)
    return model, export_onnx(model, tmp_path_factory.mktemp("onnx") / "m.onnx", SEQ_LEN)


def test_onnx_is_opset17_fixed_shape_weights_embedded(onnx_file):
    import onnx

    _, path = onnx_file
    m = onnx.load(str(path))
    assert max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) >= 17
    dims = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, SEQ_LEN, 1, 3000]
    assert not any(init.data_location == onnx.TensorProto.EXTERNAL for init in m.graph.initializer)
    assert [n.op_type for n in m.graph.node].count("LSTM") == 1  # tiny: one BiLSTM layer = one LSTM node


def test_onnx_parity_with_pytorch(onnx_file, sequences):
    model, path = onnx_file
    _, test_x, _ = sequences
    ref, got = torch_logits(model, test_x), onnx_logits(path, test_x)
    assert got.shape == (len(test_x), SEQ_LEN, 5)
    assert max_abs_diff(got, ref) < 1e-4
    assert max_abs_diff(got, ref + 1e-3) > 1e-4  # the measure can see a difference


def test_parity_above_tolerance_fails_the_row(onnx_file, sequences):
    from sleepedge.export.rows import check_file, new_row

    model, path = onnx_file
    _, test_x, test_y = sequences
    ref = torch_logits(model, test_x)
    row = new_row("baseline", FORMATS["onnx_fp32"], {})
    check_file(row, FORMATS["onnx_fp32"], path, path.parent, test_x, test_y, ref + 0.5, tol=1e-4)
    assert row["status"] == "failed" and "parity" in row["reason"]
    assert row["parity_max_abs"] == pytest.approx(0.5, abs=1e-3)


def test_format_table():
    assert [f.name for f in get_formats(["onnx_fp32", "tflite_int8"])] == ["onnx_fp32", "tflite_int8"]
    assert FORMATS["tflite_int8"].int8_io and not FORMATS["tflite_int8_fio"].int8_io
    from sleepedge.config.settings import ConfigError

    with pytest.raises(ConfigError, match="tflite_int4"):
        get_formats(["tflite_int4"])


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, sleepedge.export, sleepedge.export.stage; print([m for m in ('torch', 'tensorflow') if m in sys.modules])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_every_keras_format_names_an_lstm_mode_the_builder_knows():
    from sleepedge.export.keras_build import LSTM_MODES, build
    from sleepedge.models import get_arch

    keras = [f for f in FORMATS.values() if f.converter == "keras" and not f.stateful]
    assert keras and all(f.lstm in LSTM_MODES for f in keras)
    assert all(not f.lstm for f in FORMATS.values() if f.converter != "keras" or f.stateful)  # a step writes its LSTM out
    assert FORMATS["tflite_int8_unrolled"].lstm == "unrolled" and FORMATS["tflite_int8"].lstm == "fused"
    with pytest.raises(ValueError, match="unknown lstm mode 'peephole'"):
        build(get_arch("tiny"), {}, "window", 5, "peephole")
