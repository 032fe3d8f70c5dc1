"""Budget keys, their units, and validation of one budget table (standard library only).

Every limit key names its unit (``_bytes``, ``_ms``, ``_points``; ``params`` is a count; accuracy,
macro-F1 and disagreement are fractions in 0..1; kappa is in -1..1). A value that does not fit its
unit (``max_tflite_bytes = "1 MB"``, ``min_macro_f1 = 70``, ``max_arena_bytes = 2.5``), and any
unknown key, raises :class:`~sleepedge.core.errors.BudgetError` naming the file, the table and the key,
with the closest known key for a typo.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

from sleepedge.core.errors import BudgetError

# Formats whose numbers the size/arena/accuracy limits read (the export stage's row names).
TFLITE_FORMATS = ("tflite_int8", "tflite_fp32")
# Stateful pairs of the causal head (two files: features + step; docs/streaming.md): size = both files,
# arena = both TFLite Micro arenas, latency = one feature call + one step call per epoch.
STATEFUL_FORMATS = ("stateful_tflite_int8", "stateful_onnx_fp32")
EXPORT_FORMATS = ("onnx_fp32", "tflite_fp32", "tflite_int8")


@dataclass(frozen=True)
class LimitSpec:
    """One limit: its unit kind, whether it caps from above (``max``) or below (``min``), what it means."""

    key: str
    kind: str  # bytes | count | ms | fraction | kappa | points
    bound: str  # max | min
    what: str


UNITS = {
    "bytes": "bytes (a whole number, e.g. 1048576 for 1 MiB)",
    "count": "a whole number",
    "ms": "milliseconds (a number)",
    "fraction": "a fraction in 0..1 (0.70 means 70 %)",
    "kappa": "Cohen's kappa in -1..1",
    "points": "percentage points in 0..100 (2.0 means two accuracy points)",
    "percent": "percent of the base value (5 means 5 %)",
}

LIMITS: dict[str, LimitSpec] = {s.key: s for s in (
    LimitSpec("max_tflite_bytes", "bytes", "max", "size of the model's .tflite file (the checked format)"),
    LimitSpec("max_params", "count", "max", "parameters of the model"),
    LimitSpec("max_arena_bytes", "bytes", "max", "TFLite Micro tensor arena the model needs"),
    LimitSpec("max_latency_ms_p50", "ms", "max", "median latency of one inference window on latency_device"),
    LimitSpec("max_rss_bytes", "bytes", "max", "peak resident memory of the bench process on latency_device"),
    LimitSpec("max_rss_increase_bytes", "bytes", "max", "resident memory added by loading and running the model"),
    LimitSpec("min_accuracy", "fraction", "min", "test accuracy of the checked format"),
    LimitSpec("min_macro_f1", "fraction", "min", "test macro-F1 of the checked format"),
    LimitSpec("min_kappa", "kappa", "min", "test Cohen's kappa of the checked format"),
    LimitSpec("max_accuracy_drop_points", "points", "max", "accuracy lost against the run's baseline model"),
    LimitSpec("max_macro_f1_drop_points", "points", "max", "macro-F1 lost against the run's baseline model"),
    LimitSpec("max_int8_disagreement", "fraction", "max", "share of epochs where int8 TFLite and fp32 PyTorch disagree"),
    LimitSpec("max_instructions_per_epoch", "count", "max",
              "instructions executed per 30-s epoch by the int8 TFLite model (callgrind, on this host's ISA)"),
)}


@dataclass(frozen=True)
class MetricSpec:
    """One metric of the comparison against a base (``--against``): its unit and which way is worse."""

    name: str
    kind: str  # bytes | count | ms | fraction
    worse: str  # "up": growth is worse (sizes, time); "down": a drop is worse (accuracy)
    what: str


METRICS: dict[str, MetricSpec] = {s.name: s for s in (
    MetricSpec("file_bytes", "bytes", "up", "size of the .tflite file of the checked format"),
    MetricSpec("arena_bytes", "bytes", "up", "TFLite Micro tensor arena"),
    MetricSpec("params", "count", "up", "parameters"),
    MetricSpec("macs_per_epoch", "count", "up", "multiply-accumulates per 30-s epoch (from the architecture)"),
    MetricSpec("instructions_per_epoch", "count", "up", "instructions per 30-s epoch (callgrind, int8 TFLite)"),
    MetricSpec("latency_ms_p50", "ms", "up", "median latency of one inference window"),
    MetricSpec("accuracy", "fraction", "down", "test accuracy"),
    MetricSpec("macro_f1", "fraction", "down", "test macro-F1"),
)}

# Growth limits, in ``[growth.METRIC]`` tables: ``max_*`` fail the check, ``warn_*`` only warn.
# Percent and bytes apply to metrics where growth is worse; drop points to accuracy and macro-F1.
GROWTH_KEYS: dict[str, str] = {  # key -> unit kind
    "max_growth_percent": "percent", "warn_growth_percent": "percent",
    "max_growth_bytes": "bytes", "warn_growth_bytes": "bytes",
    "max_drop_points": "points", "warn_drop_points": "points",
}

# Settings: not limits, they say what the limits apply to. ``None`` = derived (see ``effective_settings``).
SETTINGS: dict[str, Any] = {
    "extends": None,  # preset name(s) or budget file(s) whose limits this table starts from
    "description": "",
    "format": "tflite_int8",  # export row read for size, arena, params and accuracy limits
    "baseline_format": None,  # format of the baseline row for the *_drop_points limits; None = `format`
    "latency_device": None,  # bench rows counted: device machine equal to it, or cpu model containing it
    "latency_runtime": None,  # None = from `format` ("tflite")
    "latency_precision": None,  # None = from `format` ("int8")
    "latency_threads": 1,
    "allow_emulated": False,  # count bench rows measured under emulation (qemu): never board figures
}

TOP_TABLES = ("model", "target", "growth")


def suggest(key: str, known: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'x'?)`` for the closest known key, else the list of known keys."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known keys: {', '.join(sorted(known))})"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_limit_value(key: str, value: Any, where: str) -> float | int:
    """Validate one limit value against its unit; return it normalised (ints for bytes and counts)."""
    return check_number(key, LIMITS[key].kind, value, where)


def check_number(key: str, kind: str, value: Any, where: str) -> float | int:
    """Validate a number of unit ``kind`` (see :data:`UNITS`); return it normalised (ints for bytes and counts)."""
    unit = UNITS[kind]
    if isinstance(value, str):
        raise BudgetError(f"{where}: {key} = {value!r} is text; write a plain number in {unit} "
                          f"(the unit is in the key name)")
    if not _number(value) or not math.isfinite(value):
        raise BudgetError(f"{where}: {key} = {value!r}: expected {unit}")
    if kind in ("bytes", "count"):
        if isinstance(value, float) and not value.is_integer():
            raise BudgetError(f"{where}: {key} = {value!r}: expected {unit}, not a number with decimals")
        value = int(value)
    return _check_range(key, kind, value, where)


def _growth_keys_for(metric: str) -> list[str]:
    """The growth keys that make sense for a metric: drop points for accuracy, percent (and bytes) else."""
    spec = METRICS[metric]
    if spec.worse == "down":
        return ["max_drop_points", "warn_drop_points"]
    return ["max_growth_percent", "warn_growth_percent"] + (
        ["max_growth_bytes", "warn_growth_bytes"] if spec.kind == "bytes" else [])


def validate_growth(tables: Any, where: str) -> dict[str, dict[str, float | int]]:
    """Validate ``[growth.METRIC]`` tables: known metrics, keys that fit the metric, numbers in their unit."""
    if not isinstance(tables, dict) or not all(isinstance(v, dict) for v in tables.values()):
        raise BudgetError(f"{where}: [growth] must hold one table per metric, e.g. [growth.file_bytes]")
    out: dict[str, dict[str, float | int]] = {}
    for metric, table in tables.items():
        if metric not in METRICS:
            raise BudgetError(f"{where}: [growth.{metric}]: unknown metric{suggest(metric, list(METRICS))}")
        allowed = _growth_keys_for(metric)
        out[metric] = {}
        for key, value in table.items():
            if key not in allowed:
                raise BudgetError(f"{where} [growth.{metric}]: {key!r} does not apply to {metric} "
                                  f"(keys: {', '.join(allowed)})")
            out[metric][key] = check_number(key, GROWTH_KEYS[key], value, f"{where} [growth.{metric}]")
    return out


def _check_range(key: str, kind: str, value: float | int, where: str) -> float | int:
    """Refuse a value outside its unit's range (fractions, kappa, points; nothing negative but kappa)."""
    unit = UNITS[kind]
    if kind == "fraction" and not 0.0 <= value <= 1.0:
        hint = f" (did you mean {value / 100:g}?)" if 1.0 < value <= 100.0 else ""
        raise BudgetError(f"{where}: {key} = {value!r}: expected {unit}{hint}")
    if kind == "kappa" and not -1.0 <= value <= 1.0:
        raise BudgetError(f"{where}: {key} = {value!r}: expected {unit}")
    if kind == "points" and not 0.0 <= value <= 100.0:
        raise BudgetError(f"{where}: {key} = {value!r}: expected {unit}")
    if value < 0 and kind != "kappa":
        raise BudgetError(f"{where}: {key} = {value!r}: must not be negative ({unit})")
    return value


