"""The compress stage: trained baseline -> the sweep -> table, figures, selected model, recipe comparison, manifest.

``RUN/compress/`` receives ``steps/<id>/{model.pt,step.json}`` (one per model of the grid, plus
``steps/baseline/step.json``), ``plan.json`` (the settings the sweep was started with, for resuming),
``sweep.csv``, ``sweep.md``, ``sweep.json``, ``fig_stage1.png``, ``fig_stage2.png``, ``selected.pt``, with
``compress.causal_lookaheads`` the causal heads of the selected model (stage 3, ``steps/causal-k{k}/``,
:mod:`.causal`), ``causal.pt`` (the selected look-ahead) and ``fig_causal.png``,
``recipes/<name>/steps/...`` and ``recipes.md``/``recipes.json`` (each ``compress.compare_recipes``
recipe run along one path to the selected architecture, side by side with the sweep's own recipe on the
same baseline), and ``manifest.json`` (written last). The stage is built in ``RUN/.compress.partial`` and
swapped in when complete; an unfinished build resumes from its finished steps.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sleepedge.config.settings import Config
from sleepedge.run.manifest import (
    ManifestError, atomic_copy, atomic_write_json, atomic_write_text, output_path, read_manifest, sha256_file,
    write_manifest,
)
from sleepedge.run.transaction import refuse_finished, stage_transaction

from sleepedge.compress.compare import compare_recipes, recipes_markdown
from sleepedge.compress.plan import BASELINE, build_plan
from sleepedge.compress.recipes import Recipe, comparison_recipes, resolve
from sleepedge.compress.table import (
    build_rows, causal_row, check_selection_config, select, select_causal, to_csv, to_markdown,
)

log = logging.getLogger(__name__)
STAGE = "compress"


def dataset_label(train_manifest: dict[str, Any], where: Path) -> str:
    """The dataset label the train stage stamped (``dataset.label``), e.g. 'SYNTHETIC data (...)'."""
    label = train_manifest.get("dataset", {}).get("label")
    if not label:
        raise ManifestError(f"{where}: the train manifest has no dataset label (dataset.label)")
    return str(label)


def _write_outputs(stage_dir: Path, baseline: Path, records: dict, rows: list, chosen: dict, selection: dict,
                   label: str, wall_s: float, recipe, margin: float, causal: dict | None = None) -> dict[str, Path]:
    from sleepedge.compress.figures import plot_stage1, plot_stage2
    from sleepedge.compress.sweep import model_path

    src = model_path(stage_dir / "steps", baseline, records[chosen["model"]])
    md = to_markdown(rows, selection, label, wall_s, recipe.name, causal=causal and causal["selection"])
    doc = {"dataset": label, "recipe": recipe.to_dict(), "selection": selection, "rows": rows,
           **({"causal": causal["metrics"]} if causal else {})}
    out = {
        "selected": atomic_copy(src, stage_dir / "selected.pt", overwrite=True),
        "sweep_csv": atomic_write_text(stage_dir / "sweep.csv", to_csv(rows), overwrite=True),
        "sweep_md": atomic_write_text(stage_dir / "sweep.md", md, overwrite=True),
        "sweep_json": atomic_write_json(stage_dir / "sweep.json", doc, overwrite=True),
        "fig_stage1": plot_stage1(rows, stage_dir / "fig_stage1.png", label, recipe.importance),
        "fig_stage2": plot_stage2(rows, stage_dir / "fig_stage2.png", label, margin),
    }
    return {**out, **(_causal_outputs(stage_dir, rows, causal, label) if causal else {})}


def _causal_outputs(stage_dir: Path, rows: list, causal: dict, label: str) -> dict[str, Path]:
    """``causal.pt`` (the selected causal head) and ``fig_causal.png``."""
    from sleepedge.compress.figures import plot_causal

    m = causal["metrics"]
    return {"causal": atomic_copy(stage_dir / "steps" / m["selected"] / "model.pt", stage_dir / "causal.pt", overwrite=True),
            "fig_causal": plot_causal(rows, stage_dir / "fig_causal.png", label, causal["margin"], m["parent"])}


def _causal_summary(row: dict[str, Any]) -> dict[str, Any]:
    """One causal head in ``metrics["causal"]["rows"]``: size, lag, streaming scores and the changes vs its parent."""
    out = {k: row[k] for k in ("lookahead", "lag_s", "hidden", "params", "macs", "wall_s")}
    for s in ("val", "test"):
        for k in ("accuracy", "macro_f1"):
            out[f"{s}_{k}"] = row[f"{s}_{k}"]
            out[f"{s}_{k}_ci"] = [row[f"{s}_{k}_lo"], row[f"{s}_{k}_hi"]]
            out[f"{s}_d_{k}_vs_parent_points"] = row[f"{s}_d_{k}_vs_parent"]
            out[f"{s}_d_{k}_vs_parent_points_ci"] = [row[f"{s}_d_{k}_vs_parent_lo"], row[f"{s}_d_{k}_vs_parent_hi"]]
    return out


def _run_causal(stage_dir: Path, cfg: Config, inp: _Inputs, tr: "_Training", records: dict, rows: list,
                chosen: dict) -> dict[str, Any] | None:
    """Stage 3: the causal heads of the selected model (``compress.causal_lookaheads``), their rows appended to
    ``rows``, and the look-ahead selected; None when the setting is empty."""
    if not cfg.compress.causal_lookaheads:
        return None
    from sleepedge.compress.causal import CausalContext, run_causal_steps
    from sleepedge.compress.sweep import model_path

    parent = records[chosen["model"]]
    ctx = CausalContext(cfg, stage_dir / "steps", model_path(stage_dir / "steps", inp.baseline, parent), parent, tr.data,
                        inp.device, dropout=inp.recipe.dropout)
    crecs = run_causal_steps(ctx, cfg.compress.causal_lookaheads)
    crows = [causal_row(rec, records[BASELINE], parent) for rec in crecs.values()]
    sel_row, selection = select_causal(crows, cfg.compress.causal_margin_points, parent["id"])
    if not selection["qualified"]:
        log.warning("NO causal look-ahead met the criterion (%s): the best, %s, is selected", selection["criterion"], sel_row["model"])
    rows.extend(crows)
    metrics = {"selected": sel_row["model"], "lookahead": sel_row["lookahead"], "lag_s": sel_row["lag_s"],
               "qualified": selection["qualified"], "criterion": selection["criterion"], "parent": parent["id"],
               "wall_s": sum(r["wall_s"]["total"] for r in crecs.values()),
               "rows": {r["model"]: _causal_summary(r) for r in crows}}
    return {"selection": selection, "metrics": metrics, "margin": cfg.compress.causal_margin_points}


def _metrics(chosen: dict, selection: dict, records: dict, wall_s: float, run_wall_s: float) -> dict[str, Any]:
    base = records[BASELINE]
    m = {k: chosen[k] for k in ("model", "stage", "ratio", "hidden", "params", "params_reduction_pct", "macs", "macs_reduction_pct")}
    for s in ("val", "test"):
        for k in ("accuracy", "macro_f1", "kappa"):
            m[f"{s}_{k}"] = chosen[f"{s}_{k}"]
            m[f"{s}_{k}_ci"] = [chosen[f"{s}_{k}_lo"], chosen[f"{s}_{k}_hi"]]
            m[f"{s}_d_{k}_points"] = chosen[f"{s}_d_{k}"]
            m[f"{s}_d_{k}_points_ci"] = [chosen[f"{s}_d_{k}_lo"], chosen[f"{s}_d_{k}_hi"]]
    return {"selected": m, "selection": selection, "baseline": {
        "params": base["params"], "macs": base["macs"], **{f"{s}_{k}": base[s][k] for s in ("val", "test") for k in ("accuracy", "macro_f1", "kappa")}},
        "n_models": len(records), "sweep_wall_s": wall_s, "this_run_wall_s": run_wall_s}


def check_rebuilt_data(train_dir: Path, train_m: dict[str, Any], data: dict[str, Any]) -> None:
    """Refuse data that differs from what the baseline was trained and tested on.

    ``load_run_data`` rebuilds the splits from the train manifest's config (the synthetic set is
    regenerated, Sleep-EDF re-read); the train stage saved every test sequence in ``test.npz``
    (checksummed in its manifest), so the rebuilt test split must equal it exactly.
    """
    import numpy as np

    from sleepedge.core.errors import DataError
    from sleepedge.train.sequences import SequenceData

    path = output_path(train_dir, train_m, "test")
    saved, rebuilt = SequenceData.load(path), data["test"]
    if saved.x.shape != rebuilt.x.shape or not (np.array_equal(saved.y, rebuilt.y) and np.array_equal(saved.x, rebuilt.x)):
        raise DataError(f"{path}: the test data rebuilt from the train manifest differs from the data the baseline was "
                        "tested on (the dataset files or the data code changed since training); retrain with --overwrite")


def training_functions(finetune, evaluate) -> tuple[Callable[..., Any], Callable[..., dict[str, Any]]]:
    """The injected functions, or the training loop's ``fit`` / ``evaluate``."""
    if finetune is None or evaluate is None:
        from sleepedge.train import loop
        finetune, evaluate = finetune or loop.fit, evaluate or loop.evaluate
    return finetune, evaluate


