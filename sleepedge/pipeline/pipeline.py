"""``sleepedge pipeline``: train -> compress -> export -> bench -> check, then ``RUN/report.md``.

A rerun continues an interrupted or failed run: every finished stage is re-verified before it is
skipped (its files against their sha256, its parent's manifest digest, the settings it was made
with). A stage that fails that is redone, and its outcome says why ("redone: ..."); later stages
then become stale and are redone too. A failing stage stops the pipeline with its error; the
earlier stages' results stay usable. Every stage is a transaction (:mod:`sleepedge.run.transaction`), so
``--overwrite`` replaces each stage only once its new version is complete.

The resolved config is stored as ``RUN/config.json`` and a rerun with a different config is refused
(use a new run folder or ``--overwrite``), except for the ``[check]`` section: another budget only
redoes the check stage. The budget is loaded and validated before the first stage runs.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sleepedge.config.settings import Config, ConfigError, validate_config, validate_split
from sleepedge.run.locking import check_folder, run_lock
from sleepedge.run.manifest import MANIFEST_NAME, ManifestError, atomic_write_json, read_manifest
from sleepedge.run.transaction import differing_keys, recover_run, stale_reason

log = logging.getLogger(__name__)

STAGES = ("train", "compress", "export", "bench", "check")
# Config sections each stage's results depend on (keys that change no result are left out).
STAGE_SECTIONS = {"train": ("data", "model", "train"), "compress": ("train", "compress"), "export": ("export",)}
NO_EFFECT = {"data.cache_dir", "train.threads", "train.device"}


@dataclass
class StageOutcome:
    stage: str
    status: str  # "done" (ran now), "skipped" (finished earlier, re-verified), "failed"
    seconds: float = 0.0
    error: str = ""
    note: str = ""  # why a finished stage was redone


def _run_train(run: Path, cfg: Config, overwrite: bool = False) -> None:
    from sleepedge.train.stage import run_train_stage

    run_train_stage(run, cfg, overwrite=overwrite)


def _run_compress(run: Path, cfg: Config, overwrite: bool = False) -> None:
    from sleepedge.compress.stage import run_compress_stage

    run_compress_stage(run, cfg, overwrite=overwrite)


def _run_export(run: Path, cfg: Config, overwrite: bool = False) -> None:
    from sleepedge.export.stage import run_export_stage

    run_export_stage(run, cfg, overwrite=overwrite)


def _run_bench(run: Path, cfg: Config, overwrite: bool = False) -> None:
    from sleepedge.firmware_bench.stage import run_bench_stage

    run_bench_stage(run, cfg, overwrite=overwrite)


def _run_check(run: Path, cfg: Config, overwrite: bool = False) -> None:
    from sleepedge.check import record_check_stage

    record_check_stage(run, budget_for(cfg), overwrite=overwrite)


RUNNERS: dict[str, Callable[..., None]] = {
    "train": _run_train, "compress": _run_compress, "export": _run_export, "bench": _run_bench, "check": _run_check,
}


def budget_for(cfg: Config) -> str:
    """The budget the pipeline checks: ``check.budget`` (a TOML path) or the preset named by ``check.preset``."""
    return cfg.check.budget or cfg.check.preset


def _comparable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != "check"}


def _pin_config(run: Path, cfg: Config, overwrite: bool) -> None:
    """Store the run's config on first use; refuse a rerun with another config (the [check] section may change)."""
    path = run / "config.json"
    new = cfg.to_dict()
    if path.is_file() and not overwrite:
        try:
            old = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{path}: not readable JSON ({exc}); restore it or pass --overwrite") from None
        if not isinstance(old, dict) or _comparable(old) != _comparable(new):
            diff = differing_keys(_comparable(old) if isinstance(old, dict) else {}, _comparable(new))
            raise ConfigError(f"{run}: was started with another config (differs in {', '.join(diff) or 'name'}); "
                              "use a new --out folder or pass --overwrite to redo every stage")
    atomic_write_json(path, new, overwrite=True)


def _config_of(manifest: dict[str, Any]) -> dict[str, Any]:
    config = manifest.get("config")
    return config if isinstance(config, dict) else {}


def _config_change(stage: str, manifest: dict[str, Any], cfg: Config) -> str:
    """Config keys this stage's results depend on that differ from what it was made with ("" = none)."""
    now = cfg.to_dict()
    if stage == "bench":
        from sleepedge.firmware_bench.settings import BenchSettings

        was, want = _config_of(manifest).get("bench"), BenchSettings.from_config(cfg.bench).to_dict()
        return ", ".join(f"bench.{k}" for k in differing_keys(was or {}, want))
    was = _config_of(manifest)
    keys = [k for sec in STAGE_SECTIONS.get(stage, ()) for k in differing_keys({sec: was.get(sec)}, {sec: now[sec]})]
    return ", ".join(k for k in keys if k not in NO_EFFECT)


