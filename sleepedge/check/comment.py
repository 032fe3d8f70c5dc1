"""The comparison as text (the terminal) and as a pull-request comment (``--markdown FILE``).

The comment is read in five seconds: one verdict line, a table of every metric with its delta and an
arrow, the largest per-layer changes named, the failing limits, then the per-layer breakdown collapsed
in ``<details>``. Its first line is the hidden :data:`MARKER`, which the workflow searches for to update
one sticky comment instead of adding one per push (docs/github-actions-budget.yml).
"""
from __future__ import annotations

from typing import Any

from sleepedge.check.attribution_diff import QUANTITIES, human
from sleepedge.check.evaluate import CheckResult
from sleepedge.check.report import format_value, limit_cells
from sleepedge.check.schema import METRICS

MARKER = "<!-- sleepedge-check -->"
ARROWS = {1: "▲", -1: "▼", 0: "="}


def format_delta(metric: str, d: float | None) -> str:
    """A delta in the metric's unit: ``+12.0 KiB``, ``+1.25 M``, ``+0.40 ms``, ``-1.20 pt`` (accuracy)."""
    if d is None:
        return "n/a"
    kind = METRICS[metric].kind
    if kind in ("bytes", "count"):
        return human(kind, d)
    if kind == "ms":
        return f"{d:+.2f} ms"
    return f"{100 * d:+.2f} pt"


def arrow(metric: str, entry: dict[str, Any]) -> str:
    """▲ / ▼ / = for the direction, with ``(worse)`` when it moved the way the metric should not."""
    d = entry.get("delta")
    if d is None:
        return entry.get("side", "")
    sign = (d > 0) - (d < 0)
    worse = sign != 0 and (sign > 0) == (METRICS[metric].worse == "up")
    return ARROWS[sign] + (" worse" if worse else " better" if sign else "")


def metric_rows(result: CheckResult) -> list[list[str]]:
    """``[model, metric, base, new, delta, delta %, direction]`` for every compared metric measured on a side."""
    rows = []
    for model, entry in (result.comparison or {}).get("models", {}).items():
        if entry["side"] != "both":
            rows.append([model, "(model)", "-" if entry["side"] == "new only" else "present",
                         "-" if entry["side"] == "base only" else "present", "", "", entry["side"]])
            continue
        for metric, e in entry["metrics"].items():
            if e["side"] == "neither":
                continue
            pct = "n/a" if e["delta_pct"] is None else f"{e['delta_pct']:+.1f} %"
            kind = METRICS[metric].kind
            rows.append([model, metric, format_value(kind, e["base"]), format_value(kind, e["new"]),
                         format_delta(metric, e["delta"]), pct, arrow(metric, e)])
    return rows


def largest(result: CheckResult) -> list[str]:
    """The named largest changes, ``model: layer: weights +x, MACs +y``."""
    out = []
    for model, entry in (result.comparison or {}).get("models", {}).items():
        out += [f"{model}: {line}" for line in entry.get("largest", [])]
    return out


def format_comparison(result: CheckResult) -> str:
    """Plain-text table of the comparison and the largest changes (printed after the limit table)."""
    head = ["model", "metric", "base", "new", "delta", "delta %", ""]
    rows = [head] + metric_rows(result)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [f"against {result.comparison['base']}:"] + ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                                                         for r in rows]
    lines += [f"largest change: {x}" for x in largest(result)] or ["largest change: none (no layer changed)"]
    return "\n".join(lines)


def _md(s: str) -> str:
    return s.replace("|", "\\|")


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(_md(c) for c in r) + " |" for r in rows]


def verdict_md(result: CheckResult) -> str:
    """The one verdict line: icon, verdict, counts, the first failing limit."""
    icon = ":x:" if not result.passed else (":warning:" if result.warned else ":white_check_mark:")
    n, f, w = len(result.rows), len(result.failed), len(result.warned)
    first = f" — first failure: `{result.failed[0].model}` `{result.failed[0].limit}`" if result.failed else ""
    return (f"### {icon} sleepedge check **{result.verdict}**: {n - f} of {n} limits pass"
            + (f", {w} warning(s)" if w else "") + first)


def _limit_rows(result: CheckResult) -> list[list[str]]:
    return [limit_cells(r, bool(result.targets)) for r in result.rows if r.status != "PASS"]


def _layer_cells(row: dict[str, Any]) -> list[str]:
    cells = [row["layer"] + ("" if row["side"] == "both" else f" ({row['side']})")]
    for q in QUANTITIES:
        d = row.get(q)
        kind = "bytes" if q.endswith("_bytes") else "count"
        cells += ["", ""] if d is None else [human(kind, d["new"], signed=False),
                                             human(kind, d["delta"]) if d["delta"] else "="]
    return cells


def _arena_rows(arena: dict[str, Any]) -> list[list[str]]:
    items = [(f"arena {k}", arena[k]) for k in ("total", "head", "tail")] + list(arena["classes"].items())
    return [[name, human("bytes", d["base"], False) if d["base"] is not None else "-",
             human("bytes", d["new"], False) if d["new"] is not None else "-",
             human("bytes", d["delta"]) if d["delta"] else "="] for name, d in items]


def details_md(result: CheckResult) -> list[str]:
    """The collapsible per-layer section: every layer's weights, outputs, MACs and parameters, and the arena."""
    out = []
    for model, entry in (result.comparison or {}).get("models", {}).items():
        rows = [_layer_cells(r) for r in entry.get("layers", [])]
        if not rows and not entry.get("layer_notes"):
            continue
        head = ["layer", "weights", "Δ", "output", "Δ", "MACs/epoch", "Δ", "params", "Δ"]
        out += ["<details>", f"<summary>Per-layer breakdown: {model}</summary>", ""] + (_table(head, rows) if rows else [])
        if entry.get("arena"):
            out += ["", "TFLite Micro arena by allocation class (recording allocator):", ""]
            out += _table(["class", "base", "new", "Δ"], _arena_rows(entry["arena"]))
        out += [""] + [f"- {_md(n)}" for n in entry.get("layer_notes", [])] + ["", "</details>", ""]
    return out


def comment_markdown(result: CheckResult) -> str:
    """The pull-request comment (see the module docstring); without a comparison, the verdict and limits."""
    lines = [MARKER, verdict_md(result), ""]
    if result.comparison:
        lines += [f"Against `{result.comparison['base']}`:", ""]
        lines += _table(["model", "metric", "base", "new", "Δ", "Δ %", ""], metric_rows(result)) + [""]
        big = largest(result)
        lines += ["**Largest changes:** " + ("none" if not big else ""), ""] + [f"- {_md(x)}" for x in big] + [""]
    bad = _limit_rows(result)
    if bad:
        head = (["target"] if result.targets else []) + ["model", "limit", "budget", "measured", "headroom", "result", "note"]
        lines += ["**Limits that fail or warn:**", ""] + _table(head, bad) + [""]
    lines += details_md(result)
    lines += [f"- note: {_md(n)}" for n in result.notes]
    lines += ["", f"<sub>{len(result.rows)} limits, budget `{result.budget}`, target `{result.target}`</sub>", ""]
    return "\n".join(lines)