def _baseline_arch(path: Path):
    from sleepedge.models import load_checkpoint

    return load_checkpoint(path)[0].arch


@dataclass
class _Inputs:
    """What the compress stage reads before it starts: recipes, device, and the finished train stage."""

    recipe: Recipe
    others: list[Recipe]
    device: Any
    train_dir: Path
    train_m: dict[str, Any]
    baseline: Path
    label: str


@dataclass
class _Training:
    """How the sweep trains: the data splits, the injected training functions, grid size and progress bar."""

    data: dict[str, Any]
    finetune: Callable[..., Any]
    evaluate: Callable[..., dict[str, Any]]
    sweep: bool
    progress: bool


def _stage_inputs(run_dir: str | Path, cfg: Config) -> _Inputs:
    """Check the selection config, resolve the recipes and device, read the train stage, set the threads."""
    import torch

    from sleepedge.train.stage import resolve_device

    check_selection_config(cfg.compress)
    recipe, others = resolve(cfg.compress), comparison_recipes(cfg.compress)
    device = resolve_device(cfg.train.device)
    train_dir = Path(run_dir) / "train"
    train_m = read_manifest(train_dir)
    baseline = output_path(train_dir, train_m, "model")
    label = dataset_label(train_m, train_dir / "manifest.json")
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    return _Inputs(recipe, others, device, train_dir, train_m, baseline, label)


