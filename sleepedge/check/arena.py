"""The TFLite Micro arena of a .tflite file by allocation class, from TFLM's recording allocator, in a child process.

The ``tflite-micro`` Python package wraps the real TFLM interpreter with its ``RecordingMicroAllocator``;
``print_allocations()`` writes, from C++, the arena's total, its head (the non-persistent section: the
memory plan of the activation tensors) and tail (persistent allocations), and the persistent bytes per
class (``TfLiteEvalTensor data``, ``Persistent buffer data``, ``NodeAndRegistration struct`` ...). Per tensor
or per operator it cannot say: the package exposes neither the memory planner's buffer offsets nor a
per-allocation record (docs/budget.md, "Attribution"). Only a child process captures C++ output reliably,
and a crash of TFLM must not take the check down, hence the child. ``tflite-micro`` is not part of the
``[bench]`` extra: without it the classes are simply absent (a note says so); the arena limit itself reads
the export row, measured at export time.
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

TIMEOUT_S = 300.0
ARENA_SIZE = 64 << 20  # as export.tflm_max_arena: large enough for any model the check sees
LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
CLASS = re.compile(r"'([^']+)' used (\d+) bytes")
_CHILD = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2]))
d = it.get_input_details(0)
it.set_input(np.zeros(d["shape"], d["dtype"]), 0)
it.invoke()
it.print_allocations()
sys.stdout.flush()
"""


def parse_allocations(text: str) -> dict[str, Any]:
    """``{"total", "head", "tail": bytes, "classes": {class: bytes}}`` from ``print_allocations()`` output."""
    out: dict[str, Any] = {k: int(v) for k, v in LINE.findall(text)}
    out["classes"] = {k: int(v) for k, v in CLASS.findall(text)}
    return out


def arena_classes(path: Path, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    """The arena of ``path`` by class, or ``{"error": why}`` (no tflite-micro, a crash, a float model ...)."""
    if importlib.util.find_spec("tflite_micro") is None:
        return {"error": "needs tflite-micro (pip install tflite-micro; not part of [bench])"}
    try:
        r = subprocess.run([sys.executable, "-c", _CHILD, str(Path(path).resolve()), str(ARENA_SIZE)],
                           capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"TFLite Micro did not finish within {timeout_s:g} s"}
    res = parse_allocations(r.stdout + "\n" + r.stderr)
    if r.returncode != 0 or "total" not in res:
        last = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1][:200]
        return {"error": f"TFLite Micro could not run {Path(path).name} ({last})"}
    return res
