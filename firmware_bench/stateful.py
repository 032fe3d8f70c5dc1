"""The stateful pair at run time: a per-epoch feature model and a one-step causal head carrying its LSTM state.

numpy + a runtime only (the bench, ``sleepedge predict --mode online`` and the export's checks share it).
What a firmware loop does, one epoch every 30 s (docs/streaming.md, "Stateful streaming"):

1. fill the feature model's input with the epoch's samples, invoke it: the epoch's CNN features;
2. feed the features and the state ``h``, ``c`` to the step model, invoke it: logits, ``h_out``, ``c_out``;
3. copy ``h_out``/``c_out`` into ``h``/``c`` for the next epoch; zero them at a recording's start and at
   every gap (:mod:`sleepedge.models.stateful`, whose :func:`~sleepedge.models.stateful.run_stateful` every
   runtime here uses, so the reset and look-ahead rules are written once).

Which tensor of the step file plays which role (``step_io``: ``{"inputs": {"features": i, "h": j, "c": k},
"outputs": {"logits": a, "h_out": b, "c_out": c}}``, positions in the file's input and output lists) is read from the file's provenance metadata entry
``"stateful"`` (written by the export), or for ONNX from the tensor names ``features, h, c`` /
``logits, h_out, c_out``. Integer tensors are quantised and dequantised with their own scales, so the
state is carried as float between calls: the same as requantising ``h_out`` to ``h``'s scale and ``c_out`` to
``c``'s on a board (a plain copy where the two scales are equal: the export's ``step_tensors`` say whether they
are; ``h``'s usually are, ``c``'s need not be).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.firmware_bench.runner import Runner
from sleepedge.firmware_bench.runtimes import (
    ONNXRUNTIME, TFLITE_RUNTIMES, TORCH, _tflite_module, dequantize, load_runner, quantize, resolve_tflite,
)
from sleepedge.models.stateful import run_stateful, zero_state

PARTS = ("features", "step")
STATEFUL_PREFIX = "stateful_"
STEP_INPUTS = ("features", "h", "c")  # the names models.causal.STEP_INPUTS gives the ONNX step (numpy-only copy)
STEP_OUTPUTS = ("logits", "h_out", "c_out")


@dataclass
class StepRunner:
    """A loaded one-step head: ``call(f, h, c) -> (logits (1, C), h, c)`` float in and out.

    ``prepare``/``invoke`` split ``call`` for timing (quantisation outside the timed call, as on a board).
    """

    call: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
    layers: int
    hidden: int
    prepare: Callable[..., Any]
    invoke: Callable[[Any], Any]
    info: dict[str, Any] = field(default_factory=dict)


def stateful_entry(path: str | Path) -> dict[str, Any] | None:
    """The ``"stateful"`` entry of a model file's provenance, or None (no provenance, or not a stateful file)."""
    from sleepedge.firmware_bench.provenance import read_provenance

    doc = read_provenance(path)
    entry = (doc or {}).get("stateful")
    return entry if isinstance(entry, dict) else None


def is_stateful_file(path: str | Path) -> bool:
    """Whether ``path`` is part of a stateful pair: its provenance says so, or (ONNX) its inputs are ``features, h, c``."""
    path = Path(path)
    if stateful_entry(path) is not None:
        return True
    if path.suffix != ".onnx":
        return False
    import onnxruntime as ort

    try:
        names = [i.name for i in ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()]
    except Exception:  # noqa: BLE001  (a damaged file: the loader names the problem later)
        return False
    return sorted(names) == sorted(STEP_INPUTS)


def input_count(path: str | Path) -> int:
    """Number of input tensors of an ``.onnx`` or ``.tflite`` file (1 for a feature model, 3 for a step model)."""
    path = Path(path)
    if path.suffix == ".onnx":
        import onnxruntime as ort

        return len(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs())
    interp = _tflite_module(resolve_tflite("tflite") or "ai-edge-litert").Interpreter(model_path=str(path))
    return len(interp.get_input_details())


def _role_indices(details: list[dict[str, Any]], roles: tuple[str, ...], io: dict[str, int] | None,
                  path: Path) -> list[int]:
    """Positions in ``details`` (each with a ``name``; the runtime's input or output order) of each role: the
    ``step_io`` position the export verified, else by name (``serving_default_h:0`` reads as ``h``)."""
    out = []
    for role in roles:
        want = (io or {}).get(role)
        pos = int(want) if isinstance(want, int) and 0 <= want < len(details) else None
        if pos is None:
            bare = [d["name"].split(":")[0].removeprefix("serving_default_") for d in details]
            pos = next((k for k, n in enumerate(bare) if n == role), None)
        if pos is None:
            raise DataError(f"{path}: no tensor for {role!r} (step_io {io or 'absent'}; tensors "
                            f"{', '.join(d['name'] for d in details)})")
        out.append(pos)
    return out


def _state_shape(shape: list[Any], path: Path) -> tuple[int, int]:
    if len(shape) != 3 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in shape[1:]):
        raise DataError(f"{path}: state input of shape {shape}, expected (1, layers, hidden)")
    return int(shape[1]), int(shape[2])


