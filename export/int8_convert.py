"""Full-integer TFLite from onnx2tf's SavedModel, with the quantiser's random float fallback caught and redone.

onnx2tf writes the TensorFlow SavedModel of the (unrolled) network next to its fp32 .tflite. This module
runs TensorFlow's own converter on that SavedModel, in a child process (TensorFlow's calibrator can
crash), with only integer builtins allowed (``TFLITE_BUILTINS_INT8``, no Flex):

* ``full_integer_quant``: int8 weights and activations, int8 input and output (the microcontroller file);
* ``integer_quant``: the same graph with float input and output (QUANTIZE / DEQUANTIZE at the ends);
* ``full_integer_quant_with_int16_act``: int8 weights, int16 activations and int16 input/output (16x8).

Why not onnx2tf's own int8 files: TensorFlow 2.19's quantiser leaves, at random, one or two of the
unrolled BiLSTM's SPLIT operators in float (wrapped in QUANTIZE / DEQUANTIZE) even with every seed,
thread pool and address randomisation fixed; measured: 3 of 8 conversions of one SavedModel in one
process. Every conversion that came out fully integer was byte-identical. So each file is converted
until no operator inside the graph touches a float tensor (up to ``attempts`` times); the file is then
the same from one export to the next, and a model that never comes out clean is reported with its
float operators rather than passed off as int8.

Calibration: the given sequences, fed one by one in the model's own input layout (raw microvolts).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sleepedge.export.subprocess_run import SINGLE_THREAD, run_child

if TYPE_CHECKING:
    from sleepedge.export.tflite_convert import Onnx2TfJob

log = logging.getLogger(__name__)

VARIANTS = {  # output key -> (activation type, float I/O)
    "full_integer_quant": ("int8", False),
    "integer_quant": ("int8", True),
    "full_integer_quant_with_int16_act": ("int16", False),
}
BOUNDARY_OPS = {"QUANTIZE", "DEQUANTIZE"}  # float I/O variants convert at the ends, legitimately


@dataclass
class Int8Job:
    """The child's outcome: files by variant key, attempts used, float ops left (empty when clean)."""

    ok: bool
    reason: str
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    float_ops: dict[str, dict[str, int]] = field(default_factory=dict)


def inner_float_ops(path: Path, float_io: bool) -> dict[str, int]:
    """Operators touching float tensors, except the boundary QUANTIZE/DEQUANTIZE of a float-I/O file."""
    from sleepedge.export.oplist import float_ops, list_ops

    ops = float_ops(list_ops(path))
    if float_io:
        ops = {k: v for k, v in ops.items() if k not in BOUNDARY_OPS or v > 1}
    return ops


def _convert_once(saved_model: str, calib: np.ndarray, act: str, float_io: bool) -> bytes:
    import tensorflow as tf

    def representative():
        for i in range(len(calib)):
            yield [calib[i:i + 1]]

    c = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = representative
    if act == "int16":
        c.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        io = tf.int16
    else:
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io = tf.int8
    if not float_io:
        c.inference_input_type = c.inference_output_type = io
    return c.convert()


def convert_variant(saved_model: str, calib: np.ndarray, key: str, out: Path, attempts: int) -> tuple[int, dict[str, int]]:
    """Convert until the file has no inner float operator; returns (attempts used, float ops left)."""
    act, float_io = VARIANTS[key]
    left: dict[str, int] = {}
    for k in range(1, attempts + 1):
        out.write_bytes(_convert_once(saved_model, calib, act, float_io))
        left = inner_float_ops(out, float_io)
        if not left:
            return k, {}
    return attempts, left


def child_main(argv: list[str] | None = None) -> int:
    """Entry point of the child process: convert the requested variants, print one JSON line."""
    p = argparse.ArgumentParser()
    p.add_argument("--saved-model", required=True)
    p.add_argument("--calib", required=True)
    p.add_argument("--out-dir", required=True)
    p.add_argument("--variants", required=True)
    p.add_argument("--attempts", type=int, default=4)
    a = p.parse_args(argv)
    calib = np.load(a.calib).astype(np.float32)
    result = {}
    for key in a.variants.split(","):
        out = Path(a.out_dir) / f"model_{key}.tflite"
        used, left = convert_variant(a.saved_model, calib, key, out, a.attempts)
        result[key] = {"file": str(out), "attempts": used, "float_ops": left}
    print("INT8-RESULT " + json.dumps(result))
    return 0


def int8_command(saved_model: Path, calib_file: Path, out_dir: Path, variants: list[str], attempts: int) -> list[str]:
    """The child's command line; paths absolute, because the child runs with ``out_dir`` as its working folder."""
    return [sys.executable, "-m", "sleepedge.export.int8_convert", "--saved-model", str(saved_model.resolve()),
            "--calib", str(calib_file.resolve()), "--out-dir", str(out_dir.resolve()), "--variants", ",".join(variants),
            "--attempts", str(attempts)]


def quantize_saved_model(saved_model: Path, calib_file: Path, out_dir: Path, variants: list[str],
                         attempts: int = 4, timeout_s: float = 1800) -> Int8Job:
    """Run :func:`child_main` in a child process; a crash or a timeout becomes ``ok = False`` with the reason."""
    out_dir.mkdir(parents=True, exist_ok=True)
    res = run_child(int8_command(saved_model, calib_file, out_dir, variants, attempts), out_dir, timeout_s,
                    "int8 conversion", SINGLE_THREAD)
    (out_dir / "int8_convert.log").write_text(res.stdout + "\n" + res.stderr, encoding="utf-8")
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("INT8-RESULT ")), None)
    if not res.ok or line is None:
        return Int8Job(False, res.reason or "int8 conversion printed no result", res.seconds)
    got = json.loads(line[len("INT8-RESULT "):])
    job = Int8Job(True, "", res.seconds)
    for key, r in got.items():
        job.files[key], job.attempts[key] = Path(r["file"]), r["attempts"]
        if r["float_ops"]:
            job.float_ops[key] = r["float_ops"]
    return job


def int8_job(base: Onnx2TfJob, saved_model: Path, wdir: Path, calib_x: np.ndarray, variants: list[str], attempts: int,
             timeout_s: float, name: str = "int8_convert") -> Onnx2TfJob:
    """Quantise ``saved_model`` (the SavedModel of the fp32 onnx2tf run ``base``) into ``variants`` with
    :mod:`.int8_convert`, in ``wdir``; ``base`` itself when the fp32 conversion failed.

    ``calib_x`` is in the converted model's input layout (one sample per first-axis entry).
    """
    from sleepedge.export.tflite_convert import Onnx2TfJob, write_calibration

    if not base.ok:
        return base
    wdir.mkdir(parents=True, exist_ok=True)
    calib = write_calibration(calib_x, wdir / "calib.npy")
    q = quantize_saved_model(saved_model, calib, wdir, variants, attempts, timeout_s)
    for key, ops in q.float_ops.items():
        log.warning("%s: float operators %s remained after %d quantisations; the row lists them", key, ops, attempts)
    return Onnx2TfJob(name, q.ok, q.reason, q.seconds, q.files, attempts=q.attempts, float_left=q.float_ops)


if __name__ == "__main__":
    raise SystemExit(child_main())
