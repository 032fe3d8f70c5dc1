"""``sleepedge pipeline --folds K|all``: subject-wise k-fold cross-validation as one run.

Each fold is a complete run folder, ``RUN/folds/fold-KK`` (``data.fold = KK``, ``data.n_folds = K``),
in which train, compress and export run as in a plain pipeline, and resume as one does. Then
``RUN/kfold.json`` and ``RUN/kfold.md`` give per-fold and mean ± sd scores of the baseline and the
selected compressed model (:mod:`.kfold_report`), and name the fold to deploy. The bench and the
budget check run on the deployed fold only (``RUN/folds/fold-KK/bench``, ``.../check``).

The folds are independent: with the ``ray`` executor each is one Ray task declaring its CPUs and GPU
fraction (a fold that dies is retried and resumes from its finished stages and steps); inside a fold
the compression grid runs in the task's own process.
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

from sleepedge.config.settings import Config, ConfigError, config_from_dict, validate_config, validate_split
from sleepedge.run.locking import run_lock
from sleepedge.pipeline.kfold_report import deployed_fold, fold_dir, fold_row, summarize, to_markdown
from sleepedge.run.manifest import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)
FOLD_STAGES = ("train", "compress", "export")  # every fold
DEPLOYED_STAGES = ("bench", "check")  # the deployed fold only
KFOLD_ENTRIES = ("kfold.json", "kfold.md", "folds")  # what marks a k-fold run folder
# What marks a plain run folder: its stages (finished or being built) and the files the pipeline writes.
PLAIN_RUN_ENTRIES = tuple(f"{prefix}{stage}{suffix}" for stage in FOLD_STAGES + DEPLOYED_STAGES
                          for prefix, suffix in (("", ""), (".", ".partial"))) + ("config.json", "pipeline.json")


def _entries_of(run: Path, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if (run / name).exists()] if run.is_dir() else []


def refuse_other_kind(run_dir: str | Path, kfold: bool) -> None:
    """Refuse a k-fold run into a folder holding a plain run, and a plain run into a k-fold folder.

    The two kinds share names (``report.md``, the lock) but not a layout: mixed, the plain run's stages
    would sit beside ``folds/`` and each run's report would describe half of the folder.
    """
    run = Path(run_dir)
    other = _entries_of(run, PLAIN_RUN_ENTRIES if kfold else KFOLD_ENTRIES)
    if not other:
        return
    held, wanted = ("a plain pipeline run", "--folds") if kfold else ("a k-fold run", "a plain pipeline")
    raise ConfigError(f"{run}: holds {held} ({', '.join(other)}); {wanted} cannot share its folder: "
                      f"use another --out folder{'' if kfold else ' or rerun it with the same --folds'}")


def n_folds(cfg: Config, folds: int | str) -> int:
    """``K`` from ``--folds``: a number, or ``all`` = ``data.n_folds`` (20 = leave one subject out on Sleep-EDF-20)."""
    if str(folds).strip().lower() == "all":
        return cfg.data.n_folds
    try:
        k = int(folds)
    except ValueError:
        raise ConfigError(f"--folds: expected a number of folds or 'all', got {folds!r}") from None
    if k < 2:
        raise ConfigError(f"--folds: k-fold needs at least 2 folds, got {k}")
    return k


def fold_configs(cfg: Config, k: int) -> list[Config]:
    """One config per fold: ``data.n_folds = k`` and ``data.fold = i`` (nothing else changes)."""
    out = []
    for i in range(k):
        c = copy.deepcopy(cfg)
        c.data.n_folds, c.data.fold = k, i
        out.append(c)
    return out


def _outcomes(outcomes) -> list[dict[str, Any]]:
    return [o.__dict__ if hasattr(o, "__dict__") else dict(o) for o in outcomes]


def run_fold(folder: str, cfg_dict: dict[str, Any], stages: tuple[str, ...], overwrite: bool) -> list[dict[str, Any]]:
    """Run one fold's pipeline in this process (also the body of a Ray task); its stage outcomes."""
    from sleepedge.core.executor import LOCAL, use

    from sleepedge.pipeline.pipeline import run_pipeline

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sleepedge").setLevel(logging.INFO)
    with use(LOCAL):  # a fold task holds its resources; its grid runs inside it
        return _outcomes(run_pipeline(folder, config_from_dict(cfg_dict), overwrite=overwrite, stages=stages))