def load_onnx_step(path: Path, threads: int, io: dict[str, Any] | None) -> StepRunner:
    """The step model in onnxruntime (fp32 I/O)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    ins = [{"name": i.name, "shape": list(i.shape)} for i in sess.get_inputs()]
    outs = [o.name for o in sess.get_outputs()]
    pos_in = _role_indices(ins, STEP_INPUTS, (io or {}).get("inputs"), path)
    pos_out = _role_indices([{"name": n} for n in outs], STEP_OUTPUTS, (io or {}).get("outputs"), path)
    names_in, names_out = [ins[k]["name"] for k in pos_in], [outs[k] for k in pos_out]
    layers, hidden = _state_shape(ins[pos_in[1]]["shape"], path)

    def prepare(f: np.ndarray, h: np.ndarray, c: np.ndarray) -> dict[str, np.ndarray]:
        return {n: np.ascontiguousarray(a, dtype=np.float32) for n, a in zip(names_in, (f, h, c))}

    def invoke(feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        return sess.run(names_out, feed)

    def call(f, h, c):
        return tuple(np.asarray(v, np.float32) for v in invoke(prepare(f, h, c)))

    info = {"version": ort.__version__, "state_dtype": "float32", "inputs": names_in, "outputs": names_out}
    return StepRunner(call, layers, hidden, prepare, invoke, info)


def load_tflite_step(path: Path, threads: int, xnnpack: bool, runtime: str, io: dict[str, Any] | None) -> StepRunner:
    """The step model in a TFLite interpreter; integer tensors (int8 features, int8/int16 state) quantised
    and dequantised with their own scales."""
    mod = _tflite_module(runtime)
    resolver = mod.OpResolverType.AUTO if xnnpack else mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = mod.Interpreter(model_path=str(path), num_threads=threads, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    ins, outs = interp.get_input_details(), interp.get_output_details()
    d_in = [ins[k] for k in _role_indices(ins, STEP_INPUTS, (io or {}).get("inputs"), path)]
    d_out = [outs[k] for k in _role_indices(outs, STEP_OUTPUTS, (io or {}).get("outputs"), path)]
    layers, hidden = _state_shape([int(v) for v in d_in[1]["shape"]], path)

    def prepare(f: np.ndarray, h: np.ndarray, c: np.ndarray) -> list[np.ndarray]:
        return [quantize(np.asarray(a, np.float32).reshape(d["shape"]), d["dtype"], *d["quantization"])
                for a, d in zip((f, h, c), d_in)]

    def invoke(qs: list[np.ndarray]) -> list[np.ndarray]:
        for q, d in zip(qs, d_in):
            interp.set_tensor(d["index"], q)
        interp.invoke()
        return [interp.get_tensor(d["index"]) for d in d_out]

    def call(f, h, c):
        raw = invoke(prepare(f, h, c))
        return tuple(dequantize(r, *d["quantization"]) for r, d in zip(raw, d_out))

    info = {"version": None, "state_dtype": np.dtype(d_in[2]["dtype"]).name,
            "state_scales": [float(d["quantization"][0]) for d in d_in[1:]]}
    return StepRunner(call, layers, hidden, prepare, invoke, info)


class StatefulRunner:
    """Both parts of a stateful pair, loaded in one runtime (see the module docstring).

    ``epoch(x)`` runs one epoch ``(S,)`` through both parts with the state carried and returns that step's
    logits ``(C,)`` (the decision for the epoch ``lookahead`` epochs back); ``reset()`` zeroes the state;
    ``night(epochs, starts)`` gives every epoch's decision through :func:`run_stateful`. ``run(window)``
    streams a window ``(1, T, 1, S)`` from a reset like one short night (the bench's first inference);
    ``timed_call(window, part)`` the call the timing harness measures for one part (``features`` or ``step``).
    """

    def __init__(self, features: Runner, step: StepRunner, lookahead: int, info: dict[str, Any] | None = None) -> None:
        f_in = features.info.get("input_shape") or []
        if len(f_in) != 4 or f_in[1] != 1:
            raise ValueError(f"not a stateful pair: feature input {f_in} (expected (1, 1, 1, S))")
        self.features, self.step, self.lookahead = features, step, int(lookahead)
        self.layers, self.hidden, self.epoch_samples = step.layers, step.hidden, int(f_in[3])
        self.info: dict[str, Any] = {**features.info, **(info or {}), "step": step.info, "lookahead": self.lookahead,
                                     "state_layers": self.layers, "state_hidden": self.hidden, "seq_len": 1}
        self.reset()

    def reset(self) -> None:
        """Zero the state (the start of a recording or of a segment after a gap)."""
        self.h, self.c = zero_state(self.layers, self.hidden)

    def epoch_features(self, epochs: np.ndarray) -> np.ndarray:
        """Float32 features ``(n, F)`` of epochs ``(n, S)`` (one feature call each)."""
        x = np.ascontiguousarray(epochs, dtype=np.float32).reshape(len(epochs), 1, 1, 1, -1)
        return np.stack([self.features.run(e).reshape(-1) for e in x]).astype(np.float32)

    def epoch(self, x: np.ndarray) -> np.ndarray:
        """One feature call and one step call on epoch ``x`` ``(S,)``, the state carried: this step's logits ``(C,)``."""
        f = self.epoch_features(np.asarray(x).reshape(1, -1))
        logits, self.h, self.c = self.step.call(f, self.h, self.c)
        return np.asarray(logits, np.float32).reshape(-1)

    def night(self, epochs: np.ndarray, starts=(0,)) -> np.ndarray:
        """Decisions ``(n, C)`` of a recording's epochs ``(n, S)``, state reset at each of ``starts``."""
        feats = self.epoch_features(epochs)
        return run_stateful(self.step.call, feats, self.layers, self.hidden, self.lookahead, starts)

    def run(self, window: np.ndarray) -> np.ndarray:
        return self.night(window.reshape(window.shape[1], -1))[None]

    def predict_nights(self, xs: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
        """Logits ``(N, T, C)`` of sequences ``(N, T, 1, S)``, each run of consecutive sequences of one night
        (equal ``groups``) streamed as one recording; without ``groups`` each sequence alone."""
        n, t = xs.shape[:2]
        groups = np.arange(n) if groups is None else np.asarray(groups)
        out = np.empty((n, t, 0), np.float32)
        parts, s = [], 0
        for e in range(1, n + 1):
            if e == n or groups[e] != groups[s]:
                night = np.ascontiguousarray(xs[s:e], dtype=np.float32).reshape((e - s) * t, -1)
                parts.append(self.night(night).reshape(e - s, t, -1))
                s = e
        return np.concatenate(parts) if parts else out

    def timed_call(self, window: np.ndarray, part: str | None = None) -> Callable[[], Any]:
        """Zero-argument call of one part (``features``: the window's first epoch; ``step``: its features, zero state)."""
        if part == "features":
            return self.features.timed_call(np.ascontiguousarray(window[:, :1], dtype=np.float32))
        if part == "step":
            f = self.epoch_features(window.reshape(window.shape[1], -1)[:1])
            prepared, invoke = self.step.prepare(f, *zero_state(self.layers, self.hidden)), self.step.invoke
            return lambda: invoke(prepared)
        raise ValueError(f"a stateful pair is timed per part ({', '.join(PARTS)}), got {part!r}")


def _lookahead(entry: dict[str, Any] | None, lookahead: int | None, path: Path) -> int:
    value = lookahead if lookahead is not None else (entry or {}).get("lookahead")
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
        raise DataError(f"{path}: the stateful head's look-ahead is not recorded in its provenance ('stateful' entry); "
                        "re-export it with this sleepedge")
    return int(value)


def load_stateful(runtime: str, features_path: str | Path, step_path: str | Path, threads: int = 1,
                  xnnpack: bool | None = False, lookahead: int | None = None) -> StatefulRunner:
    """Load a stateful pair (two exported files) in one runtime; ``runtime`` ``torch``: ``features_path`` is a
    causal checkpoint and ``step_path`` is ignored (the PyTorch reference, :func:`load_torch_stateful`)."""
    if runtime == TORCH:
        return load_torch_stateful(Path(features_path), threads)
    step_path = Path(step_path)
    entry = stateful_entry(step_path)
    io = (entry or {}).get("step_io")
    features = load_runner(runtime, features_path, threads, xnnpack)
    if runtime == ONNXRUNTIME:
        step = load_onnx_step(step_path, threads, io)
    elif runtime in TFLITE_RUNTIMES:
        step = load_tflite_step(step_path, threads, bool(xnnpack), runtime, io)
        step.info["version"] = features.info.get("version")
    else:
        raise ValueError(f"unknown runtime {runtime!r} for a stateful pair")
    return StatefulRunner(features, step, _lookahead(entry, lookahead, step_path), {"stateful": entry})


def load_torch_stateful(checkpoint: Path, threads: int) -> StatefulRunner:
    """The PyTorch reference of a causal checkpoint as a stateful pair (CNN features, :class:`CausalStep`).

    Only ever called inside a bench worker subprocess (the bench process never imports torch).
    """
    import torch

    from sleepedge.models import load_checkpoint
    from sleepedge.models.causal import night_features, step_function

    torch.set_num_threads(threads)
    model, _payload = load_checkpoint(checkpoint)
    model = model.to("cpu").eval()
    a = model.arch
    features = Runner(lambda x: night_features(model, np.asarray(x).reshape(1, -1)),
                      {"input_shape": [1, 1, 1, a.epoch_samples], "input_dtype": "float32", "version": torch.__version__})
    call = step_function(model)
    step = StepRunner(call, a.lstm_layers, a.lstm_hidden, lambda f, h, c: (f, h, c), lambda p: call(*p),
                      {"version": torch.__version__, "state_dtype": "float32"})
    return StatefulRunner(features, step, a.lookahead)
