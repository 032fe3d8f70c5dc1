"""Read a ``.tflite`` file's flatbuffer without running it: its metadata entries and its constant tensors.

TFLite models are FlatBuffers of the TFLite schema. The runtimes' Python interpreters expose neither the
metadata nor which operator owns which weight bytes, so this module reads the file with the schema's
generated Python classes, which the runtimes ship (``ai_edge_litert.schema_py_generated``, also in
tflite-micro and TensorFlow) on top of the ``flatbuffers`` package. No interpreter is created, so a
damaged file cannot crash the process: a malformed flatbuffer raises, and that becomes a
:class:`~sleepedge.core.errors.DataError` naming the file.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleepedge.core.errors import DataError

SCHEMA_MODULES = ("ai_edge_litert.schema_py_generated", "tflite_micro.tensorflow.lite.micro.python.schema_py_generated",
                  "tensorflow.lite.python.schema_py_generated")
IDENTIFIER = b"TFL3"  # bytes 4..8 of every TFLite flatbuffer


def schema() -> Any:
    """The TFLite schema's generated module from the first runtime that ships it."""
    for name in SCHEMA_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise DataError("reading a .tflite file needs the TFLite schema: pip install ai-edge-litert")


def read_model(path: str | Path) -> Any:
    """The root ``Model`` table of ``path``; :class:`DataError` when it is not a TFLite flatbuffer."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(data) < 8 or data[4:8] != IDENTIFIER:
        raise DataError(f"{path}: not a TFLite model (no TFL3 flatbuffer identifier)")
    try:
        model = schema().Model.GetRootAs(data, 0)
        model.SubgraphsLength(), model.BuffersLength(), model.MetadataLength()  # touch the vtables: catch a truncation here
    except Exception as exc:  # noqa: BLE001  (flatbuffers raises IndexError, struct.error ... on a damaged file)
        raise DataError(f"{path}: damaged TFLite flatbuffer ({type(exc).__name__}: {exc})") from None
    return model


def _buffer_bytes(model: Any, index: int) -> bytes:
    buf = model.Buffers(index)
    if buf is None or buf.DataLength() == 0:
        return b""
    return buf.DataAsNumpy().tobytes()


def metadata(path: str | Path) -> dict[str, bytes]:
    """``{name: bytes}`` of every metadata entry (``min_runtime_version``, ``CONVERSION_METADATA`` ...)."""
    model = read_model(path)
    out: dict[str, bytes] = {}
    try:
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            out[entry.Name().decode("utf-8", "replace")] = _buffer_bytes(model, entry.Buffer())
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{Path(path)}: damaged TFLite metadata ({type(exc).__name__}: {exc})") from None
    return out


@dataclass(frozen=True)
class ConstTensor:
    """A tensor whose values the file carries (weights, biases, quantisation tables)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    operators: tuple[str, ...]  # ``"<index>:<OPCODE>"`` of every operator reading it


def _opcode_names() -> dict[int, str]:
    ops = schema().BuiltinOperator
    return {v: k for k, v in vars(ops).items() if not k.startswith("_") and isinstance(v, int)}


def _dtype_names() -> dict[int, str]:
    types = schema().TensorType
    return {v: k.lower() for k, v in vars(types).items() if not k.startswith("_") and isinstance(v, int)}


def operator_names(model: Any, subgraph: int = 0) -> list[str]:
    """Builtin opcode name of every operator of a subgraph, in execution order (``CUSTOM:<name>`` for custom ones)."""
    names, sg = _opcode_names(), model.Subgraphs(subgraph)
    out = []
    for i in range(sg.OperatorsLength()):
        code = model.OperatorCodes(sg.Operators(i).OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        custom = code.CustomCode()
        out.append(f"CUSTOM:{custom.decode()}" if custom else names.get(builtin, str(builtin)))
    return out


def const_tensors(path: str | Path) -> list[ConstTensor]:
    """Every constant tensor of every subgraph, with its byte count and the operators that read it."""
    model = read_model(path)
    dtypes = _dtype_names()
    out = []
    try:
        for g in range(model.SubgraphsLength()):
            sg, ops = model.Subgraphs(g), operator_names(model, g)
            readers: dict[int, list[str]] = {}
            for i in range(sg.OperatorsLength()):
                for t in sg.Operators(i).InputsAsNumpy().tolist() if sg.Operators(i).InputsLength() else []:
                    readers.setdefault(int(t), []).append(f"{i}:{ops[i]}")
            for t in range(sg.TensorsLength()):
                tensor = sg.Tensors(t)
                nbytes = model.Buffers(tensor.Buffer()).DataLength() if tensor.Buffer() else 0
                if nbytes:
                    shape = tuple(int(v) for v in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
                    out.append(ConstTensor(tensor.Name().decode("utf-8", "replace"), dtypes.get(tensor.Type(), "?"),
                                           shape, int(nbytes), tuple(readers.get(t, ()))))
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{Path(path)}: damaged TFLite tensors ({type(exc).__name__}: {exc})") from None
    return out