def _rebuild_data(inp: _Inputs) -> dict[str, Any]:
    """The splits rebuilt from the train manifest, refused unless the test split equals the saved one."""
    from sleepedge.train.stage import load_run_data

    data = load_run_data(inp.train_dir)
    check_rebuilt_data(inp.train_dir, inp.train_m, data)
    return data


def _plan_key(cfg: Config, baseline_sha: str, recipe: Recipe) -> str:
    """The fingerprint of the plan, under which a rerun resumes a partial build."""
    from sleepedge.compress.sweep import plan_fingerprint

    return plan_fingerprint(cfg, baseline_sha, recipe)


def _build_stage(stage_dir: Path, cfg: Config, inp: _Inputs, baseline_sha: str, tr: _Training, t0: float) -> dict[str, Any]:
    """Run the grid, select, write the table, figures and recipe comparison, then the manifest; the chosen row."""
    from sleepedge.compress.grid import run_grid
    from sleepedge.compress.sweep import SweepContext, check_plan_fingerprint

    recipe, baseline = inp.recipe, inp.baseline
    check_plan_fingerprint(stage_dir, cfg, baseline_sha, recipe=recipe)
    plan = build_plan(_baseline_arch(baseline), cfg.compress, sweep=tr.sweep, step=recipe.stage1_step)
    log.info("compress: %d steps with the %s recipe on %s", len(plan), recipe.name, inp.label)
    ctx = SweepContext(cfg, stage_dir / "steps", baseline, tr.data, tr.finetune, tr.evaluate, inp.device, recipe=recipe)
    records = run_grid(ctx, plan, progress=tr.progress)  # in this process, or Ray tasks (compress/executor.py)
    wall_s = sum(r["wall_s"]["total"] for r in records.values())
    rows = build_rows(records)
    chosen, selection = select(rows, cfg.compress)
    if not selection["qualified"]:
        log.warning("NO compressed model met the selection criterion (%s): the BASELINE is selected", selection["criterion"])
    causal = _run_causal(stage_dir, cfg, inp, tr, records, rows, chosen)  # stage 3, after the selection
    out = _write_outputs(stage_dir, baseline, records, rows, chosen, selection, inp.label, wall_s, recipe,
                         cfg.compress.margin_points, causal)
    comparison = compare_recipes(ctx, inp.others, records, chosen, progress=tr.progress)
    out["recipes_json"] = atomic_write_json(stage_dir / "recipes.json", comparison, overwrite=True)
    out["recipes_md"] = atomic_write_text(stage_dir / "recipes.md", recipes_markdown(comparison, inp.label), overwrite=True)
    metrics = _metrics(chosen, selection, records, wall_s, time.perf_counter() - t0)
    metrics["recipe"], metrics["recipes"] = recipe.to_dict(), comparison["summary"]
    if causal:
        metrics["causal"] = causal["metrics"]
    write_manifest(stage_dir, STAGE, outputs=out, inputs={"baseline": baseline}, parent=inp.train_dir, config=cfg.to_dict(),
                   metrics=metrics, dataset=inp.train_m.get("dataset"), seed=cfg.train.seed, split=inp.train_m.get("split"),
                   extra={"sweep": tr.sweep, "plan": [s.id for s in plan]})
    return chosen


