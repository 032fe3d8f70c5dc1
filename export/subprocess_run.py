"""Run a converter or a TFLite Micro probe in a child process, so that a crash is a result, not our death.

onnx2tf's int8 calibrator and the TFLite Micro interpreter can segfault (TF issue 75140; a too-small
arena). In a child process a segfault is a negative return code that we turn into a readable reason.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class ChildResult:
    """Outcome of one child process."""

    ok: bool
    returncode: int | None
    seconds: float
    stdout: str
    stderr: str
    reason: str = ""


def child_env() -> dict[str, str]:
    """The current environment with this interpreter's ``bin`` folder first on ``PATH``.

    onnx2tf runs the ``onnxsim`` command by name; without the virtual environment's ``bin`` on
    ``PATH`` it silently skips simplification and then fails on the raw LSTM graph.
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def describe_returncode(code: int) -> str:
    """``-11`` -> ``"killed by signal SIGSEGV"``; ``1`` -> ``"exit status 1"``."""
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def last_error_line(text: str, limit: int = 300) -> str:
    """The most telling line of a child's output: the last line mentioning an error, else the last line."""
    lines = [ln.strip() for ln in _strip_ansi(text).splitlines() if ln.strip()]
    for ln in reversed(lines):
        if any(k in ln for k in ("Error", "ERROR", "error:", "Failed", "failed")):
            return ln[:limit]
    return lines[-1][:limit] if lines else ""


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# The int8 conversion is deterministic only on one thread. With TensorFlow's default thread pools, six
# conversions of one ONNX file with the same calibration array gave four different int8 files: in most
# of them the MLIR quantiser left one of the unrolled BiLSTM's SPLIT operators in float, wrapped in
# QUANTIZE/DEQUANTIZE (a larger arena, worse int8 accuracy); PYTHONHASHSEED alone did not change that.
# With the pools at one thread, repeated conversions were byte-identical and fully int8.
SINGLE_THREAD = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
                 "PYTHONHASHSEED": "0"}


def run_child(cmd: list[str], cwd: str | Path, timeout_s: float, what: str,
              extra_env: dict[str, str] | None = None) -> ChildResult:
    """Run ``cmd`` in ``cwd`` with :func:`child_env`; never raises for a crash, a failure or a timeout.

    Parameters
    ----------
    cmd : list of str
        The command line.
    cwd : path
        Working folder of the child.
    timeout_s : float
        Wall-clock limit; the child is killed after it.
    what : str
        Short name used in the failure reason (e.g. ``"onnx2tf"``).
    extra_env : dict, optional
        Variables set on top of :func:`child_env` (e.g. :data:`SINGLE_THREAD`).

    Returns
    -------
    ChildResult
        ``ok`` is true only for return code 0; ``reason`` says what went wrong otherwise.
    """
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, env={**child_env(), **(extra_env or {})}, capture_output=True, text=True,
                              timeout=timeout_s, errors="replace")
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return ChildResult(False, None, time.perf_counter() - t0, out, err, f"{what} timed out after {timeout_s:.0f} s")
    seconds = time.perf_counter() - t0
    if proc.returncode == 0:
        return ChildResult(True, 0, seconds, proc.stdout, proc.stderr)
    detail = last_error_line(proc.stderr + "\n" + proc.stdout)
    reason = f"{what} {describe_returncode(proc.returncode)}" + (f": {detail}" if detail else "")
    log.warning("%s", reason)
    return ChildResult(False, proc.returncode, seconds, proc.stdout, proc.stderr, reason)
