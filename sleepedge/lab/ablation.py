"""What each ingredient of the sleepedge recipe buys: the recipe with one ingredient taken out at a time.

    python -m sleepedge.lab.ablation --run runs/demo [--out docs/generated/ablation.md]

On a run whose compress stage has finished, every variant compresses the run's baseline along one path
to the architecture the sweep selected (the same sizes for all, so the scores differ by method only):
the full recipe (the sweep's own chain, reused when it is that path), the recipe without
distillation, without its schedule (constant rate, fixed epochs, last epoch kept), with the plain L1
or the Taylor importance instead of the BN-scaled L1, and the seed paper's recipe. Each row gives the
paired change against the baseline and against the full recipe over the same subjects, with 95 %
subject-bootstrap CIs. Steps go to ``RUN/ablation/<variant>/steps`` and resume like the sweep's;
``RUN/ablation/ablation.{md,json}`` hold the table.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
from pathlib import Path
from typing import Any

from sleepedge.run.manifest import atomic_write_json, atomic_write_text, output_path, read_manifest
from sleepedge.core.stats import fmt_ci

from sleepedge.compress.compare import endpoint_row, run_path, versus
from sleepedge.compress.plan import BASELINE, path_plan
from sleepedge.compress.recipes import resolve
from sleepedge.compress.table import delta_ci, pct_ci

log = logging.getLogger(__name__)

# (variant, what it changes, compress-section overrides; "recipe" switches recipe)
VARIANTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("full", "the sleepedge recipe as the sweep ran it", {}),
    ("no-distillation", "labels only (distill_alpha = 0)", {"distill_alpha": 0.0}),
    ("no-schedule", "constant rate, fixed epochs, last epoch kept (no warm-up/cosine, sizing, early stop)",
     {"schedule": "constant", "finetune_patience": 0, "epochs_per_removed": 0.0}),
    ("importance-l1", "plain L1 filter norm instead of the BN-scaled one", {"importance": "l1"}),
    ("importance-taylor", "first-order Taylor importance on training batches", {"importance": "taylor"}),
    ("paper", "the seed paper's recipe (L1, 5 % steps, AdamW 1e-4, plain fine-tuning)", {"recipe": "paper"}),
)


def _variant_recipe(cfg, overrides: dict[str, Any]):
    c = copy.deepcopy(cfg)
    if "recipe" in overrides:
        return c, resolve(c.compress, overrides["recipe"])
    for k, v in overrides.items():
        setattr(c.compress, k, v)
    return c, resolve(c.compress)


def _same_path(ctx, records: dict, chosen: dict, recipe) -> bool:
    """True when the sweep's own records already hold the variant's whole path with the same recipe."""
    from sleepedge.models import DeepSleepNetArch

    plan = path_plan(DeepSleepNetArch.from_dict(records[BASELINE]["arch"]), ctx.cfg.compress, chosen["ratio"],
                     chosen["hidden"], recipe.stage1_step)
    return recipe == ctx.recipe and all(s.id in records for s in plan)


def _read_compressed_run(run: Path) -> tuple[dict[str, Any], Any, Path, Path, dict[str, Any], dict[str, Any]]:
    """The compress manifest, its config, the baseline, the steps folder, the step records and the selected row."""
    from sleepedge.config.settings import config_from_dict

    from sleepedge.compress.sweep import STEP_JSON

    cm = read_manifest(run / "compress")
    tm = read_manifest(run / "train")
    cfg = config_from_dict(cm["config"])
    baseline = output_path(run / "train", tm, "model")
    steps = run / "compress" / "steps"
    records = {p.parent.name: json.loads(p.read_text("utf-8")) for p in steps.glob(f"*/{STEP_JSON}")}
    chosen = json.loads((run / "compress" / "sweep.json").read_text("utf-8"))
    chosen = next(r for r in chosen["rows"] if r["selected"])
    if chosen["model"] == BASELINE:
        raise ValueError(f"{run}/compress selected the baseline: there is no compressed architecture to ablate")
    return cm, cfg, baseline, steps, records, chosen


def run_ablation(run: str | Path, variants=VARIANTS, progress: bool = True, *, finetune=None, evaluate=None,
                 data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run every variant on ``run``'s baseline to its selected architecture; returns the table as a dict.

    ``finetune``, ``evaluate`` and ``data`` default to the training loop and the run's rebuilt data
    (injectable for tests, like :func:`~.stage.run_compress_stage`).
    """
    from sleepedge.train.stage import load_run_data

    from sleepedge.compress.stage import training_functions
    from sleepedge.train.stage import resolve_device
    from sleepedge.compress.sweep import SweepContext

    run = Path(run)
    cm, cfg, baseline, steps, records, chosen = _read_compressed_run(run)
    import torch

    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    fit, evaluate = training_functions(finetune, evaluate)
    data = data if data is not None else load_run_data(run / "train")
    base = records[BASELINE]
    rows: list[dict[str, Any]] = []
    out = {"run": str(run), "target": chosen["model"], "dataset": cm.get("dataset", {}).get("label", ""), "rows": rows}
    full_end = None
    for name, what, overrides in variants:
        vcfg, recipe = _variant_recipe(cfg, overrides)
        ctx = SweepContext(vcfg, steps, baseline, data, fit, evaluate, resolve_device(cfg.train.device), recipe=recipe)
        if name == "full" and _same_path(ctx, records, chosen, recipe):
            end, n, wall = records[chosen["model"]], None, None
        else:
            end, n, wall = run_path(ctx, recipe, chosen, base, run / "ablation" / name, progress)
        full_end = full_end or end
        row = endpoint_row(name, end, base, n or 0, wall or 0.0)
        row.update(what=what, vs_full=versus(end, full_end) if end is not full_end else {})
        rows.append(row)
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = [f"# Ablation of the sleepedge recipe: {res['dataset']}", "",
             f"Every variant compresses the same baseline to `{res['target']}` (the architecture the sweep selected). "
             "Δ = paired change in points over the same subjects, [95 % subject-bootstrap CI].", "",
             "| variant | what changes | test acc % | test Δacc vs baseline | test ΔF1 vs baseline | val Δacc | val ΔF1 | "
             "test Δacc vs full | test ΔF1 vs full |", "|---|---|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        vs = r.get("vs_full", {}).get("test")
        lines.append(f"| `{r['recipe']}` | {r['what']} | {pct_ci(r, 'test_accuracy')} | {delta_ci(r, 'test_d_accuracy')} | "
                     f"{delta_ci(r, 'test_d_macro_f1')} | {delta_ci(r, 'val_d_accuracy')} | {delta_ci(r, 'val_d_macro_f1')} | "
                     f"{fmt_ci(vs['accuracy']) if vs else '-'} | {fmt_ci(vs['macro_f1']) if vs else '-'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="run folder with a finished compress stage")
    p.add_argument("--out", default=None, help="also copy the markdown table here")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    res = run_ablation(a.run)
    text = markdown(res)
    atomic_write_json(Path(a.run) / "ablation" / "ablation.json", res, overwrite=True)
    atomic_write_text(Path(a.run) / "ablation" / "ablation.md", text, overwrite=True)
    if a.out:
        atomic_write_text(a.out, text, overwrite=True)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
