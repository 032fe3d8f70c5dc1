"""Show a check result: a text table, a JSON file, GitHub Actions annotations and a job-summary table."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sleepedge.run.manifest import atomic_write_json

from sleepedge.check.evaluate import CheckResult, LimitRow


def format_value(kind: str, v: float | None) -> str:
    """A value with its unit, e.g. ``1,048,576 B``, ``12.30 ms``, ``0.7012``, ``1.80 pt``."""
    if v is None:
        return "not measured"
    if kind == "bytes":
        return f"{int(v):,} B"
    if kind == "count":
        return f"{int(v):,}"
    if kind == "ms":
        return f"{v:.2f} ms"
    if kind == "points":
        return f"{v:.2f} pt"
    if kind == "percent":
        return f"{v:.2f} %"
    if kind == "kappa":
        return f"{v:.3f}"
    return f"{v:.4f}"


def limit_cells(r: LimitRow, with_target: bool) -> list[str]:
    """The cells of one limit row (target, model, limit, budget, measured, headroom, result, note)."""
    limit = ("<= " if r.bound == "max" else ">= ") + format_value(r.kind, r.limit_value)
    head = "n/a" if r.headroom_pct is None else f"{r.headroom_pct:+.1f} %"
    cells = [r.target or "-"] if with_target else []
    return cells + [r.model, r.limit, limit, format_value(r.kind, r.measured), head, r.status,
                    "" if r.status == "PASS" else r.detail]


def _header(with_target: bool) -> list[str]:
    return (["target"] if with_target else []) + ["model", "limit", "budget", "measured", "headroom", "result", "note"]


def format_table(result: CheckResult) -> str:
    """Plain-text table, one row per limit, then the verdict line."""
    wt = bool(result.targets)
    rows = [_header(wt)] + [limit_cells(r, wt) for r in result.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[-1] for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  ----")
    lines.append(verdict_line(result))
    return "\n".join(line.rstrip() for line in lines)


def verdict_line(result: CheckResult) -> str:
    n, f, w = len(result.rows), len(result.failed), len(result.warned)
    warned = f", {w} with a warning" if w else ""
    return (f"budget check {result.verdict}: {n - f} of {n} limits pass{warned} "
            f"(budget {result.budget}; target {result.target})")


def write_json(result: CheckResult, path: str | Path, overwrite: bool = False) -> Path:
    """Write ``result.to_dict()`` atomically (refuses an existing file unless ``overwrite``)."""
    return atomic_write_json(path, result.to_dict(), overwrite=overwrite)


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _relative(path: str) -> str | None:
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return None


def github_error(title: str, message: str, file: str | None = None) -> str:
    """One ``::error`` workflow command, escaped as GitHub Actions expects."""
    file_prop = f"file={_escape_property(file)}," if file else ""
    return f"::error {file_prop}title={_escape_property(title)}::{_escape_data(message)}"


def github_annotations(result: CheckResult) -> list[str]:
    """``::error`` workflow commands, one per failed limit, plus one ``::notice`` with the verdict."""
    out = []
    budget_file = _relative(result.budget_files[0]) if result.budget_files else None
    for r in result.failed:
        who = r.model + (f" on {r.target}" if r.target else "")
        limit = ("<= " if r.bound == "max" else ">= ") + format_value(r.kind, r.limit_value)
        what = (f"measured {format_value(r.kind, r.measured)}, budget {limit} "
                f"(headroom {r.headroom_pct:+.1f} %)" if r.measured is not None and r.headroom_pct is not None
                else f"measured {format_value(r.kind, r.measured)}, budget {limit}")
        msg = f"{who}: {r.limit} {what}; {r.detail} [set by {r.source}]"
        out.append(github_error(f"Budget FAIL: {who} {r.limit}", msg, budget_file))
    for r in result.warned:
        who = r.model + (f" on {r.target}" if r.target else "")
        msg = f"{who}: {r.limit} {format_value(r.kind, r.measured)} over the warning level " \
              f"{format_value(r.kind, r.limit_value)}; {r.detail} [set by {r.source}]"
        file_prop = f"file={_escape_property(budget_file)}," if budget_file else ""
        out.append(f"::warning {file_prop}title={_escape_property(f'Budget WARN: {who} {r.limit}')}::{_escape_data(msg)}")
    out.append(f"::notice title=sleepedge budget check::{_escape_data(verdict_line(result))}")
    return out


def _md(s: str) -> str:
    return s.replace("|", "\\|")


def summary_markdown(result: CheckResult) -> str:
    """A markdown section for ``$GITHUB_STEP_SUMMARY``."""
    wt = bool(result.targets)
    icon = ":white_check_mark:" if result.passed else ":x:"
    lines = [f"### {icon} sleepedge budget check: {result.verdict}", "",
             f"Budget `{result.budget}`, target `{result.target}` ({result.target_kind}).", "",
             "| " + " | ".join(_header(wt)) + " |", "|" + "---|" * len(_header(wt))]
    for r in result.rows:
        cells = limit_cells(r, wt)
        cells[-2] = f"**{r.status}**" if not r.passed else r.status
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    lines += [""] + [f"- note: {_md(n)}" for n in result.notes] + [""]
    return "\n".join(lines)


def emit_github(result: CheckResult, stream: Any, environ: dict[str, str] | None = None) -> Path | None:
    """Print the annotations to ``stream`` and append the summary to ``$GITHUB_STEP_SUMMARY`` when set.

    The summary file is appended to, not replaced (GitHub collects every step's additions there), so
    it is the one file this module writes without :mod:`sleepedge.run.manifest`'s atomic writes.
    """
    for line in github_annotations(result):
        print(line, file=stream)
    summary = (environ if environ is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not summary:
        return None
    with open(summary, "a", encoding="utf-8") as f:
        f.write(summary_markdown(result))
    return Path(summary)
