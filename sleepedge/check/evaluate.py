"""Compare measured values with limits: one row per (target, model, limit), PASS or FAIL.

A limit whose metric was not measured FAILS (fails closed): a CI gate must not pass a model because
a stage was skipped. A value exactly at its limit passes, with a small tolerance for float rounding
(:data:`REL_TOL`, :data:`ABS_TOL`; documented in docs/budget.md).
"""
from __future__ import annotations

import datetime as _dt
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from sleepedge.check.measure import Measured
from sleepedge.check.schema import LIMITS

RESULT_SCHEMA = "sleepedge.check/1"
# A value this close to its limit counts as AT the limit (passes): measured values are computed in
# floating point (e.g. (0.86 - 0.84) * 100 = 2.0000000000000018 accuracy points against a limit of 2).
# Far below any meaningful difference of the metrics; bytes and counts are whole numbers anyway.
REL_TOL = 1e-9
ABS_TOL = 1e-9


def at_limit(measured: float, limit: float) -> bool:
    """Whether ``measured`` equals ``limit`` within :data:`REL_TOL` / :data:`ABS_TOL` (docs/budget.md)."""
    return math.isclose(measured, limit, rel_tol=REL_TOL, abs_tol=ABS_TOL)


@dataclass
class LimitRow:
    """One checked limit."""

    model: str
    target: str | None
    limit: str
    bound: str  # max | min
    kind: str  # unit kind, see schema.UNITS
    limit_value: float
    measured: float | None
    headroom_pct: float | None
    status: str  # PASS | WARN (a warn-level growth limit exceeded: passes) | FAIL
    detail: str
    source: str  # which file/table/preset set the limit

    @property
    def passed(self) -> bool:
        """PASS or WARN: only FAIL fails the check."""
        return self.status != "FAIL"


def headroom_pct(bound: str, limit: float, measured: float) -> float | None:
    """How far inside the limit the value is, in % of the limit (negative = over the limit)."""
    if limit == 0:
        return None
    if at_limit(measured, limit):
        return 0.0
    gap = limit - measured if bound == "max" else measured - limit
    return 100.0 * gap / abs(limit)


def evaluate_limit(model: str, target: str | None, key: str, limit: float, m: Measured, source: str) -> LimitRow:
    """One row: PASS when the measured value is within the limit, FAIL when over it or not measured."""
    spec = LIMITS[key]
    if m.value is None:
        return LimitRow(model, target, key, spec.bound, spec.kind, limit, None, None, "FAIL", m.detail, source)
    ok = at_limit(m.value, limit) or (m.value <= limit if spec.bound == "max" else m.value >= limit)
    return LimitRow(model, target, key, spec.bound, spec.kind, limit, m.value,
                    headroom_pct(spec.bound, limit, m.value), "PASS" if ok else "FAIL", m.detail, source)


@dataclass
class CheckResult:
    """All rows of one check, with the overall verdict."""

    budget: str
    target: str
    target_kind: str
    models: list[str]
    rows: list[LimitRow]
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    budget_files: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # model -> metric -> value, detail
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)  # model -> attribution (check.layers)
    comparison: dict[str, Any] | None = None  # --against: check.compare.compare()

    @property
    def warned(self) -> list[LimitRow]:
        return [r for r in self.rows if r.status == "WARN"]

    @property
    def failed(self) -> list[LimitRow]:
        return [r for r in self.rows if not r.passed]

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "FAIL"

    @property
    def exit_code(self) -> int:
        """0 when every limit passes, 1 when any fails (bad input is exit 2, raised before this)."""
        return 0 if self.passed else 1

    @property
    def targets(self) -> list[str]:
        return list(dict.fromkeys(r.target for r in self.rows if r.target is not None))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written by ``--json`` and into ``RUN/check/check.json``."""
        return {
            "schema": RESULT_SCHEMA,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "verdict": self.verdict,
            "passed": self.passed,
            "n_limits": len(self.rows),
            "n_failed": len(self.failed),
            "budget": self.budget,
            "budget_files": self.budget_files,
            "target": self.target,
            "target_kind": self.target_kind,
            "models": self.models,
            "targets": self.targets,
            "settings": self.settings,
            "rows": [asdict(r) for r in self.rows],
            "notes": self.notes,
            "n_warned": len(self.warned),
            "metrics": self.metrics,
            "layers": self.layers,
            "comparison": self.comparison,
        }
