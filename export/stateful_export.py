"""Stateful export of a causal model: a per-epoch feature model and a one-step head, the LSTM state as tensors.

Each ``stateful_*`` format writes ``causal/<format>/features<suffix>`` (one 30-s epoch ``(1, 1, 1, S)`` -> CNN
features ``(1, F)``, :class:`sleepedge.models.streaming.EpochFeatures`) and ``causal/<format>/step<suffix>``
(:class:`sleepedge.models.causal.CausalStep`: ``features (1, F), h (1, layers, H), c (1, layers, H)`` ->
``logits (1, C), h_out, c_out``). A device calls each once per epoch and carries the state itself, with the
reset and look-ahead rules of :mod:`sleepedge.models.stateful` (docs/streaming.md).

The row checks the pair as a device runs it: the test sequences are put back together into whole nights (by
their ``record``, in order; each night starts from a zero state), every epoch goes through one feature call
and one step call in the file's own runtime with the state carried (:func:`~sleepedge.models.stateful.run_stateful`),
and the decisions are compared with the PyTorch causal model over the same nights
(:func:`~sleepedge.models.causal.night_logits`). The state the runtime carries is compared with PyTorch's
after every step: ``state_max_abs_error`` over the nights, and the mean per-epoch error over each night's first
and last hour (drift). ``step_io`` (the position of each named input and output in the file, what
``interpreter.input(i)`` / ``set_input(x, i)`` take) is read from the file's signature and verified by that
check: a wrong mapping cannot give PyTorch's decisions.

State quantisation of the integer step: int16 (a 16x8 step: int16 activations, hence int16 ``h`` and ``c``, and
int8 weights), the feature model full int8. Chosen by measurement against a full-int8 step with
``sleepedge lab state_quant`` (docs/streaming.md, "State quantisation"; its output on the demo run in
docs/generated/state_quant.md): the cell state ``c`` of a causal LSTM run over a whole night ranges far wider than
``h``, so one int8 scale leaves it too coarse; int16 costs a few bytes of arena, file and state. The step's state
is calibrated to the range the head reached over its training nights (:func:`stateful_calibration`).
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sleepedge.config.formats import ExportFormat
from sleepedge.export.carray import write_pair_c_arrays
from sleepedge.export.keras_convert import run_keras
from sleepedge.export.oplist import check_ops, list_ops
from sleepedge.export.provenance import stamp_provenance
from sleepedge.export.rows import fail, finish_row
from sleepedge.export.tflm import measure_pair_arenas
from sleepedge.export.validate import dequantize, quantize
from sleepedge.run.manifest import atomic_copy, atomic_write_bytes

log = logging.getLogger(__name__)

PARTS = ("features", "step")
STEP_INPUTS, STEP_OUTPUTS = ("features", "h", "c"), ("logits", "h_out", "c_out")  # sleepedge.models.causal's names
EPOCH_S = 30
# The integer step is 16x8: int16 activations, so int16 h and c, with int8 weights (module docstring).
STEP_QUANT = "full_integer_quant_with_int16_act"
HOUR_EPOCHS = 3600 // EPOCH_S


# --- nights and calibration ------------------------------------------------------------------------------------

def test_nights(x: np.ndarray, y: np.ndarray, records: np.ndarray | None, subjects: np.ndarray | None) -> list[dict]:
    """Whole nights from test sequences ``(N, T, 1, S)``: consecutive sequences of one ``record`` joined in order.

    Without records every sequence is a night of its own. Each night: ``record``, ``x`` (n, 1, S), ``y`` (n,),
    ``subject`` (or None) and ``starts`` ([0]: the state is zero at the start of the night).
    """
    keys = [str(r) for r in records] if records is not None else [str(i) for i in range(len(x))]
    nights: list[dict] = []
    for i, key in enumerate(keys):
        if not nights or nights[-1]["record"] != key:
            nights.append({"record": key, "idx": [], "subject": None if subjects is None else int(subjects[i])})
        nights[-1]["idx"].append(i)
    for n in nights:
        idx = n.pop("idx")
        n.update(x=x[idx].reshape(-1, 1, x.shape[-1]), y=np.asarray(y[idx]).reshape(-1), starts=np.array([0]))
    return nights


def recording_step(step: Callable, inputs: list) -> Callable:
    """``step`` that appends every call's ``(features, h, c)`` to ``inputs`` (the step's calibration samples)."""
    def call(f, h, c):
        inputs.append((f.copy(), h.copy(), c.copy()))
        return step(f, h, c)

    return call


def stateful_calibration(model, calib_x: np.ndarray, span: dict[str, float] | None = None) -> dict[str, Any]:
    """Calibration inputs of both parts: the calibration epochs one by one, and the step's ``features``, ``h``
    and ``c`` recorded while PyTorch runs the causal model statefully over the calibration sequences joined into
    one stream (the state carried from one to the next, so it reaches the ranges of a long night, not only
    those of a few steps after a reset).

    ``span`` is the state range the head reached over its training nights (``state_range`` in the causal
    checkpoint's meta, :func:`sleepedge.compress.causal.state_range`): a few hundred calibration epochs do not
    reach it, and a state beyond its scale saturates (measured on the demo's head: max state error 210 over a
    test night). Two more samples, the state at ``+span`` and at ``-span`` with a recorded feature vector, set
    the scale of ``h`` and ``c`` (and of the cell update) to cover the training nights."""
    from sleepedge.models.causal import night_features, step_function
    from sleepedge.models.stateful import run_stateful

    epochs = calib_x.reshape(-1, 1, calib_x.shape[-1])
    feats = night_features(model, epochs)
    seen: list = []
    a = model.arch
    run_stateful(recording_step(step_function(model), seen), feats, a.lstm_layers, a.lstm_hidden, a.lookahead, [0])
    if span:
        f0 = seen[0][0]
        for sign in (1.0, -1.0):
            seen.append((f0, np.full_like(seen[0][1], sign * span["h"]), np.full_like(seen[0][2], sign * span["c"])))
    step = {name: np.concatenate([s[k] for s in seen]) for k, name in enumerate(STEP_INPUTS)}
    return {"features": epochs.reshape(-1, 1, 1, calib_x.shape[-1]), "step": step}


def torch_reference(model, nights: list[dict]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """PyTorch's decisions (:func:`night_logits`) and states after each step (:class:`CausalStep`) per night."""
    from sleepedge.models.causal import night_features, night_logits, step_function

    logits, states = [], []
    for n in nights:
        feats = night_features(model, n["x"])
        logits.append(night_logits(model, feats, n["starts"]))
        states.append(run_states(step_function(model), feats, n["starts"], model.arch))
    return logits, states


def run_states(step: Callable, feats: np.ndarray, starts, arch) -> np.ndarray:
    """The states ``(n, 2, layers, H)`` (h_out, c_out) after each step of ``step`` over a night, resets applied."""
    from sleepedge.models.stateful import run_stateful

    seen: list = []

    def record(f, h, c):
        out = step(f, h, c)
        seen.append(np.stack([np.reshape(out[1], (arch.lstm_layers, -1)), np.reshape(out[2], (arch.lstm_layers, -1))]))
        return out

    run_stateful(record, feats, arch.lstm_layers, arch.lstm_hidden, arch.lookahead, starts)
    return np.stack(seen).astype(np.float32)


def state_drift(states: list[np.ndarray], ref: list[np.ndarray]) -> dict[str, float | None]:
    """``state_max_abs_error`` over every step of every night, and the mean per-step max error over each
    night's first and last hour (nights of two hours or more; None without one), averaged over the nights."""
    err = [np.abs(s - r).reshape(len(s), -1).max(axis=1) for s, r in zip(states, ref)]
    long = [e for e in err if len(e) >= 2 * HOUR_EPOCHS]
    mean = lambda v: float(np.mean(v)) if v else None  # noqa: E731
    return {"state_max_abs_error": float(max(e.max() for e in err)) if err else None,
            "state_error_first_hour": mean([float(e[:HOUR_EPOCHS].mean()) for e in long]),
            "state_error_last_hour": mean([float(e[-HOUR_EPOCHS:].mean()) for e in long])}


# --- files: ONNX, Keras, step_io -------------------------------------------------------------------------------

def export_step_onnx(model, path: Path, opset: int, overwrite: bool) -> Path:
    """:class:`CausalStep` as ONNX with inputs ``features, h, c`` and outputs ``logits, h_out, c_out``."""
    import io
    import warnings

    import onnx
    import torch

    from sleepedge.models.causal import CausalStep

    a = model.arch
    dummy = (torch.zeros(1, a.cnn_features), torch.zeros(1, a.lstm_layers, a.lstm_hidden),
             torch.zeros(1, a.lstm_layers, a.lstm_hidden))
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript tracer's warnings, harmless for a fixed shape
        torch.onnx.export(CausalStep(model.eval()).eval(), dummy, buf, dynamo=False, opset_version=opset,
                          do_constant_folding=True, input_names=list(STEP_INPUTS), output_names=list(STEP_OUTPUTS))
    onnx.checker.check_model(onnx.load_from_string(buf.getvalue()))
    return atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


def export_pair_onnx(model, out: Path, opset: int, overwrite: bool) -> dict[str, Path]:
    """``out/features.onnx`` (:class:`EpochFeatures`) and ``out/step.onnx``."""
    from sleepedge.export.onnx_export import export_onnx
    from sleepedge.models.streaming import EpochFeatures

    feats = export_onnx(EpochFeatures(model.eval()).eval(), out / "features.onnx", 1, opset, overwrite=overwrite,
                        input_shape=(1, 1, 1, model.arch.epoch_samples), output_name="features")
    return {"features": feats, "step": export_step_onnx(model, out / "step.onnx", opset, overwrite)}


def onnx_step_io(path: Path) -> dict[str, dict[str, int]]:
    """Positions of the step's named inputs and outputs in an ONNX file (onnxruntime's order)."""
    import onnx

    g = onnx.load(str(path)).graph
    return {"inputs": {i.name: k for k, i in enumerate(g.input) if i.name in STEP_INPUTS},
            "outputs": {o.name: k for k, o in enumerate(g.output) if o.name in STEP_OUTPUTS}}


def tflite_step_io(path: Path) -> dict[str, dict[str, int]]:
    """Positions of the step's named inputs and outputs in a .tflite file, from its signature (``serving_default``:
    name -> tensor index) mapped onto the subgraph's input and output lists. The converter orders the inputs by
    name (``c, features, h``), not as the Keras model lists them, so the order is read, never assumed."""
    from sleepedge.firmware_bench.tflite_file import read_model

    m = read_model(path)
    sig, sg = m.SignatureDefs(0), m.Subgraphs(0)
    ins = [int(sg.Inputs(k)) for k in range(sg.InputsLength())]
    outs = [int(sg.Outputs(k)) for k in range(sg.OutputsLength())]
    name = lambda t: t.Name().decode()  # noqa: E731
    return {"inputs": {name(t): ins.index(t.TensorIndex()) for t in (sig.Inputs(k) for k in range(sig.InputsLength()))},
            "outputs": {name(t): outs.index(t.TensorIndex()) for t in (sig.Outputs(k) for k in range(sig.OutputsLength()))}}


def check_step_io(io: dict) -> str | None:
    """None, or why ``io`` does not name every step input and output exactly once."""
    for kind, names in (("inputs", STEP_INPUTS), ("outputs", STEP_OUTPUTS)):
        got = io.get(kind) or {}
        if sorted(got) != sorted(names) or sorted(got.values()) != list(range(len(names))):
            return f"step file {kind} {got} are not {list(names)} at distinct positions"
    return None


def part_outputs(fmt: ExportFormat) -> dict[str, str]:
    """The converter output of each part: the format's for the feature model; for an integer step the 16x8 one
    (int16 state, :data:`STEP_QUANT`), for a float step the format's."""
    return {"features": fmt.onnx2tf_output, "step": STEP_QUANT if fmt.is_int8 else fmt.onnx2tf_output}


def convert_pair(model, fmt: ExportFormat, row: dict, calib: dict, model_dir: Path, work: Path, ecfg,
                 overwrite: bool) -> dict[str, Path] | None:
    """Both parts through the Keras converter, side by side (two child processes: on 2 cores that halves the wall
    time); the files copied into ``<model>/<format>/``, or None with the row failed."""
    outputs = part_outputs(fmt)

    def convert(part: str):
        return run_keras(model, part, 1, work / f"{fmt.name}_{part}", calib.get(part), [outputs[part]], ecfg.timeout_s,
                         name=f"keras_{fmt.name}_{part}", attempts=ecfg.int8_attempts)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(PARTS)) as pool:
        jobs = dict(zip(PARTS, pool.map(convert, PARTS)))
    row["convert_s"] = round(time.perf_counter() - t0, 3)
    row["convert_s_parts"] = {p: round(j.seconds, 3) for p, j in jobs.items()}
    attempts = {p: j.attempts[outputs[p]] for p, j in jobs.items() if outputs[p] in (j.attempts or {})}
    if attempts:
        row["quantize_attempts"], row["quantize_attempts_parts"] = max(attempts.values()), attempts
    bad = [f"{p}: {j.reason or 'no ' + outputs[p] + ' file'}" for p, j in jobs.items() if not j.ok or outputs[p] not in j.files]
    if bad:
        fail(row, f"keras conversion of the stateful pair failed ({'; '.join(bad)})")
        return None
    return {p: atomic_copy(j.files[outputs[p]], model_dir / fmt.name / f"{p}{fmt.suffix}", overwrite=overwrite)
            for p, j in jobs.items()}


