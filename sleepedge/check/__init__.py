"""Size budgets as a CI gate: ``sleepedge check --budget BUDGET TARGET`` (numpy-free, standard library only).

A budget (TOML, or ``[tool.sleepedge.budget]`` in pyproject.toml) sets limits whose key names carry
the unit (``max_tflite_bytes``, ``max_latency_ms_p50``, ``min_macro_f1`` ...). The check reads the
export rows and bench results of a run folder (or one .tflite file), makes one row per limit, and
fails closed on anything not measured. See docs/budget.md.
"""
from __future__ import annotations

from sleepedge.check.evaluate import CheckResult, LimitRow
from sleepedge.check.gate import check_budget
from sleepedge.check.load import Budget, load_budget, preset_names
from sleepedge.check.report import emit_github, format_table, summary_markdown, write_json
from sleepedge.check.schema import LIMITS, SETTINGS
from sleepedge.check.stage import record_check_stage
from sleepedge.check.target import Target, load_target

__all__ = [
    "Budget", "CheckResult", "LIMITS", "LimitRow", "SETTINGS", "Target", "check_budget", "emit_github",
    "format_table", "load_budget", "load_target", "preset_names", "record_check_stage", "summary_markdown",
    "write_json",
]
