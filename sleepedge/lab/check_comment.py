"""The pull-request comment of ``sleepedge check --against`` on a run, for docs/budget.md.

    python -m sleepedge.lab.check_comment --run RUN [--against BASE] [--budget BUDGET]

Runs the gate on RUN against BASE (default: RUN itself, so every delta is zero) with the budget (default:
the ``wearable`` preset plus the growth limits of :data:`GROWTH`, written to a temporary file) and prints
the comment that ``--markdown`` writes, then the budget it used. ``scripts/docs_measurements.sh
check_comment`` captures it into docs/generated/check_comment.md. Exits 0 whatever the verdict: the
comment, not the gate, is the output here.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

GROWTH = """extends = "wearable"

[growth.file_bytes]
max_growth_percent = 5.0
warn_growth_percent = 1.0

[growth.arena_bytes]
max_growth_bytes = 16384
warn_growth_bytes = 4096

[growth.macs_per_epoch]
max_growth_percent = 5.0

[growth.macro_f1]
max_drop_points = 1.0
warn_drop_points = 0.5
"""


def render(run: Path, against: Path | None, budget: str | None) -> str:
    """The comment of the gate on ``run`` against ``against`` (default ``run``) and the budget text."""
    from sleepedge.check import check_budget
    from sleepedge.check.comment import comment_markdown

    with tempfile.TemporaryDirectory(prefix="sleepedge-comment-") as tmp:
        path = budget
        if path is None:
            path = str(Path(tmp) / "budget.toml")
            Path(path).write_text(GROWTH, "utf-8")
        text = GROWTH if budget is None else Path(budget).read_text("utf-8") if Path(budget).is_file() else budget
        result = check_budget(path, run, against=against or run, details=True)
        comment = comment_markdown(result)
    return comment + "\n---\n\nBudget used (`--budget`):\n\n```toml\n" + text.strip() + "\n```\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=Path("runs/demo"))
    ap.add_argument("--against", type=Path, default=None, help="base run, export folder or result JSON")
    ap.add_argument("--budget", default=None, help="budget file or preset (default: wearable + growth limits)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(render(a.run, a.against, a.budget))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
