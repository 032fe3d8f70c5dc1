"""TFLite Micro tensor-arena measurement, in a child process (a too-small arena segfaults).

The ``tflite-micro`` Python package wraps the real TFLM C++ interpreter with its recording
allocator; ``print_allocations()`` writes "Arena allocation total N bytes" from the C++ side, which
only a child process can capture reliably. The measured arena is then re-checked by running the
model again with exactly that arena (rounded up to 16 bytes); if that fails, the smallest arena that
reproduces the output is searched for and reported instead.
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.export.boards import boards_that_fit
from sleepedge.export.subprocess_run import run_child

ARENA_RE = re.compile(r"Arena allocation total (\d+) bytes")

_CHILD = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
path, arena, xin, yout = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
it = runtime.Interpreter.from_file(path, arena_size=arena)
it.set_input(np.load(xin), 0)
it.invoke()
np.save(yout, it.get_output(0))
it.print_allocations()
sys.stdout.flush(); sys.stderr.flush()
"""


def run_tflm(path: str | Path, x_in: np.ndarray, arena_size: int, timeout_s: float = 300) -> dict[str, Any]:
    """Run one inference under TFLM with ``arena_size`` bytes in a child process.

    Returns
    -------
    dict
        ``ok``, ``reason``, ``arena_bytes`` (parsed total, or None) and ``output`` (raw output tensor or None).
    """
    with tempfile.TemporaryDirectory(prefix="sleepedge-tflm-") as tmp:
        xin, yout = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(xin, x_in)
        res = run_child([sys.executable, "-c", _CHILD, str(Path(path).resolve()), str(int(arena_size)), str(xin), str(yout)],
                        tmp, timeout_s, "TFLite Micro")
        m = ARENA_RE.search(res.stdout + "\n" + res.stderr)
        out = np.load(yout) if res.ok and yout.is_file() else None
    return {"ok": res.ok and m is not None and out is not None,
            "reason": res.reason or ("" if m else "no 'Arena allocation total' line in TFLM output"),
            "arena_bytes": int(m.group(1)) if m else None, "output": out}


def measure_arena(path: str | Path, x_in: np.ndarray, max_arena: int = 64 << 20,
                  timeout_s: float = 300) -> dict[str, Any]:
    """Tensor arena a .tflite model needs under TFLite Micro, verified by a second run at that size.

    Parameters
    ----------
    path : path
        The model (int8 I/O expected: ``x_in`` must already have the input dtype).
    x_in : ndarray
        One input tensor, e.g. a quantised test sequence of shape (1, T, 1, S).
    max_arena : int
        Arena for the first (measuring) run.
    timeout_s : float
        Limit per child run.

    Returns
    -------
    dict
        ``tflm_status`` (``ok``, ``unverified`` when no rerun reproduced the output, or ``failed``),
        ``tflm_reason``, ``tflm_arena_bytes`` (the smallest verified arena, see
        :func:`_smallest_verified_arena`), ``tflm_recorded_arena_bytes`` (the recorder's total), ``tflm_output`` (raw output of the measuring run),
        ``flash_bytes`` (= file size) and ``fits_boards``.
    """
    flash = Path(path).stat().st_size
    first = run_tflm(path, x_in, max_arena, timeout_s)
    result: dict[str, Any] = {"tflm_status": "failed", "tflm_reason": first["reason"],
                              "tflm_arena_bytes": first["arena_bytes"], "tflm_output": first["output"],
                              "flash_bytes": flash, "fits_boards": []}
    if not first["ok"]:
        return result
    need = -(-first["arena_bytes"] // 16) * 16
    verified, reason = _smallest_verified_arena(path, x_in, need, max_arena, first["output"], timeout_s)
    result.update(tflm_status="ok" if verified else "unverified", tflm_reason=reason,
                  fits_boards=boards_that_fit(flash, verified or first["arena_bytes"]))
    if verified:
        # The arena reported is the verified one; the recorder's own total stays in the row for comparison.
        result.update(tflm_arena_bytes=verified, tflm_recorded_arena_bytes=first["arena_bytes"])
    return result


def _runs_at(path, x_in, arena: int, expected: np.ndarray, timeout_s: float) -> tuple[bool, str]:
    run = run_tflm(path, x_in, arena, timeout_s)
    same = run["ok"] and np.array_equal(run["output"], expected)
    return same, "" if same else (run["reason"] or "output differs")


def _smallest_verified_arena(path, x_in, need: int, max_arena: int, expected: np.ndarray,
                             timeout_s: float, grow: float = 1.25, tries: int = 8, step: int = 256) -> tuple[int | None, str]:
    """The smallest arena (to ``step`` bytes) that runs the model with the measuring run's output.

    The recording allocator's total is usually enough. For some graphs (the streaming head) TFLM needs a
    little more at that exact size (alignment and persistent buffers the total leaves out), so the size
    is grown by ``grow`` until a run succeeds, then bisected back down. Written by hand: TFLM has no
    "minimum arena" query, only this recorder and a failed allocation.
    """
    ok, reason = _runs_at(path, x_in, need, expected, timeout_s)
    if ok:
        return need, ""
    low, high = need, None
    for _ in range(tries):
        size = min(max_arena, -(-int(low * grow) // 16) * 16)
        if _runs_at(path, x_in, size, expected, timeout_s)[0]:
            high = size
            break
        low = size
        if size >= max_arena:
            break
    if high is None:
        return None, f"rerun with a {need}-byte arena: {reason}; no arena up to {low} bytes reproduced the output"
    while high - low > step:
        mid = -(-((low + high) // 2) // 16) * 16
        if _runs_at(path, x_in, mid, expected, timeout_s)[0]:
            high = mid
        else:
            low = mid
    return high, ""
