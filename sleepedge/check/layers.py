"""Per-layer attribution of one model: weight bytes and output bytes per layer from the .tflite flatbuffer,
MACs and parameters per layer from the architecture, the TFLite Micro arena by allocation class.

Layer names (docs/budget.md, "Attribution"): an operator is named by the Keras layer in its output tensor's
name (the converter writes ``model/conv1d_3/Conv1D;...``: the part after the model name), else by
``op<index>:<OPCODE>``. When the export row carries the architecture and the file is a Keras build of it,
the names are mapped onto the PyTorch module names of :mod:`sleepedge.models` (``small.blocks.1.conv``,
``lstm``, ``shortcut``, ``head``), so weights, MACs and parameters of one layer land in one row: the
i-th Conv1D layer (by Keras' creation number) is the i-th conv of the small then the large branch, and the
mapping is used only when every kernel shape matches the architecture's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sleepedge.check.arena import arena_classes

WEIGHT_LAYERS = ("conv1d", "conv2d", "depthwise_conv1d", "depthwise_conv2d", "dense", "bidirectional", "lstm")
KERAS_NAME = re.compile(r"^(?P<base>[a-z_0-9]+?)(?:_(?P<n>\d+))?$")
LSTM_OPS = ("UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM")
SHARED = "(shared constants)"


@dataclass
class Op:
    """One operator of the first subgraph: its name, the constant bytes it reads and the bytes it writes."""

    index: int
    opcode: str
    layer: str
    output_bytes: int = 0
    weight_shapes: list[tuple[int, ...]] = field(default_factory=list)


def keras_layer(tensor_name: str) -> str | None:
    """The Keras layer in a converter's tensor name (``model/conv1d_3/Conv1D;...`` -> ``conv1d_3``), else None."""
    layers = [p.split("/")[1] for p in tensor_name.split(";") if p.count("/") >= 1 and p.split("/")[1]]
    if not layers:
        return None
    weighty = [n for n in layers if KERAS_NAME.match(n) and KERAS_NAME.match(n)["base"] in WEIGHT_LAYERS]
    return (weighty or layers)[0]


def _nbytes(tensor: Any, sizes: dict[int, int]) -> int:
    shape = tensor.ShapeAsNumpy().tolist() if tensor.ShapeLength() else []
    n = sizes.get(tensor.Type(), 1)
    for d in shape:
        n *= max(int(d), 1)
    return n


def read_ops(path: Path) -> list[Op]:
    """The operators of subgraph 0 with their layer names and output bytes (flatbuffer only, no interpreter)."""
    from sleepedge.firmware_bench.tflite_file import operator_names, read_model, schema

    model = read_model(path)
    sg, names = model.Subgraphs(0), operator_names(model)
    types = schema().TensorType
    sizes = {getattr(types, k): v for k, v in (("INT8", 1), ("UINT8", 1), ("INT16", 2), ("FLOAT16", 2),
                                                ("INT32", 4), ("FLOAT32", 4), ("INT64", 8), ("BOOL", 1))}
    ops = []
    for i in range(sg.OperatorsLength()):
        outs = sg.Operators(i).OutputsAsNumpy().tolist() if sg.Operators(i).OutputsLength() else []
        tensors = [sg.Tensors(t) for t in outs if t >= 0]
        name = keras_layer(tensors[0].Name().decode("utf-8", "replace")) if tensors else None
        ops.append(Op(i, names[i], name or f"op{i}:{names[i]}", sum(_nbytes(t, sizes) for t in tensors)))
    return ops


def _constants(path: Path, ops: list[Op]) -> list[tuple[int, list[Op]]]:
    """``(bytes, reading operators)`` of every constant tensor; records each operator's weight shapes."""
    from sleepedge.firmware_bench.tflite_file import const_tensors

    by_index = {op.index: op for op in ops}
    out = []
    for c in const_tensors(path):
        readers = [by_index[i] for i in (int(r.split(":")[0]) for r in c.operators) if i in by_index]
        for op in readers:
            op.weight_shapes.append(c.shape)
        out.append((c.nbytes, readers))
    return out


def _weights(constants: list[tuple[int, list[Op]]]) -> dict[str, int]:
    """Constant bytes per layer; a constant read by operators of several layers goes to :data:`SHARED`."""
    out: dict[str, int] = {}
    for nbytes, readers in constants:
        layers = {op.layer for op in readers}
        layer = layers.pop() if len(layers) == 1 else SHARED
        out[layer] = out.get(layer, 0) + nbytes
    return out


def arch_convs(arch: Any) -> list[tuple[str, tuple[int, ...]]]:
    """``(module name, TFLite kernel shape (out, 1, k, in))`` of every conv, small branch then large."""
    out = []
    for name in ("small", "large"):
        b, c_in = getattr(arch, name), 1
        for i, c in enumerate(b.channels):
            out.append((f"{name}.blocks.{i}.conv", (c, 1, b.first_kernel if i == 0 else b.kernel, c_in)))
            c_in = c
    return out