def run_compress_stage(
    run_dir: str | Path,
    cfg: Config,
    overwrite: bool = False,
    sweep: bool = True,
    *,
    finetune: Callable[..., Any] | None = None,
    evaluate: Callable[..., dict[str, Any]] | None = None,
    data: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Compress the baseline of ``RUN/train`` and write ``RUN/compress``; returns the compress manifest.

    Parameters
    ----------
    run_dir : the run folder holding a finished ``train`` stage.
    cfg : the resolved config; ``cfg.compress`` is the grid and selection, ``cfg.train`` the fine-tuning.
    overwrite : redo a finished compress stage (the old folder stays until the new one is complete).
    sweep : the whole grid; ``False`` runs stage 1 and the stage-2 chain from the largest ``stage2_from``.
    finetune, evaluate : default ``sleepedge.train.loop.fit`` / ``evaluate`` (injectable for tests).
    data : ``{"train", "val", "test": SequenceData}``; default rebuilt with ``load_run_data(RUN/train)``.
    progress : show the tqdm bar over the grid.
    """
    t0 = time.perf_counter()
    inp = _stage_inputs(run_dir, cfg)
    finetune, evaluate = training_functions(finetune, evaluate)
    refuse_finished(Path(run_dir) / STAGE, overwrite)  # before the data are rebuilt
    if data is None:
        data = _rebuild_data(inp)
    baseline_sha = sha256_file(inp.baseline)
    # A transaction (sleepedge.run.transaction): built in RUN/.compress.partial, whose finished steps a rerun
    # with the same plan resumes from; the old RUN/compress stays until the new one is complete.
    with stage_transaction(Path(run_dir) / STAGE, overwrite=overwrite,
                           resume_key=_plan_key(cfg, baseline_sha, inp.recipe)) as stage_dir:
        chosen = _build_stage(stage_dir, cfg, inp, baseline_sha, _Training(data, finetune, evaluate, sweep, progress), t0)
    log.info("compress done: selected %s (%d params, %.1f %% fewer)", chosen["model"], chosen["params"], chosen["params_reduction_pct"])
    return read_manifest(Path(run_dir) / STAGE)
