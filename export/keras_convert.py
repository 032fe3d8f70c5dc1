"""Parent side of the Keras converter: hand a model's weights to a TensorFlow child, collect its .tflite files.

The child (:mod:`sleepedge.export.keras_build`) never imports torch: the weights travel as an ``.npz``
of the state dict and the architecture as JSON. The result is an :class:`Onnx2TfJob` (same fields as an
onnx2tf run), so the export rows handle both converters alike.
"""
from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import numpy as np

from sleepedge.export.keras_build import STEM
from sleepedge.export.subprocess_run import SINGLE_THREAD, run_child
from sleepedge.export.tflite_convert import Onnx2TfJob

log = logging.getLogger(__name__)


def keras_command(work: Path, kind: str, seq_len: int, outputs: list[str], calib: Path | None,
                  attempts: int = 4, lstm: str = "fused") -> list[str]:
    """Command line of the child for one model ``kind`` (window, features or head)."""
    cmd = [sys.executable, "-m", "sleepedge.export.keras_build", "--arch", str(work / "arch.json"),
           "--weights", str(work / "weights.npz"), "--kind", kind, "--seq-len", str(seq_len),
           "--out", str(work / "out"), "--outputs", ",".join(outputs), "--attempts", str(attempts),
           "--lstm", lstm]
    return cmd + (["--calib", str(calib)] if calib is not None else [])


def run_keras(model, kind: str, seq_len: int, work_dir: str | Path, calib_x: np.ndarray | dict | None,
              outputs: list[str], timeout_s: float = 1800, name: str = "", attempts: int = 4,
              lstm: str = "fused") -> Onnx2TfJob:
    """Convert ``model`` (a DeepSleepNet) through tf_keras in a child process.

    Parameters
    ----------
    model : sleepedge.models.DeepSleepNet
        Source of the architecture and weights.
    kind : str
        ``window`` (1, L, 1, S), ``features`` (1, 1, 1, S), ``head`` (1, L, 1, F) or ``step`` (a causal head's step).
    seq_len : int
        Window length L (ignored by ``features``).
    work_dir : path
        Scratch folder (emptied first).
    calib_x : ndarray, dict or None
        Calibration inputs in the model's input layout, one per first-axis entry (kind ``step``: a dict of arrays
        by input name); None = float32 only.
    outputs : list of str
        ``float32``, ``full_integer_quant``, ``integer_quant``.
    timeout_s : float
        Wall-clock limit of the child.
    name : str
        Job name for reasons and logs.
    attempts : int
        Conversions of an integer output at most, until no operator inside it touches a float tensor.
    lstm : str
        ``fused`` (UNIDIRECTIONAL_SEQUENCE_LSTM operators) or ``unrolled``.

    Returns
    -------
    Onnx2TfJob
        ``files`` keyed by output name; ``ok`` false with the reason when the child failed.
    """
    work, calib = _prepare_work(work_dir, model, calib_x)
    name = name or f"keras_{kind}"
    log.info("%s: converting with tf_keras (%s)", name, ", ".join(outputs))
    res = run_child(keras_command(work, kind, seq_len, outputs, calib, attempts, lstm), work, timeout_s, "keras converter",
                    SINGLE_THREAD)
    return _collect_job(work, res, name, outputs, attempts)


def _prepare_work(work_dir: str | Path, model, calib_x: np.ndarray | dict | None) -> tuple[Path, Path | None]:
    """Empty the scratch folder and write the child's inputs: arch.json, weights.npz, calib.npy (if any)."""
    work = Path(work_dir).resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    (work / "arch.json").write_text(json.dumps(model.arch.to_dict()), encoding="utf-8")
    np.savez(work / "weights.npz", **{k: v.detach().cpu().numpy() for k, v in model.state_dict().items()})
    calib = None
    if isinstance(calib_x, dict):  # a model with several inputs (kind step): one array per input name
        calib = work / "calib.npz"
        np.savez(calib, **{k: np.ascontiguousarray(v, dtype=np.float32) for k, v in calib_x.items()})
    elif calib_x is not None:
        calib = work / "calib.npy"
        np.save(calib, np.ascontiguousarray(calib_x, dtype=np.float32))
    return work, calib


def _collect_job(work: Path, res, name: str, outputs: list[str], attempts: int) -> Onnx2TfJob:
    """Save the child's log and gather its .tflite files and attempts report into the job."""
    (work / "keras.log").write_text(res.stdout + "\n" + res.stderr, encoding="utf-8")
    files = {o: work / "out" / f"{STEM}_{o}.tflite" for o in outputs}
    files = {o: p for o, p in files.items() if p.is_file()}
    reason = res.reason or ("" if len(files) == len(outputs) else f"keras converter wrote {sorted(files)} of {outputs}")
    report = work / "out" / "attempts.json"
    tries = json.loads(report.read_text("utf-8")) if report.is_file() else {}
    left = {o: r["float_ops"] for o, r in tries.items() if r.get("float_ops")}
    for o, ops in left.items():
        log.warning("%s %s: float operators %s remained after %d conversions; the row lists them", name, o, ops, attempts)
    return Onnx2TfJob(name, res.ok and len(files) == len(outputs), reason, res.seconds, files, (res.stderr or "")[-2000:],
                      attempts={o: r["attempts"] for o, r in tries.items() if o != "float32"}, float_left=left)
