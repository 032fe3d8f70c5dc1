"""Recipes side by side on the same baseline: what the sweep's recipe buys over the seed paper's.

After the sweep has selected a model, each recipe of ``compress.compare_recipes`` runs along one path
to the same architecture (stage 1 in the recipe's own step size up to the selected pruning ratio, then
stage 2 down to the selected hidden size), on the same baseline, data and seed. The two endpoints
have identical sizes, so their scores differ only by method; the difference is paired over the test
and validation subjects with a bootstrap CI. Steps live in ``RUN/compress/recipes/<name>/steps`` and
resume like the sweep's.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from sleepedge.models import DeepSleepNetArch
from sleepedge.run.manifest import sha256_file
from sleepedge.core.stats import cms_from_json, fmt_ci, paired_delta_ci

from sleepedge.compress.plan import BASELINE, path_plan
from sleepedge.compress.recipes import resolve
from sleepedge.compress.table import delta_ci, model_row, pct_ci

log = logging.getLogger(__name__)


def endpoint_row(name: str, rec: dict[str, Any], base: dict[str, Any], n_steps: int, wall_s: float) -> dict[str, Any]:
    row = model_row(rec, base)
    row.update(recipe=name, steps=n_steps, recipe_wall_s=wall_s)
    return row


def versus(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Paired ``a - b`` per split and metric (points, CI), when both carry per-subject matrices."""
    out = {}
    for split in ("val", "test"):
        ca, cb = a[split].get("subject_confusion"), b[split].get("subject_confusion")
        if ca and cb:
            out[split] = paired_delta_ci(cms_from_json(cb), cms_from_json(ca))
    return out


def run_path(ctx, recipe, chosen: dict[str, Any], base: dict[str, Any], folder, progress: bool = True) -> tuple[dict, int, float]:
    """Compress the baseline along one path to ``chosen``'s architecture with ``recipe`` (steps in ``folder/steps``).

    Returns ``(endpoint record, number of steps, fine-tune wall seconds)``; resumes from finished steps.
    """
    from sleepedge.compress.sweep import check_plan_fingerprint, run_sweep

    arch = DeepSleepNetArch.from_dict(base["arch"])
    plan = path_plan(arch, ctx.cfg.compress, chosen["ratio"], chosen["hidden"], recipe.stage1_step)
    folder.mkdir(parents=True, exist_ok=True)
    check_plan_fingerprint(folder, ctx.cfg, sha256_file(ctx.baseline_path), recipe=recipe)
    log.info("compress: %s along %d steps to %s", recipe.name, len(plan), chosen["model"])
    recs = run_sweep(replace(ctx, steps_dir=folder / "steps", recipe=recipe), plan, progress=progress, baseline=base)
    wall = sum(r["wall_s"]["total"] for k, r in recs.items() if k != BASELINE)
    return recs[plan[-1].id], len(plan), wall


def compare_recipes(ctx, names: list[str], records: dict[str, dict[str, Any]], chosen: dict[str, Any],
                    progress: bool = True) -> dict[str, Any]:
    """Run each recipe in ``names`` to the selected architecture; rows and paired differences for the report."""
    base = records[BASELINE]
    own_wall = sum(r["wall_s"]["total"] for k, r in records.items() if k != BASELINE)
    rows = [endpoint_row(ctx.recipe.name, records[chosen["model"]], base, len(records) - 1, own_wall)]
    result: dict[str, Any] = {"target": chosen["model"], "rows": rows, "versus": {}, "summary": {}, "note": ""}
    if chosen["model"] == BASELINE or not names:
        result["note"] = "no comparison: " + ("the sweep selected the baseline" if names else "compress.compare_recipes is empty")
        return result
    for name in names:
        end, n_steps, wall = run_path(ctx, resolve(ctx.cfg.compress, name), chosen, base,
                                      ctx.steps_dir.parent / "recipes" / name, progress)
        rows.append(endpoint_row(name, end, base, n_steps, wall))
        result["versus"][name] = versus(records[chosen["model"]], end)
    result["summary"] = {r["recipe"]: {k: r[k] for k in ("model", "params", "macs", "steps", "recipe_wall_s",
                                                           "test_d_accuracy", "test_d_macro_f1", "val_d_accuracy", "val_d_macro_f1")}
                         for r in rows}
    return result


def recipes_markdown(comparison: dict[str, Any], label: str) -> str:
    """The side-by-side table and the paired differences between the recipes."""
    rows = comparison["rows"]
    own = rows[0]["recipe"]
    lines = [f"# Recipes side by side: {label}", ""]
    if comparison["note"]:
        return "\n".join(lines + [comparison["note"].capitalize() + ".", ""])
    lines += [f"Each recipe compresses the same baseline to the architecture the `{own}` sweep selected "
              f"(`{comparison['target']}`), in its own steps. Δ = paired change vs the baseline (points, 95 % subject-bootstrap CI).",
              "", "| recipe | steps | params | MACs/epoch | val Δacc | val ΔF1 | test acc % | test Δacc | test ΔF1 | fine-tune wall time |",
              "|---|---:|---:|---:|---|---|---|---|---|---:|"]
    for r in rows:
        lines.append(f"| `{r['recipe']}` | {r['steps']} | {r['params']:,} | {r['macs'] / 1e6:.2f} M | {delta_ci(r, 'val_d_accuracy')} | "
                     f"{delta_ci(r, 'val_d_macro_f1')} | {pct_ci(r, 'test_accuracy')} | {delta_ci(r, 'test_d_accuracy')} | "
                     f"{delta_ci(r, 'test_d_macro_f1')} | {r['recipe_wall_s']:.0f} s |")
    for name, vs in comparison["versus"].items():
        for split, d in vs.items():
            lines.append("")
            lines.append(f"`{own}` minus `{name}` on {'validation' if split == 'val' else 'test'} (paired over the same subjects): "
                         f"accuracy {fmt_ci(d['accuracy'])} pt, macro-F1 {fmt_ci(d['macro_f1'])} pt.")
    return "\n".join(lines) + "\n"
