"""Instructions per 30-s epoch of an int8 TFLite file, through the bench's callgrind measurement.

The measurement itself is :func:`sleepedge.firmware_bench.instructions.instructions_per_epoch` (valgrind's
callgrind counts the instructions one inference executes on this host); this module calls it at most once
per file content in a process (it takes seconds) and turns every reason it cannot answer into a missing
value, so a limit on it fails closed.
"""
from __future__ import annotations

import importlib
import logging
from pathlib import Path

from sleepedge.core.errors import DataError
from sleepedge.run.manifest import sha256_file

log = logging.getLogger(__name__)
MODULE = "sleepedge.firmware_bench.instructions"
_CACHE: dict[str, tuple[float | None, str]] = {}


def _measure_function():
    """The bench's ``instructions_per_epoch``, or ``DataError`` when this sleepedge lacks it."""
    try:
        return importlib.import_module(MODULE).instructions_per_epoch
    except (ImportError, AttributeError) as exc:
        raise DataError(f"this sleepedge has no instruction counter ({MODULE}: {exc})") from None


def instructions(path: Path) -> tuple[float | None, str]:
    """``(instructions per epoch, where from)`` of one int8 ``.tflite`` file, or ``(None, why not)``."""
    key = sha256_file(path)
    if key not in _CACHE:
        try:
            res = _measure_function()(Path(path).resolve(), runtime="tflite")  # the counter runs it elsewhere
            value = float(res["instructions_per_epoch"])
            _CACHE[key] = (value, f"callgrind on {Path(path).name}: {res.get('calls', '?')} call(s) of "
                                          f"{res.get('epochs_per_call', '?')} epoch(s)")
        except (DataError, OSError, KeyError, TypeError, ValueError) as exc:
            _CACHE[key] = (None, f"not measured: {exc}")
        log.info("instructions of %s: %s", path, _CACHE[key][0])
    return _CACHE[key]


def clear_cache() -> None:
    """Forget the counts measured so far (tests; a long-lived process checking rebuilt files)."""
    _CACHE.clear()
