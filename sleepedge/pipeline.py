"""``sleepedge pipeline``: train -> compress -> export -> bench -> check, then ``RUN/report.md``.

Each stage is skipped when its manifest exists (it finished), so rerunning after an interruption or
a failure continues from the last completed stage. A failing stage stops the pipeline with its error;
the earlier stages' results stay usable. The resolved config is stored as ``RUN/config.json`` and a
rerun with a different config is refused (use a new run folder or ``--overwrite``).
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .config import Config, ConfigError
from .runfolder import atomic_write_json, is_stage_done

log = logging.getLogger(__name__)

STAGES = ("train", "compress", "export", "bench", "check")


@dataclass
class StageOutcome:
    stage: str
    status: str  # "done" (ran now), "skipped" (finished earlier), "failed"
    seconds: float = 0.0
    error: str = ""


def _run_train(run: Path, cfg: Config) -> None:
    from sleepedge.train.stage import run_train_stage

    run_train_stage(run, cfg)


def _run_compress(run: Path, cfg: Config) -> None:
    from sleepedge.compress.stage import run_compress_stage

    run_compress_stage(run, cfg)


def _run_export(run: Path, cfg: Config) -> None:
    from sleepedge.export.stage import run_export_stage

    run_export_stage(run, cfg)


def _run_bench(run: Path, cfg: Config) -> None:
    from sleepedge.firmware_bench.stage import run_bench_stage

    run_bench_stage(run, cfg)


def _run_check(run: Path, cfg: Config) -> None:
    from sleepedge.budget import record_check_stage

    record_check_stage(run, budget_for(cfg))


RUNNERS: dict[str, Callable[[Path, Config], None]] = {
    "train": _run_train, "compress": _run_compress, "export": _run_export, "bench": _run_bench, "check": _run_check,
}


def budget_for(cfg: Config) -> str:
    """The budget the pipeline checks: ``check.budget`` (a TOML path) or the preset named by ``check.preset``."""
    return cfg.check.budget or cfg.check.preset


def _pin_config(run: Path, cfg: Config, overwrite: bool) -> None:
    """Store the run's config on first use; refuse a rerun with another config."""
    path = run / "config.json"
    new = cfg.to_dict()
    if path.is_file() and not overwrite:
        old = json.loads(path.read_text("utf-8"))
        if old != new:
            diff = sorted(f"{s}.{k}" for s in new if isinstance(new[s], dict)
                          for k in new[s] if old.get(s, {}).get(k) != new[s][k])
            raise ConfigError(f"{run}: was started with another config (differs in {', '.join(diff) or 'name'}); "
                              "use a new --out folder or pass --overwrite to start over")
        return
    if overwrite and run.exists():
        for stage in STAGES:
            shutil.rmtree(run / stage, ignore_errors=True)
        (run / "report.md").unlink(missing_ok=True)
    atomic_write_json(path, new, overwrite=True)


def run_pipeline(run_dir: str | Path, cfg: Config, overwrite: bool = False, stages: tuple[str, ...] = STAGES) -> list[StageOutcome]:
    """Run the stages in order, skipping finished ones.

    A stage that raises is recorded as ``failed`` with its error and stops the run (no later stage
    runs); the report is written in every case. Returns one outcome per stage attempted.
    """
    from .report import write_report

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    _pin_config(run, cfg, overwrite)
    outcomes: list[StageOutcome] = []
    try:
        for stage in stages:
            if is_stage_done(run, stage):
                log.info("%s: finished earlier, skipped", stage)
                outcomes.append(StageOutcome(stage, "skipped"))
                continue
            log.info("%s: running", stage)
            t0 = time.perf_counter()
            try:
                RUNNERS[stage](run, cfg)
            except Exception as exc:  # a failed stage stops the pipeline; earlier stages stay usable
                log.error("%s failed", stage, exc_info=log.isEnabledFor(logging.DEBUG))
                outcomes.append(StageOutcome(stage, "failed", time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"))
                break
            outcomes.append(StageOutcome(stage, "done", time.perf_counter() - t0))
    finally:
        atomic_write_json(run / "pipeline.json", [o.__dict__ for o in outcomes], overwrite=True)
        write_report(run, outcomes)
    return outcomes


def outcome_table(outcomes: list[StageOutcome]) -> str:
    """Plain-text table of what each stage did."""
    lines = [f"{'stage':<10} {'status':<8} {'seconds':>8}  error"]
    lines += [f"{o.stage:<10} {o.status:<8} {o.seconds:>8.1f}  {o.error}" for o in outcomes]
    return "\n".join(lines)


def budget_verdict(run_dir: str | Path) -> str:
    """``"PASS"``/``"FAIL"`` with the failed limits, from ``RUN/check``; "" when the check has not run."""
    p = Path(run_dir) / "check" / "manifest.json"
    if not p.is_file():
        return ""
    m = json.loads(p.read_text("utf-8"))["metrics"]
    return m["verdict"] + (f" ({', '.join(m['failed'])})" if m.get("failed") else "")


def load_outcomes(run: Path) -> list[dict[str, Any]]:
    p = run / "pipeline.json"
    return json.loads(p.read_text("utf-8")) if p.is_file() else []
