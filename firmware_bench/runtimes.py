"""Inference runtimes behind one small interface: ``runner(x) -> logits`` (numpy in, numpy out).

Runtime libraries are imported inside the loader that needs them, so importing this module costs
nothing and a worker process imports exactly one runtime. The PyTorch reference lives in
``torch_runtime`` and is imported only inside a worker subprocess.
"""
from __future__ import annotations

import importlib.util
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.config.formats import (  # noqa: F401  (re-exported: the runtime names)
    KNOWN_RUNTIMES, LITERT, ONNXRUNTIME, TFLITE_RUNTIME, TFLITE_RUNTIMES, TORCH,
)
from sleepedge.firmware_bench.runner import Runner
_IMPORT_NAME = {ONNXRUNTIME: "onnxruntime", LITERT: "ai_edge_litert", TFLITE_RUNTIME: "tflite_runtime", TORCH: "torch"}


def is_installed(runtime: str) -> bool:
    """Whether a runtime's package can be imported here (checked without importing it)."""
    return importlib.util.find_spec(_IMPORT_NAME[runtime]) is not None


def runtime_version(runtime: str) -> str | None:
    """Installed version of a runtime's distribution, or None."""
    try:
        return metadata.version(runtime)
    except metadata.PackageNotFoundError:
        return None


def resolve_tflite(requested: str) -> str | None:
    """``"tflite"`` -> ai-edge-litert if installed, else tflite-runtime, else None; explicit names pass through."""
    if requested != "tflite":
        return requested
    for name in TFLITE_RUNTIMES:
        if is_installed(name):
            return name
    return None


def load_runner(runtime: str, path: str | Path, threads: int, xnnpack: bool | None,
                head_path: str | Path | None = None) -> Runner:
    """Load a model file with the named runtime, fixing its thread count (and XNNPACK for TFLite).

    With ``head_path``, ``path`` is the feature model of a streaming pair and the result is a
    :class:`~sleepedge.firmware_bench.stream.PairRunner` (both parts in the same runtime).
    """
    if head_path is not None:
        from sleepedge.firmware_bench.stream import PairRunner

        return PairRunner(load_runner(runtime, path, threads, xnnpack), load_runner(runtime, head_path, threads, xnnpack))
    if runtime == ONNXRUNTIME:
        return _load_onnxruntime(Path(path), threads)
    if runtime in TFLITE_RUNTIMES:
        return _load_tflite(Path(path), threads, bool(xnnpack), runtime)
    if runtime == TORCH:
        from sleepedge.firmware_bench import torch_runtime  # only ever reached inside a worker subprocess

        return torch_runtime.load(Path(path), threads)
    raise ValueError(f"unknown runtime {runtime!r} (known: {', '.join(KNOWN_RUNTIMES)})")


def _load_onnxruntime(path: Path, threads: int) -> Runner:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise ValueError(f"{path}: expected one input, the model has {len(inputs)}")
    name = inputs[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(sess.run(None, {name: x})[0], dtype=np.float32)

    info = {"input_shape": list(inputs[0].shape), "input_dtype": inputs[0].type, "version": ort.__version__,
            "output_shape": list(sess.get_outputs()[0].shape)}
    return Runner(run, info)


def _tflite_module(runtime: str):
    if runtime == LITERT:
        from ai_edge_litert import interpreter
    else:
        from tflite_runtime import interpreter
    return interpreter


def _load_tflite(path: Path, threads: int, xnnpack: bool, runtime: str) -> Runner:
    mod = _tflite_module(runtime)
    # AUTO applies the default delegate (XNNPACK); BUILTIN_WITHOUT_DEFAULT_DELEGATES runs the
    # built-in kernels only: slower for float models, and without XNNPACK's packed weight copies.
    resolver = mod.OpResolverType.AUTO if xnnpack else mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = mod.Interpreter(model_path=str(path), num_threads=threads, experimental_op_resolver_type=resolver)
    ins, outs = interp.get_input_details(), interp.get_output_details()
    if len(ins) != 1 or len(outs) != 1:
        raise ValueError(f"{path}: expected one input and one output, got {len(ins)} and {len(outs)}")
    inp, out = ins[0], outs[0]
    interp.allocate_tensors()
    in_scale, in_zp = inp["quantization"]
    out_scale, out_zp = out["quantization"]
    in_dtype, shape = inp["dtype"], tuple(int(s) for s in inp["shape"])

    def prepare(x: np.ndarray) -> np.ndarray:
        if x.shape != shape:
            raise ValueError(f"{path}: input of shape {x.shape}, the model expects {shape}")
        return quantize(x, in_dtype, in_scale, in_zp)

    def invoke(q: np.ndarray) -> np.ndarray:
        interp.set_tensor(inp["index"], q)
        # A fused LSTM (UNIDIRECTIONAL_SEQUENCE_LSTM) keeps its state in variable tensors across invocations;
        # every window starts from a zero state, as in PyTorch. A no-op for graphs without variables.
        interp.reset_all_variables()
        interp.invoke()
        return interp.get_tensor(out["index"])

    def run(x: np.ndarray) -> np.ndarray:
        return dequantize(invoke(prepare(x)), out_scale, out_zp)

    info = {"input_shape": list(shape), "input_dtype": np.dtype(in_dtype).name,
            "output_shape": [int(v) for v in out["shape"]],
            "input_scale": float(in_scale), "input_zero_point": int(in_zp),
            "output_scale": float(out_scale), "output_zero_point": int(out_zp), "version": runtime_version(runtime)}
    return Runner(run, info, prepare=prepare, invoke=invoke)


def quantize(x: np.ndarray, dtype: Any, scale: float, zero_point: int) -> np.ndarray:
    """Float -> integer input tensor (``round(x / scale) + zero_point``, clipped); floats pass through."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return x.astype(dtype, copy=False)
    if scale == 0:
        raise ValueError("integer model input without quantisation parameters")
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(y: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integer output -> float32 (``(q - zero_point) * scale``); floats pass through as float32."""
    if y.dtype.kind == "f":
        return y.astype(np.float32, copy=False)
    return ((y.astype(np.float32) - zero_point) * scale).astype(np.float32)
