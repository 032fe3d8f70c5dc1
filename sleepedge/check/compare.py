"""``--against BASE``: the metrics and layers of the checked models against a base, and the growth limits.

BASE is a result JSON written by ``sleepedge check --json`` (on the main branch), a run folder or an export
folder (measured here, with the same budget settings). Every metric of every model gets the base value, the
new value, the delta and the delta in percent; models and metrics present on one side only are listed as
such, never skipped. A growth limit (``[growth.METRIC]`` in the budget) whose metric is missing on either
side fails (fails closed); a ``warn_*`` level only warns.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sleepedge.core.errors import DataError

from sleepedge.check.attribution_diff import delta, layer_deltas
from sleepedge.check.evaluate import LimitRow, at_limit, headroom_pct
from sleepedge.check.schema import GROWTH_KEYS, METRICS

SCHEMA_PREFIX = "sleepedge.check/"


@dataclass
class Snapshot:
    """One side of a comparison: per model, its metrics (``{name: {value, detail}}``) and attribution."""

    source: str
    metrics: dict[str, dict[str, dict[str, Any]]]
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_result_json(path: Path) -> Snapshot:
    """The snapshot in a result JSON of ``sleepedge check --json``; ``DataError`` naming what is wrong."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not str(data.get("schema", "")).startswith(SCHEMA_PREFIX):
        raise DataError(f"{path}: not a result of `sleepedge check --json` (no schema {SCHEMA_PREFIX}*)")
    metrics = data.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise DataError(f"{path}: the result holds no metrics (written by an older sleepedge check?); "
                        "rerun `sleepedge check --json` on the base")
    return Snapshot(str(path), metrics, data.get("layers") or {})


def _value(snap: Snapshot, model: str, metric: str) -> tuple[float | None, str]:
    m = snap.metrics.get(model, {}).get(metric) or {}
    v = m.get("value")
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    return (v if ok else None), str(m.get("detail") or f"no {metric} recorded")


def compare_metrics(base: Snapshot, new: Snapshot, model: str) -> dict[str, dict[str, Any]]:
    """Every metric of one model on both sides; ``side`` says ``both``, ``base only``, ``new only`` or ``neither``."""
    out = {}
    for metric in METRICS:
        (b, b_why), (n, n_why) = _value(base, model, metric), _value(new, model, metric)
        entry = delta(b, n)
        entry["side"] = {(True, True): "both", (True, False): "base only", (False, True): "new only",
                         (False, False): "neither"}[(b is not None, n is not None)]
        entry["note"] = "" if entry["side"] == "both" else (b_why if b is None else n_why)
        out[metric] = entry
    return out


def compare(base: Snapshot, new: Snapshot) -> dict[str, Any]:
    """The comparison of two snapshots: per model, its side, metric deltas and layer deltas."""
    models: dict[str, Any] = {}
    for model in list(dict.fromkeys(list(new.metrics) + list(base.metrics))):
        side = "both" if model in new.metrics and model in base.metrics else (
            "new only" if model in new.metrics else "base only")
        entry: dict[str, Any] = {"side": side}
        if side == "both":
            entry["metrics"] = compare_metrics(base, new, model)
            entry.update(layer_deltas(base.layers.get(model), new.layers.get(model)))
        models[model] = entry
    return {"base": base.source, "new": new.source, "models": models}


def growth_value(key: str, b: float, n: float) -> float:
    """The growth a ``[growth.METRIC]`` key limits: percent of the base, bytes, or points dropped."""
    kind = GROWTH_KEYS[key]
    if kind == "bytes":
        return n - b
    if kind == "points":
        return (b - n) * 100.0
    if b == 0:
        return 0.0 if n == b else math.inf
    return 100.0 * (n - b) / abs(b)


def evaluate_growth(model: str, target: str | None, metric: str, key: str, limit: float,
                    base: Snapshot, new: Snapshot, source: str) -> LimitRow:
    """One growth row: FAIL (``max_*``) or WARN (``warn_*``) when over the limit or not measured on a side."""
    name, kind, over = f"growth.{metric}.{key}", GROWTH_KEYS[key], "FAIL" if key.startswith("max_") else "WARN"
    (b, b_why), (n, n_why) = _value(base, model, metric), _value(new, model, metric)
    if b is None or n is None:
        why = (f"model {model} is not in the base {base.source}" if model not in base.metrics
               else f"base: {b_why}" if b is None else f"new: {n_why}")
        return LimitRow(model, target, name, "max", kind, limit, None, None, over, f"not measured: {why}", source)
    g = growth_value(key, b, n)
    ok = math.isfinite(g) and (at_limit(g, limit) or g <= limit)
    head = headroom_pct("max", limit, g) if math.isfinite(g) else None
    detail = f"{metric} {b:g} -> {n:g}" + ("" if math.isfinite(g) else " (base is 0)")
    return LimitRow(model, target, name, "max", kind, limit, g if math.isfinite(g) else None, head,
                    "PASS" if ok else over, detail, source)