def _run_folds_ray(run: Path, cfgs: list[Config], stages: tuple[str, ...], overwrite: bool, spec) -> list[list[dict]]:
    from sleepedge.core.executor import check_resources, ray_init
    from sleepedge.train.stage import resolve_device

    ray = ray_init(spec)
    need = spec.resources(cfgs[0], resolve_device(cfgs[0].train.device))
    check_resources(ray, spec, need)
    task = ray.remote(run_fold).options(max_retries=spec.max_retries, **need)
    refs = [task.remote(str(fold_dir(run, i).resolve()), c.to_dict(), stages, overwrite) for i, c in enumerate(cfgs)]
    return ray.get(refs)


def run_kfold(run_dir: str | Path, cfg: Config, folds: int | str, stages: tuple[str, ...] = FOLD_STAGES + DEPLOYED_STAGES,
              overwrite: bool = False) -> dict[str, Any]:
    """Run every fold, aggregate, name the deployed fold, bench and check it; returns ``kfold.json``'s content.

    Parameters
    ----------
    run_dir : the k-fold run folder (folds go to ``RUN/folds/fold-KK``).
    cfg : the resolved config; ``data.fold`` and ``data.n_folds`` are set per fold.
    folds : ``K`` or ``"all"`` (= ``data.n_folds``).
    stages : pipeline stages wanted; train/compress/export run per fold, bench/check on the deployed fold.
    overwrite : redo every fold from scratch.
    """
    run = Path(run_dir)
    k = n_folds(cfg, folds)
    per_fold = tuple(s for s in FOLD_STAGES if s in stages)
    if "train" not in per_fold or "compress" not in per_fold:
        raise ConfigError("--folds needs the train and compress stages (the aggregate compares their test scores)")
    refuse_other_kind(run, kfold=True)
    cfgs = fold_configs(cfg, k)
    for c in cfgs:  # every key in range and every fold's split possible: refused before any fold starts
        validate_split(validate_config(c))
    with run_lock(run):  # the aggregate's folder: a second k-fold command on it refuses at once
        return _run_kfold(run, cfg, cfgs, per_fold, stages, overwrite)


def _run_kfold(run: Path, cfg: Config, cfgs: list[Config], per_fold: tuple[str, ...], stages: tuple[str, ...],
               overwrite: bool) -> dict[str, Any]:
    from sleepedge.core.executor import current

    k = len(cfgs)
    spec = current()
    log.info("k-fold: %d folds, stages %s per fold, executor %s", k, ",".join(per_fold), spec.kind)
    if spec.kind == "ray":
        outcomes = _run_folds_ray(run, cfgs, per_fold, overwrite, spec)
    else:
        outcomes = [run_fold(str(fold_dir(run, i)), c.to_dict(), per_fold, overwrite) for i, c in enumerate(cfgs)]
    rows = [fold_row(run, i) for i in range(k)]
    for row, outs in zip(rows, outcomes):
        row["outcomes"] = outs
    result: dict[str, Any] = {"folds": k, "stages": list(stages), "config": cfg.to_dict(), "rows": rows,
                              "summary": None, "deployed": {}}
    if not any(r["status"] == "done" for r in rows):
        atomic_write_json(run / "kfold.json", result, overwrite=True)
        (run / "kfold.md").unlink(missing_ok=True)  # never print an earlier run's table as this one's
        log.error("k-fold: no fold finished train and compress; nothing to aggregate")
        return result
    summary = summarize(rows)
    deployed = deployed_fold(rows, summary)
    result.update(summary=summary, deployed=deployed)
    atomic_write_json(run / "kfold.json", result, overwrite=True)
    atomic_write_text(run / "kfold.md", to_markdown(rows, summary, deployed), overwrite=True)
    last = tuple(s for s in DEPLOYED_STAGES if s in stages)
    if last:
        result["deployed"]["outcomes"] = run_fold(str(fold_dir(run, deployed["fold"])), cfgs[deployed["fold"]].to_dict(),
                                                  per_fold + last, False)
        atomic_write_json(run / "kfold.json", result, overwrite=True)
    return result


def failed_folds(result: dict[str, Any]) -> list[str]:
    """``"fold K: stage: error"`` for every stage that failed in any fold (and in the deployed fold's last stages)."""
    out = [f"fold {r['fold']}: {o['stage']}: {o['error']}" for r in result["rows"] for o in r.get("outcomes", [])
           if o["status"] == "failed"]
    out += [f"fold {result['deployed']['fold']}: {o['stage']}: {o['error']}" for o in result["deployed"].get("outcomes", [])
            if o["status"] == "failed"]
    if result["summary"] is None and not out:
        out.append("no fold finished train and compress")
    return out