# --- running the pair ------------------------------------------------------------------------------------------

def onnx_pair(files: dict[str, Path], io: dict) -> tuple[Callable, Callable]:
    """``(features(epoch (1, 1, 1, S)) -> (1, F), step(f, h, c) -> (logits, h, c))`` in onnxruntime, one thread."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    fs, ss = (ort.InferenceSession(str(files[p]), opts, providers=["CPUExecutionProvider"]) for p in PARTS)
    f_in = fs.get_inputs()[0].name
    names = [o.name for o in ss.get_outputs()]
    out_pos = [io["outputs"][n] for n in STEP_OUTPUTS]

    def step(f, h, c):
        res = ss.run(names, dict(zip(STEP_INPUTS, (f, h, c))))
        return tuple(res[k] for k in out_pos)

    return (lambda e: fs.run(None, {f_in: e})[0]), step


def tflite_pair(files: dict[str, Path], io: dict) -> tuple[Callable, Callable]:
    """The same in the TFLite interpreter: integer tensors (de)quantised with their own parameters."""
    from sleepedge.export.validate import _interpreter_class

    fm = _interpreter_class()(model_path=str(files["features"]), num_threads=1)
    fm.allocate_tensors()
    fin, fout = fm.get_input_details()[0], fm.get_output_details()[0]

    def features(e):
        fm.set_tensor(fin["index"], to_tensor(e, fin))
        fm.invoke()
        return to_float(fm.get_tensor(fout["index"]), fout)

    return features, tflite_step(files["step"], io)


def tflite_step(path: Path, io: dict) -> Callable:
    """``step(f, h, c) -> (logits, h_out, c_out)`` (float) of a step file in the TFLite interpreter, its tensors
    found by ``io``'s positions; the state leaves as ``h_out`` and is requantised to ``h``'s scale on the next call."""
    from sleepedge.export.validate import _interpreter_class

    sm = _interpreter_class()(model_path=str(path), num_threads=1)
    sm.allocate_tensors()
    sin = {n: sm.get_input_details()[io["inputs"][n]] for n in STEP_INPUTS}
    sout = {n: sm.get_output_details()[io["outputs"][n]] for n in STEP_OUTPUTS}

    def step(f, h, c):
        for n, x in zip(STEP_INPUTS, (f, h, c)):
            sm.set_tensor(sin[n]["index"], to_tensor(x, sin[n]))
        sm.invoke()
        return tuple(to_float(sm.get_tensor(sout[n]["index"]), sout[n]) for n in STEP_OUTPUTS)

    return step


def to_tensor(x: np.ndarray, d: dict) -> np.ndarray:
    """``x`` in the dtype of the tensor ``d`` (interpreter details), quantised with its scale and zero point."""
    dt = np.dtype(d["dtype"])
    x = np.asarray(x, np.float32).reshape(d["shape"])
    return quantize(x, d["quantization"][0], d["quantization"][1], dt.type) if dt.kind == "i" else x.astype(dt)


def to_float(q: np.ndarray, d: dict) -> np.ndarray:
    return dequantize(q, *d["quantization"]) if np.dtype(d["dtype"]).kind == "i" else q.astype(np.float32)


def run_pair(features: Callable, step: Callable, nights: list[dict], arch) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Decisions and states of the pair over every night: one feature call and one step call per epoch."""
    from sleepedge.models.stateful import run_stateful

    logits, states = [], []
    for n in nights:
        feats = np.concatenate([features(np.ascontiguousarray(e[None, None], np.float32)) for e in n["x"]])
        seen: list = []

        def record(f, h, c):
            out = step(f, h, c)
            seen.append(np.stack([np.reshape(out[1], (arch.lstm_layers, -1)), np.reshape(out[2], (arch.lstm_layers, -1))]))
            return out

        logits.append(run_stateful(record, feats, arch.lstm_layers, arch.lstm_hidden, arch.lookahead, n["starts"]))
        states.append(np.stack(seen))
    return logits, states


