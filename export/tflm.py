"""TFLite Micro tensor-arena measurement, in a child process (a too-small arena segfaults).

The ``tflite-micro`` Python package wraps the real TFLM C++ interpreter with its recording
allocator; ``print_allocations()`` writes "Arena allocation total N bytes" from the C++ side, which
only a child process can capture reliably. The measured arena is then re-checked by running the
model again with exactly that arena (rounded up to 16 bytes).
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .boards import boards_that_fit
from .subprocess_run import run_child

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
        ``tflm_status`` (``ok``, ``unverified`` when the exact-size rerun failed, or ``failed``),
        ``tflm_reason``, ``tflm_arena_bytes``, ``tflm_output`` (raw output of the measuring run),
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
    second = run_tflm(path, x_in, need, timeout_s)
    same = second["ok"] and np.array_equal(second["output"], first["output"])
    result.update(tflm_status="ok" if same else "unverified",
                  tflm_reason="" if same else f"rerun with a {need}-byte arena: {second['reason'] or 'output differs'}",
                  fits_boards=boards_that_fit(flash, first["arena_bytes"]))
    return result