def _budget_content(d: Any) -> Any:
    """A resolved budget without where its files lie (a moved checkout changes no limit)."""
    return {k: v for k, v in d.items() if k not in ("source", "files")} if isinstance(d, dict) else d


def _budget_change(manifest: dict[str, Any], budget: Any) -> str:
    """"the budget changed" when the limits and settings differ from those the check stage used."""
    if budget is None:
        return ""
    recorded = _budget_content(_config_of(manifest).get("resolved"))
    now = _budget_content(json.loads(json.dumps(budget.to_dict(), default=str)))
    return "" if recorded == now else "the budget changed"


def redo_reason(run: Path, stage: str, cfg: Config, budget: Any = None) -> str | None:
    """None when ``RUN/stage`` is finished and still valid; else why it must run ("" = it never finished)."""
    d = run / stage
    if not (d / MANIFEST_NAME).is_file():
        return ""
    try:
        manifest = read_manifest(d, verify=True)
        why = stale_reason(d)
    except (ManifestError, OSError) as exc:
        return f"its files do not match its manifest ({exc})"
    if why:
        return f"stale: {why}"
    changed = _budget_change(manifest, budget) if stage == "check" else _config_change(stage, manifest, cfg)
    return f"made with other settings ({changed})" if changed else None


def _attempt(run: Path, cfg: Config, stage: str, overwrite: bool, note: str) -> StageOutcome:
    log.info("%s: running%s", stage, f" ({note})" if note else "")
    t0 = time.perf_counter()
    try:
        RUNNERS[stage](run, cfg, overwrite=overwrite)
    except Exception as exc:  # a failed stage stops the pipeline; earlier stages stay usable
        log.error("%s failed", stage, exc_info=log.isEnabledFor(logging.DEBUG))
        return StageOutcome(stage, "failed", time.perf_counter() - t0, f"{type(exc).__name__}: {exc}", note)
    return StageOutcome(stage, "done", time.perf_counter() - t0, note=note)


def run_pipeline(run_dir: str | Path, cfg: Config, overwrite: bool = False, stages: tuple[str, ...] = STAGES) -> list[StageOutcome]:
    """Run the stages in order, skipping finished ones that re-verify, redoing those that do not.

    A stage that raises is recorded as ``failed`` with its error and stops the run (no later stage
    runs); the report is written in every case. Returns one outcome per stage attempted.
    """
    from sleepedge.check import load_budget
    from sleepedge.pipeline.report import write_report

    run = check_folder(run_dir)
    validate_config(cfg)  # every key in range, the budget valid: before any heavy stage
    if "train" in stages:
        validate_split(cfg)
    budget = load_budget(budget_for(cfg)) if "check" in stages else None
    outcomes: list[StageOutcome] = []
    with run_lock(run):
        recover_run(run)
        _pin_config(run, cfg, overwrite)
        try:
            for stage in stages:
                why = "" if overwrite else redo_reason(run, stage, cfg, budget)
                if why is None:
                    log.info("%s: finished earlier and re-verified, skipped", stage)
                    outcomes.append(StageOutcome(stage, "skipped"))
                    continue
                if why:
                    log.warning("%s: redoing it: %s", stage, why)
                redo = overwrite or bool(why)
                outcomes.append(_attempt(run, cfg, stage, redo, f"redone: {why}" if why else ""))
                if outcomes[-1].status == "failed":
                    break
        finally:
            atomic_write_json(run / "pipeline.json", [o.__dict__ for o in outcomes], overwrite=True)
            write_report(run, outcomes)
    return outcomes


def outcome_table(outcomes: list[StageOutcome]) -> str:
    """Plain-text table of what each stage did (and why a finished stage was redone)."""
    lines = [f"{'stage':<10} {'status':<8} {'seconds':>8}  error / note"]
    lines += [f"{o.stage:<10} {o.status:<8} {o.seconds:>8.1f}  {'; '.join(x for x in (o.error, o.note) if x)}"
              for o in outcomes]
    return "\n".join(lines)


def budget_verdict(run_dir: str | Path) -> str:
    """``"PASS"``/``"FAIL"`` with the failed limits, from ``RUN/check``; "" when it has not run or is no longer valid."""
    d = Path(run_dir) / "check"
    try:
        m = read_manifest(d, verify=True)
        if stale_reason(d):
            return ""
        metrics = m["metrics"]
        return metrics["verdict"] + (f" ({', '.join(metrics['failed'])})" if metrics.get("failed") else "")
    except (ManifestError, OSError, KeyError, TypeError):
        return ""