# --- the rows --------------------------------------------------------------------------------------------------

def state_layout(model) -> dict[str, Any]:
    """Row fields the format fixes before a file exists: look-ahead, lag and the state's shape."""
    a = model.arch
    return {"kind": "stateful", "lookahead": a.lookahead, "lag_s": EPOCH_S * a.lookahead, "state_layers": a.lstm_layers,
            "state_hidden": a.lstm_hidden, "n_features": a.cnn_features}


def export_stateful(model, fmts: list[ExportFormat], rows: dict[str, dict], model_dir: Path, work: Path, root: Path,
                    calib_x: np.ndarray, nights: list[dict], ecfg, overwrite: bool) -> dict[str, dict]:
    """Export and check every stateful format of ``fmts`` for the causal ``model``; returns their rows."""
    onnx_dir = model_dir / "stateful_onnx_fp32" if any(f.name == "stateful_onnx_fp32" for f in fmts) else work / "stateful_onnx"
    for f in fmts:
        rows[f.name].update(state_layout(model))
    t0 = time.perf_counter()
    try:
        onnx = export_pair_onnx(model, onnx_dir, ecfg.opset, overwrite)
    except Exception as exc:  # exporter failure: every stateful row fails with the reason
        return {f.name: fail(rows[f.name], f"ONNX export of the stateful pair failed: {type(exc).__name__}: {exc}")
                for f in fmts}
    onnx_s = time.perf_counter() - t0
    span = rows[fmts[0].name].get("state_range_train")
    calib = stateful_calibration(model, calib_x, span) if any(f.is_int8 for f in fmts) else {}
    ref = torch_reference(model, nights)
    for fmt in fmts:
        row = rows[fmt.name]
        if fmt.converter == "torch.onnx":
            row["convert_s"], files = round(onnx_s, 3), onnx
        else:
            files = convert_pair(model, fmt, row, calib, model_dir, work, ecfg, overwrite)
            if files is None:
                continue
        check_pair(row, fmt, files, root, nights, ref, model.arch, ecfg)
        if fmt.is_int8 and row["status"] == "ok":
            microcontroller_view(row, files, nights, ecfg, overwrite)
            if ecfg.tflm:
                tflm_night(row, files, nights, ref[0], model.arch, ecfg)
    return {f.name: rows[f.name] for f in fmts}


