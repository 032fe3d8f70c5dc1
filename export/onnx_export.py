"""PyTorch -> ONNX (TorchScript exporter, opset 17, weights embedded, fixed input shape) and the parity check."""
from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np

from sleepedge.run.manifest import atomic_write_bytes

log = logging.getLogger(__name__)

INPUT_NAME = "x"
OUTPUT_NAME = "logits"


def export_onnx(model, path: str | Path, seq_len: int, opset: int = 17, overwrite: bool = False,
                input_shape: tuple[int, ...] | None = None, output_name: str = OUTPUT_NAME) -> Path:
    """Write ``model`` as ONNX with the fixed input ``(1, seq_len, 1, epoch_samples)`` (or ``input_shape``).

    The TorchScript exporter (``dynamo=False``) turns each LSTM layer into one ONNX ``LSTM`` node
    and embeds the weights in the file; a fixed shape is what onnx2tf and TFLite Micro need.

    Parameters
    ----------
    model : sleepedge.models.DeepSleepNet
        The model (put in eval mode here).
    path : path
        Output ``.onnx`` file (written atomically).
    seq_len : int
        Epochs per input sequence.
    opset : int
        ONNX opset (17 or later).
    overwrite : bool
        Replace an existing file.
    input_shape : tuple of int, optional
        Another fixed input shape (the streaming parts: ``(1, 1, 1, S)`` and ``(1, L, 1, F)``).
    output_name : str
        Name of the output tensor.

    Returns
    -------
    Path
        ``path``.
    """
    import torch

    model.eval()
    shape = input_shape or (1, seq_len, 1, model.arch.epoch_samples)
    dummy = torch.zeros(*shape, dtype=torch.float32)
    data = _trace_to_onnx(model, dummy, opset, output_name)
    import onnx

    onnx.checker.check_model(onnx.load_from_string(data))
    return atomic_write_bytes(path, data, overwrite=overwrite)


def _trace_to_onnx(model, dummy, opset: int, output_name: str) -> bytes:
    """The ONNX file's bytes from the TorchScript exporter, its tracer warnings silenced."""
    import torch

    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript tracer warns (TracerWarning, UserWarning, DeprecationWarning) about Python-side shape
        # checks, Slice constant folding and its own deprecation: harmless for this fixed-shape export
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (dummy,), buf, dynamo=False, opset_version=opset, do_constant_folding=True,
                          input_names=[INPUT_NAME], output_names=[output_name])
    return buf.getvalue()


def onnx_logits(path: str | Path, x: np.ndarray, threads: int = 1) -> np.ndarray:
    """Logits of every sequence in ``x`` (N, T, 1, S) from onnxruntime, one sequence per run."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.concatenate([sess.run(None, {name: x[i:i + 1].astype(np.float32)})[0] for i in range(len(x))])


def torch_logits(model, x: np.ndarray, batch: int = 16) -> np.ndarray:
    """Reference logits of ``model`` (eval mode, no grad) for every sequence in ``x``."""
    import torch

    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            outs.append(model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch], dtype=np.float32))).numpy())
    return np.concatenate(outs)


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute element difference of two logit arrays of the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"logit shapes differ: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
