"""The metrics of one model that ``--against`` compares: one value (or the reason it is missing) per metric.

Read the way the limits read them (:mod:`sleepedge.check.measure`), with the budget's top-level settings
(``format``, latency runtime and device); ``macs_per_epoch`` comes from the export row (computed from the
architecture), ``instructions_per_epoch`` from callgrind, only when asked for (it costs seconds per file).
"""
from __future__ import annotations

from typing import Any

from sleepedge.check.measure import Measured, export_row, instructions_value, measure
from sleepedge.check.schema import METRICS
from sleepedge.check.target import Target

BY_LIMIT = {  # metric -> the limit whose measurement it shares
    "file_bytes": "max_tflite_bytes", "arena_bytes": "max_arena_bytes", "params": "max_params",
    "latency_ms_p50": "max_latency_ms_p50", "accuracy": "min_accuracy", "macro_f1": "min_macro_f1",
}


def _macs(t: Target, model: str, fmt: str) -> Measured:
    if t.kind == "tflite":
        return Measured(None, "not measured: a single .tflite file carries no architecture")
    row, why = export_row(t, model, fmt)
    v = None if row is None else row.get("macs_per_epoch")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return Measured(None, f"not measured: {why or f'export row {model}/{fmt} has no macs_per_epoch'}")
    return Measured(v, f"macs_per_epoch of export row {model}/{fmt}")


def metric_value(t: Target, model: str, name: str, settings: dict[str, Any]) -> Measured:
    """One metric of ``model``; ``value=None`` with the reason when it was not measured."""
    if name in BY_LIMIT:
        return measure(t, model, BY_LIMIT[name], settings)
    if name == "macs_per_epoch":
        return _macs(t, model, settings["format"])
    if name == "instructions_per_epoch":
        return instructions_value(t, model, settings["format"])
    raise KeyError(name)  # schema.METRICS and this dispatch stay in step (tested)


def collect_metrics(t: Target, model: str, settings: dict[str, Any], instructions: bool) -> dict[str, dict[str, Any]]:
    """``{metric: {"value": v or None, "detail": str}}`` for every metric of :data:`METRICS`.

    ``instructions_per_epoch`` is measured only when ``instructions`` is true, else recorded as not asked for.
    """
    out: dict[str, dict[str, Any]] = {}
    for name in METRICS:
        if name == "instructions_per_epoch" and not instructions:
            out[name] = {"value": None, "detail": "not measured: not asked for (--instructions or a limit on it)"}
            continue
        m = metric_value(t, model, name, settings)
        out[name] = {"value": m.value, "detail": m.detail}
    return out