def describe_files(row: dict, fmt: ExportFormat, files: dict[str, Path], root: Path) -> str | None:
    """``step_io``, the state's dtype and bytes, the epoch's bytes, sizes and (TFLite) operators; then the
    provenance stamped into both files. None, or the reason the row fails."""
    io = onnx_step_io(files["step"]) if fmt.runtime == "onnxruntime" else tflite_step_io(files["step"])
    bad = check_step_io(io)
    if bad:
        return bad
    row["step_io"] = io
    dtype = "float32"
    if fmt.runtime == "tflite":
        describe_tflite(row, files, io)
        dtype = row["step_tensors"]["h"]["dtype"]
    size = np.dtype(dtype).itemsize
    row.update(state_dtype=dtype, state_bytes=2 * row["state_layers"] * row["state_hidden"] * size,
               epoch_bytes=int(row["arch"]["epoch_samples"]) * np.dtype(row["input_dtype"]).itemsize)
    reason = stamp_provenance(row, files)  # into both files before anything is measured: figures of the final bytes
    if reason:
        return reason
    sizes = {p: f.stat().st_size for p, f in files.items()}
    row.update(file=None, files={p: f.relative_to(root).as_posix() for p, f in files.items()},
               file_bytes=sum(sizes.values()), **{f"file_bytes_{p}": n for p, n in sizes.items()})
    return None