def _conv_names(ops: list[Op], arch: Any) -> dict[str, str]:
    """Keras Conv1D layer -> module name, when the convs match the architecture one to one (else empty)."""
    convs: dict[str, list[Op]] = {}
    for op in ops:
        m = KERAS_NAME.match(op.layer)
        if m and m["base"] == "conv1d":
            convs.setdefault(op.layer, []).append(op)
    order = sorted(convs, key=lambda n: int(KERAS_NAME.match(n)["n"] or 0))
    expected = arch_convs(arch)
    if len(order) != len(expected):
        return {}
    for layer, (_, shape) in zip(order, expected):
        if not any(s == shape for op in convs[layer] for s in op.weight_shapes):
            return {}
    return {layer: name for layer, (name, _) in zip(order, expected)}


def _other_name(op: Op, arch: Any) -> str | None:
    """``lstm``, ``shortcut`` or ``head`` for the operators of those parts (by opcode and weight shape)."""
    base = (KERAS_NAME.match(op.layer) or {"base": ""})["base"] if not op.layer.startswith("op") else ""
    if op.opcode in LSTM_OPS or base in ("bidirectional", "lstm"):
        return "lstm"
    if op.opcode == "FULLY_CONNECTED":
        shapes = {s for s in op.weight_shapes if len(s) == 2}
        if (arch.shortcut_out, arch.cnn_features) in shapes:
            return "shortcut"
        if (arch.n_classes, arch.shortcut_out) in shapes:
            return "head"
    return None


def map_to_arch(ops: list[Op], arch: Any) -> bool:
    """Rename operators to the architecture's module names where they can be matched; True when the convs matched."""
    convs = _conv_names(ops, arch)
    for op in ops:
        op.layer = convs.get(op.layer) or _other_name(op, arch) or op.layer
    return bool(convs)


def layer_costs(arch: Any) -> dict[str, dict[str, int]]:
    """``{module: {"macs": per epoch, "params": n}}`` of every conv, ``lstm``, ``shortcut`` and ``head``.

    The convs are counted as :mod:`sleepedge.models.complexity` counts them (conv + batch norm); the other
    parts are its ``macs_breakdown`` / ``param_breakdown`` entries, so the sums equal the model's totals (tested).
    """
    from sleepedge.models import macs_breakdown, param_breakdown

    out: dict[str, dict[str, int]] = {}
    for name in ("small", "large"):
        b = getattr(arch, name)
        for (module, (c, _, k, c_in)), length in zip([x for x in arch_convs(arch) if x[0].startswith(name)],
                                                     b.lengths(arch.epoch_samples)):
            out[module] = {"macs": c * c_in * k * length, "params": c * c_in * k + 2 * c}
    macs, params = macs_breakdown(arch), param_breakdown(arch)
    for part in ("lstm", "shortcut", "head"):
        out[part] = {"macs": macs[part], "params": params[part]}
    return out


def _arch(row: dict[str, Any] | None) -> Any:
    from sleepedge.models import DeepSleepNetArch

    try:
        return DeepSleepNetArch.from_dict(row["arch"]) if row and isinstance(row.get("arch"), dict) else None
    except (KeyError, TypeError, ValueError):
        return None  # an arch this sleepedge cannot read: no per-layer MACs, named in the notes


def attribute(path: Path | None, row: dict[str, Any] | None, arena: bool = True) -> dict[str, Any]:
    """The attribution of one model: ``layers`` (``{name: {weight_bytes, output_bytes, macs, params}}``),
    ``arena`` (TFLite Micro totals by class, or None) and ``notes`` (what could not be attributed and why)."""
    layers: dict[str, dict[str, int]] = {}
    notes: list[str] = []
    arch = _arch(row)
    if row is not None and arch is None:
        notes.append("the export row carries no architecture: no MACs or parameters per layer")
    if path is not None and path.suffix == ".tflite":
        ops = read_ops(path)
        constants = _constants(path, ops)
        if arch is not None and not map_to_arch(ops, arch):
            notes.append(f"{path.name}: its convs do not match the architecture one to one; Keras/op names kept")
        for layer, nbytes in _weights(constants).items():
            layers.setdefault(layer, {})["weight_bytes"] = nbytes
        for op in ops:
            entry = layers.setdefault(op.layer, {})
            entry["output_bytes"] = entry.get("output_bytes", 0) + op.output_bytes
    for layer, cost in (layer_costs(arch) if arch is not None else {}).items():
        layers.setdefault(layer, {}).update(cost)
    res = arena_classes(path) if arena and path is not None and path.suffix == ".tflite" else None
    if res is not None and res.get("error"):
        notes.append(f"TFLite Micro arena by class: {res['error']}")
        res = None
    return {"file": path.name if path else None, "layers": layers, "arena": res, "notes": notes}