def check_setting_value(key: str, value: Any, where: str) -> Any:
    """Validate one setting (``format``, ``latency_device``, ``extends`` ...)."""
    if key == "extends":
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise BudgetError(f"{where}: extends = {value!r}: expected a preset name or a list of them")
        return names
    if key == "format" and value not in TFLITE_FORMATS + STATEFUL_FORMATS:
        raise BudgetError(f"{where}: format = {value!r}: expected one of {', '.join(TFLITE_FORMATS + STATEFUL_FORMATS)}")
    if key == "baseline_format" and value not in EXPORT_FORMATS:
        raise BudgetError(f"{where}: baseline_format = {value!r}: expected one of {', '.join(EXPORT_FORMATS)}")
    if key == "latency_threads":
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise BudgetError(f"{where}: latency_threads = {value!r}: expected a whole number >= 1")
        return value
    if key == "allow_emulated":
        if not isinstance(value, bool):
            raise BudgetError(f"{where}: allow_emulated = {value!r}: expected true or false")
        return value
    if not isinstance(value, str) or (key != "description" and not value.strip()):
        raise BudgetError(f"{where}: {key} = {value!r}: expected a non-empty text value")
    return value


def validate_table(table: dict[str, Any], where: str, allowed_tables: tuple[str, ...] = (),
                   allow_extends: bool = True) -> dict[str, Any]:
    """Validate the flat keys of one budget table; sub-tables named in ``allowed_tables`` pass through.

    Returns a new dict with normalised values (sub-tables untouched, validated by the caller).
    """
    known = list(LIMITS) + [k for k in SETTINGS if allow_extends or k != "extends"] + list(allowed_tables)
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in allowed_tables and key == "growth":
            out[key] = validate_growth(value, where)
        elif key in allowed_tables:
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise BudgetError(f"{where}: [{key}] must hold named tables, e.g. [{key}.NAME]")
            out[key] = value
        elif key in LIMITS:
            out[key] = check_limit_value(key, value, where)
        elif key in SETTINGS and (allow_extends or key != "extends"):
            out[key] = check_setting_value(key, value, where)
        elif key == "extends":
            raise BudgetError(f"{where}: extends is allowed only at the top of a budget or in a [target.NAME] table")
        else:
            raise BudgetError(f"{where}: unknown key {key!r}{suggest(key, known)}")
    return out


def effective_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Fill the derived settings: baseline format and latency runtime/precision follow ``format``."""
    s = {k: v for k, v in SETTINGS.items() if k != "extends"}
    s.update({k: v for k, v in settings.items() if k != "extends"})
    runtime, precision = s["format"].removeprefix("stateful_").split("_", 1)
    s["baseline_format"] = s["baseline_format"] or s["format"]
    s["latency_runtime"] = s["latency_runtime"] or runtime
    s["latency_precision"] = s["latency_precision"] or precision
    return s