def describe_tflite(row: dict, files: dict[str, Path], io: dict) -> None:
    """Operators of both parts, the feature model's input quantisation and every step tensor's."""
    from collections import Counter

    from sleepedge.export.validate import _interpreter_class, tflite_io

    verdicts = {p: check_ops(list_ops(f), True) for p, f in files.items()}
    for key in ("flex_ops", "float_ops", "custom_ops", "op_counts"):
        row[key] = dict(sum((Counter(v[key]) for v in verdicts.values()), Counter()))
    row["n_ops"] = sum(v["n_ops"] for v in verdicts.values())
    row.update({f"n_ops_{p}": v["n_ops"] for p, v in verdicts.items()})
    row.update(tflite_io(files["features"]))
    it = _interpreter_class()(model_path=str(files["step"]))
    det = {**{n: it.get_input_details()[k] for n, k in io["inputs"].items()},
           **{n: it.get_output_details()[k] for n, k in io["outputs"].items()}}
    row["step_tensors"] = {n: {"dtype": np.dtype(d["dtype"]).name, "shape": [int(v) for v in d["shape"]],
                               "scale": float(d["quantization"][0]), "zero_point": int(d["quantization"][1])}
                           for n, d in det.items()}


def check_pair(row: dict, fmt: ExportFormat, files: dict[str, Path], root: Path, nights: list[dict], ref: tuple,
               arch, ecfg) -> dict:
    """The pair over every test night in its own runtime against PyTorch: decisions, scores, state error."""
    try:
        reason = describe_files(row, fmt, files, root)
    except Exception as exc:  # a file the readers cannot parse is a failed row, not a dead export
        reason = f"could not read the stateful pair: {type(exc).__name__}: {exc}"
    if reason:
        return fail(row, reason)
    if row.get("flex_ops"):
        return fail(row, f"Flex (SELECT_TF) ops present: {row['flex_ops']}")
    tol = ecfg.parity_tol if fmt.runtime == "onnxruntime" else None
    row["parity_tol"] = tol
    try:
        pair = (onnx_pair if fmt.runtime == "onnxruntime" else tflite_pair)(files, row["step_io"])
        logits, states = run_pair(*pair, nights, arch)
    except Exception as exc:  # a pair its runtime cannot run is a failed row, not a dead export
        return fail(row, f"{fmt.runtime} could not run the stateful pair: {type(exc).__name__}: {exc}")
    row["test_nights"], row["test_epochs"] = len(nights), int(sum(len(n["y"]) for n in nights))
    row.update(state_drift(states, ref[1]))
    subjects = None if any(n["subject"] is None for n in nights) else np.concatenate(
        [np.full(len(n["y"]), n["subject"]) for n in nights])
    return finish_row(row, np.concatenate(logits), np.concatenate([n["y"] for n in nights]), np.concatenate(ref[0]),
                      tol, subjects)


