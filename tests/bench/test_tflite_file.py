"""Reading a .tflite flatbuffer without an interpreter: metadata, constant tensors, damage refused."""
from __future__ import annotations

import flatbuffers
import numpy as np
import pytest

from sleepedge.core.errors import DataError
from sleepedge.firmware_bench.tflite_file import const_tensors, metadata, operator_names, read_model, schema


def _tiny_model(path):
    """One FULLY_CONNECTED reading a 4x2 int8 weight, plus one metadata entry (built with the schema's object API)."""
    s = schema()
    buffers = [s.BufferT(), s.BufferT(), s.BufferT()]
    buffers[1].data = np.arange(8, dtype=np.uint8)
    buffers[2].data = np.frombuffer(b'{"a": 1}', dtype=np.uint8)
    tensors = []
    for name, shape, buf in (("x", [1, 2], 0), ("w", [4, 2], 1), ("y", [1, 4], 0)):
        t = s.TensorT()
        t.name, t.shape, t.type, t.buffer = name.encode(), shape, s.TensorType.INT8, buf
        tensors.append(t)
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1], [2]
    sg = s.SubGraphT()
    sg.tensors, sg.operators, sg.inputs, sg.outputs = tensors, [op], [0], [2]
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.FULLY_CONNECTED
    meta = s.MetadataT()
    meta.name, meta.buffer = b"sleepedge.test", 2
    model = s.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers, model.metadata = 3, [code], [sg], buffers, [meta]
    b = flatbuffers.Builder(0)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    path.write_bytes(bytes(b.Output()))
    return path


def test_metadata_and_constant_tensors_are_read(tmp_path):
    p = _tiny_model(tmp_path / "m.tflite")
    assert metadata(p) == {"sleepedge.test": b'{"a": 1}'}
    assert operator_names(read_model(p)) == ["FULLY_CONNECTED"]
    (w,) = const_tensors(p)
    assert (w.name, w.dtype, w.shape, w.nbytes, w.operators) == ("w", "int8", (4, 2), 8, ("0:FULLY_CONNECTED",))


@pytest.mark.parametrize("cut", [0, 7, 40, -20])
def test_truncated_or_foreign_files_are_one_clear_error(tmp_path, cut):
    good = _tiny_model(tmp_path / "m.tflite").read_bytes()
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(good[:cut] if cut >= 0 else good[:cut])
    with pytest.raises(DataError, match="bad.tflite"):
        const_tensors(bad)
        metadata(bad)


def test_not_a_tflite_file(tmp_path):
    p = tmp_path / "x.tflite"
    p.write_bytes(b"\x08\x07" + b"onnx" * 20)
    with pytest.raises(DataError, match="not a TFLite model"):
        metadata(p)
    with pytest.raises(DataError, match="cannot read"):
        metadata(tmp_path / "missing.tflite")
