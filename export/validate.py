"""Run each exported file with the runtime that will run it and score it on the test sequences.

ONNX with onnxruntime; TFLite with ai-edge-litert (else tflite-runtime). int8 inputs are quantised
with the model's own input scale and zero point, int8 outputs dequantised with the output's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.core.metrics import agreement, classification_metrics


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on the install
        from tflite_runtime.interpreter import Interpreter
    return Interpreter


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    """``round(x / scale) + zero_point``, clipped to ``dtype``."""
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (q.astype(np.float32) - zero_point) * scale


def tflite_io(path: str | Path) -> dict[str, Any]:
    """Input/output dtype, shape, scale and zero point of a .tflite file."""
    it = _interpreter_class()(model_path=str(path))
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    return {
        "input_dtype": np.dtype(i["dtype"]).name, "input_shape": [int(v) for v in i["shape"]],
        "input_scale": float(i["quantization"][0]), "input_zero_point": int(i["quantization"][1]),
        "output_dtype": np.dtype(o["dtype"]).name,
        "output_scale": float(o["quantization"][0]), "output_zero_point": int(o["quantization"][1]),
    }


def tflite_logits(path: str | Path, x: np.ndarray, threads: int = 1) -> np.ndarray:
    """Float logits of every sequence in ``x`` (N, T, 1, S) from the TFLite interpreter."""
    it = _interpreter_class()(model_path=str(path), num_threads=threads)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    in_dtype, out_dtype = np.dtype(i["dtype"]), np.dtype(o["dtype"])
    outs = []
    for k in range(len(x)):
        xi = x[k:k + 1].astype(np.float32)
        if in_dtype.kind == "i":
            xi = quantize(xi, i["quantization"][0], i["quantization"][1], in_dtype.type)
        it.set_tensor(i["index"], xi)
        it.reset_all_variables()  # a fused LSTM keeps its state in variable tensors: every sequence starts from zero
        it.invoke()
        out = it.get_tensor(o["index"])
        outs.append(dequantize(out, *o["quantization"]) if out_dtype.kind == "i" else out.astype(np.float32))
    return np.concatenate(outs)


def runtime_logits(runtime: str, path: str | Path, x: np.ndarray) -> np.ndarray:
    """Logits from the format's runtime (``"onnxruntime"`` or ``"tflite"``)."""
    if runtime == "onnxruntime":
        from sleepedge.export.onnx_export import onnx_logits

        return onnx_logits(path, x)
    if runtime == "tflite":
        return tflite_logits(path, x)
    raise ValueError(f"unknown runtime {runtime!r}")


def score(logits: np.ndarray, y: np.ndarray, torch_pred: np.ndarray, groups: np.ndarray | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1, kappa against ``y`` and agreement with the PyTorch predictions; with ``groups``
    (the subject of each sequence) also their subject-level bootstrap 95 % confidence intervals."""
    pred = logits.argmax(-1)
    m = classification_metrics(y.ravel(), pred.ravel())
    out: dict[str, Any] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "kappa": m["kappa"],
                           "agreement_torch": agreement(pred, torch_pred)}
    if groups is not None:
        from sleepedge.core.stats import LEVEL, N_BOOT, score_ci, subject_confusions

        cms = subject_confusions(y, pred, groups)
        out["ci_groups"] = len(cms)
        if len(cms) >= 2:  # one subject resampled is always itself: no interval
            ci = score_ci(cms)
            out.update({f"{m}_ci": [ci[m]["lo"], ci[m]["hi"]] for m in ("accuracy", "macro_f1", "kappa")})
            out["ci_method"] = f"subject-level bootstrap (sleepedge.core.stats), {N_BOOT} resamples, {LEVEL:.0%} percentile interval"
    return out