def tflm_inputs_zero(step_path: Path) -> list[np.ndarray]:
    """The step's inputs at zero features and a zero state, each in its own dtype, in the file's input order (for
    the arena measurement: the arena does not depend on the values)."""
    from sleepedge.export.validate import _interpreter_class

    details = _interpreter_class()(model_path=str(step_path)).get_input_details()
    return [to_tensor(np.zeros(d["shape"], np.float32), d) for d in details]


def tflm_inputs(row: dict, files: dict[str, Path], nights: list[dict]) -> dict[str, Any]:
    """One input of each part for the arena measurement: the first test epoch, and the step at a zero state."""
    epoch = np.asarray(nights[0]["x"][:1], np.float32).reshape(row["input_shape"])
    return {"features": quantize(epoch, row["input_scale"], row["input_zero_point"]),
            "step": tflm_inputs_zero(files["step"])}


def tflm_night(row: dict, files: dict[str, Path], nights: list[dict], ref_logits: list[np.ndarray], arch, ecfg) -> None:
    """The longest test night through the pair under TFLite Micro, one call of each part per epoch with the state
    carried: ``tflm_night_epochs`` and ``tflm_night_agreement_torch`` (stages equal to PyTorch's), or the reason
    in ``tflm_night_reason``. TFLite Micro's int16 kernels are not bit-equal to LiteRT's (the row's own check)."""
    from sleepedge.export.tflm import run_stateful_tflm

    i = int(np.argmax([len(n["y"]) for n in nights]))
    try:
        out = run_stateful_tflm(files["features"], files["step"], nights[i]["x"], nights[i]["starts"], row["step_io"],
                                arch.lstm_layers, arch.lstm_hidden, arch.lookahead, arena_size=ecfg.tflm_max_arena,
                                timeout_s=ecfg.timeout_s)
    except RuntimeError as exc:  # reported in the row, never hidden: the export's own checks stand
        row["tflm_night_reason"] = str(exc)
        return
    row["tflm_night_epochs"] = int(len(out["logits"]))
    row["tflm_night_agreement_torch"] = float((out["logits"].argmax(1) == ref_logits[i].argmax(1)).mean())


def microcontroller_view(row: dict, files: dict[str, Path], nights: list[dict], ecfg, overwrite: bool) -> None:
    """TFLite Micro arena of each part, the RAM of the firmware loop, board fit and a C array per part."""
    if ecfg.tflm:
        measure_pair_arenas(row, {p: files[p] for p in PARTS}, tflm_inputs(row, files, nights), ecfg,
                            "stateful_ram_bytes", row["state_bytes"] + row["epoch_bytes"])
    else:
        row["tflm_status"] = "skipped"
    if row["input_dtype"] == "int8" and ecfg.c_array:
        write_pair_c_arrays(row, files, overwrite)
