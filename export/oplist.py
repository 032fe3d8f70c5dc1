"""List a .tflite file's operators from its flatbuffer and check them.

Read with the TFLite flatbuffer schema bindings that ship with ai-edge-litert (falling back to the
copies in tflite-micro or TensorFlow), so no interpreter has to be built. A Flex (SELECT_TF) op fails
a row: no TFLite Micro build and no plain TFLite runtime without the Flex delegate can run it. In an
int8 model, every operator that reads or writes a float tensor is reported by name and count.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLOAT_TYPES = ("FLOAT32", "FLOAT16", "FLOAT64", "BFLOAT16")


@dataclass(frozen=True)
class OpRecord:
    """One operator instance: its name (builtin name or custom code) and its tensor types."""

    name: str
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]
    custom: bool = False


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # pragma: no cover - depends on the install
        try:
            from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
        except ImportError:
            from tensorflow.lite.python import schema_py_generated as schema
    return schema


def _enum_names(enum_cls) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def list_ops(path: str | Path) -> list[OpRecord]:
    """Every operator of every subgraph of a .tflite file, in graph order."""
    schema = _schema()
    buf = Path(path).read_bytes()
    model = schema.Model.GetRootAsModel(buf, 0)
    op_names, type_names = _enum_names(schema.BuiltinOperator), _enum_names(schema.TensorType)
    records: list[OpRecord] = []
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)

        def types(idx) -> tuple[str, ...]:
            return tuple(type_names.get(sg.Tensors(int(i)).Type(), "?") for i in idx if i >= 0)

        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            name = op_names.get(builtin, str(builtin))
            custom = name == "CUSTOM"
            if custom:
                name = (code.CustomCode() or b"CUSTOM").decode()
            records.append(OpRecord(name, types(op.InputsAsNumpy()), types(op.OutputsAsNumpy()), custom))
    return records


def op_counts(ops: list[OpRecord]) -> dict[str, int]:
    """``{op name: count}``, most frequent first."""
    return dict(Counter(op.name for op in ops).most_common())


def flex_ops(ops: list[OpRecord]) -> dict[str, int]:
    """Flex (SELECT_TF) operators by name and count."""
    return dict(Counter(op.name for op in ops if op.custom and op.name.startswith("Flex")).most_common())


def float_ops(ops: list[OpRecord]) -> dict[str, int]:
    """Operators that read or write a float tensor, by name and count (QUANTIZE/DEQUANTIZE included)."""
    hits = [op.name for op in ops if any(t in FLOAT_TYPES for t in op.input_types + op.output_types)]
    return dict(Counter(hits).most_common())


def check_ops(ops: list[OpRecord], int8: bool) -> dict[str, Any]:
    """Op-list verdict for one file.

    Returns
    -------
    dict
        ``ok`` (false when a Flex op is present), ``reason``, ``flex_ops``, ``float_ops`` (int8 only,
        else ``{}``), ``custom_ops`` (non-Flex custom ops), ``op_counts``, ``n_ops``.
    """
    flex = flex_ops(ops)
    custom = dict(Counter(op.name for op in ops if op.custom and not op.name.startswith("Flex")))
    reason = f"Flex (SELECT_TF) ops present: {flex}" if flex else ""
    return {
        "ok": not flex,
        "reason": reason,
        "flex_ops": flex,
        "float_ops": float_ops(ops) if int8 else {},
        "custom_ops": custom,
        "op_counts": op_counts(ops),
        "n_ops": len(ops),
    }
