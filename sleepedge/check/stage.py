"""The check as a pipeline stage: ``RUN/check/check.json`` plus its manifest."""
from __future__ import annotations

import logging
from pathlib import Path

from sleepedge.run.locking import run_lock
from sleepedge.run.manifest import (
    MANIFEST_NAME, atomic_write_json, atomic_write_text, dataset_of, dataset_title, write_manifest,
)
from sleepedge.run.transaction import stage_transaction

from sleepedge.check.evaluate import CheckResult
from sleepedge.check.gate import check_budget
from sleepedge.check.load import Budget, load_budget
from sleepedge.check.report import summary_markdown

log = logging.getLogger(__name__)


def parent_dir(run_dir: Path) -> Path | None:
    """The stage the check reads last: ``RUN/bench`` when finished, else ``RUN/export``."""
    return next((run_dir / s for s in ("bench", "export") if (run_dir / s / MANIFEST_NAME).is_file()), None)


def record_check_stage(run_dir: str | Path, budget: str | Path, *, models: list[str] | None = None,
                       targets: list[str] | None = None, overwrite: bool = False) -> CheckResult:
    """Check a run folder against a budget and record it as the run's ``check`` stage.

    Writes ``RUN/check/check.json`` (the result), ``check.md`` (its table) and then ``RUN/check/manifest.json`` (its parent is
    ``RUN/bench`` when the bench finished, else ``RUN/export``). A failed budget is a result, not an
    exception: the caller reads ``result.verdict`` / ``result.passed``.

    Parameters
    ----------
    run_dir
        The run folder.
    budget
        Budget TOML, pyproject.toml, or preset name (e.g. ``"rpi4"``).
    models, targets
        As in :func:`sleepedge.check.check_budget`.
    overwrite
        Redo a finished check stage (otherwise ``StageExistsError``).

    Returns
    -------
    CheckResult
        The result, with ``verdict`` ``"PASS"`` or ``"FAIL"``.
    """
    run_dir = Path(run_dir)
    b = load_budget(budget)  # before touching the run folder: a bad budget leaves no half stage
    with run_lock(run_dir):  # what is checked and what is recorded come from one state of the run
        result = check_budget(b, run_dir, models=models, targets=targets)
        parent = parent_dir(run_dir)
        dataset = dataset_of(parent) if parent else {}
        with stage_transaction(run_dir / "check", overwrite=overwrite) as stage_dir:
            _record(stage_dir, result, b, budget, parent, dataset)
    log.info("check stage: %s (%d of %d limits pass)", result.verdict, len(result.rows) - len(result.failed),
             len(result.rows))
    return result


def _record(stage_dir: Path, result: CheckResult, b: Budget, budget: str | Path, parent: Path | None, dataset: dict) -> None:
    """check.json, check.md and the manifest of the check stage (into its build folder)."""
    out = atomic_write_json(stage_dir / "check.json", result.to_dict(), overwrite=True)
    label = f"Measured on: {dataset_title(dataset)}\n\n" if dataset_title(dataset) else ""
    md = atomic_write_text(stage_dir / "check.md", label + summary_markdown(result), overwrite=True)
    write_manifest(
        stage_dir, "check",
        outputs={"check": out, "check_md": md}, dataset=dataset,
        inputs={f"budget{i or ''}": f for i, f in enumerate(b.files)},
        parent=parent,
        config={"budget": str(budget), "models": result.models, "targets": result.targets,
                "resolved": b.to_dict()},
        metrics={"verdict": result.verdict, "passed": result.passed, "n_limits": len(result.rows),
                 "n_failed": len(result.failed),
                 "failed": [f"{r.target + '/' if r.target else ''}{r.model}:{r.limit}" for r in result.failed]},
    )
