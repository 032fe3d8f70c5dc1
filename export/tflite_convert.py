"""ONNX -> TFLite with onnx2tf in a child process (fp32, and full-integer int8 calibrated on given sequences).

Measured facts this module relies on (../shared/notes/export-toolchain.md): with onnx2tf 1.29.24 and
TF 2.19 the BiLSTM converts to int8 only with RNN unrolling (``-eru``); without it TF's calibrator
segfaults. ``-kat x`` keeps the (1, T, 1, 3000) input as is (otherwise onnx2tf treats it as NCHW and
transposes it). onnx2tf rewrites its input .onnx in place, so it gets a copy.

Calibration (``-cind NAME FILE MEAN STD``, read in onnx2tf's ``convert``): the .npy array is in the
TF input layout (here the ONNX layout, kept by ``-kat``), its first axis is iterated in steps of the
model's batch size (1), and each slice is fed as ``(x - MEAN) / STD``. The model takes raw
microvolts, so MEAN=0 and STD=1 feed the real training sequences unchanged.
"""
from __future__ import annotations

import logging
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sleepedge.export.onnx_export import INPUT_NAME
from sleepedge.export.subprocess_run import SINGLE_THREAD, ChildResult, run_child

log = logging.getLogger(__name__)

STEM = "model"


@dataclass
class Onnx2TfJob:
    """One conversion run and the .tflite files it left, keyed by onnx2tf's suffix (``float32`` ...).

    ``attempts`` / ``float_left`` (integer files only): conversions used per file, and float operators a
    file still held after the last attempt (empty when every file came out fully integer).
    """

    name: str
    ok: bool
    reason: str
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)
    log_tail: str = ""
    attempts: dict[str, int] = field(default_factory=dict)
    float_left: dict[str, dict[str, int]] = field(default_factory=dict)


def onnx2tf_command(onnx_file: Path, out_dir: Path, calib_file: Path | None) -> list[str]:
    """The onnx2tf command line; with ``calib_file`` it adds the full-integer int8 outputs."""
    cmd = [sys.executable, "-m", "onnx2tf", "-i", str(onnx_file), "-o", str(out_dir),
           "-kat", INPUT_NAME, "-eru", "-n"]
    if calib_file is not None:
        cmd += ["-oiqt", "-qt", "per-channel", "-cind", INPUT_NAME, str(calib_file), "0", "1"]
    return cmd


def write_calibration(calib_x: np.ndarray, path: Path, batch: int = 1) -> Path:
    """Save the calibration sequences for ``-cind``; their count must be a multiple of the batch size."""
    from sleepedge.core.errors import DataError

    if calib_x.ndim != 4 or calib_x.shape[2] != 1:
        raise DataError(f"calibration array: expected (N, T, 1, samples), got {calib_x.shape}")
    if len(calib_x) == 0 or len(calib_x) % batch:
        raise DataError(f"calibration array: {len(calib_x)} sequences is not a positive multiple of batch {batch}")
    np.save(path, np.ascontiguousarray(calib_x, dtype=np.float32))
    return path


def run_onnx2tf(onnx_path: str | Path, work_dir: str | Path, calib_x: np.ndarray | None,
                timeout_s: float = 1800, name: str = "") -> Onnx2TfJob:
    """Convert ``onnx_path`` with onnx2tf in a child process inside ``work_dir``.

    Parameters
    ----------
    onnx_path : path
        The exported ONNX file (left untouched: onnx2tf gets a copy).
    work_dir : path
        Scratch folder (created; emptied first).
    calib_x : ndarray or None
        ``(N, T, 1, samples)`` float32 real sequences for int8 calibration; None = fp32 only.
    timeout_s : float
        Wall-clock limit of the child.
    name : str
        Job name used in reasons and logs.

    Returns
    -------
    Onnx2TfJob
        ``ok`` false (with the reason) when onnx2tf crashed, failed or timed out; ``files`` holds
        whatever .tflite files it wrote before that.
    """
    work = Path(work_dir).resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    onnx_copy = work / f"{STEM}.onnx"
    shutil.copyfile(onnx_path, onnx_copy)
    calib_file = write_calibration(calib_x, work / "calib.npy") if calib_x is not None else None
    out = work / "out"
    name = name or ("onnx2tf_int8" if calib_file else "onnx2tf_fp32")
    log.info("%s: converting %s", name, onnx_path)
    res: ChildResult = run_child(onnx2tf_command(onnx_copy, out, calib_file), work, timeout_s, "onnx2tf", SINGLE_THREAD)
    (work / "onnx2tf.log").write_text(res.stdout + "\n" + res.stderr, encoding="utf-8")
    files = {p.name[len(STEM) + 1:-len(".tflite")]: p for p in sorted(out.glob(f"{STEM}_*.tflite"))}
    reason = res.reason
    if res.ok and not files:
        reason = "onnx2tf exited 0 but wrote no .tflite file"
    return Onnx2TfJob(name, res.ok and bool(files), reason, res.seconds, files, (res.stderr or "")[-2000:])
