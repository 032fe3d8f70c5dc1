"""The sweep table (one row per model, paired CIs), the Pareto front, and the selection of the model to export.

Every delta against the baseline is paired: both models are scored on the same subjects and epochs,
the delta is the difference of their pooled scores, and its 95 % CI comes from a subject bootstrap
that draws the same subjects for both (:func:`sleepedge.core.stats.paired_delta_ci`). Absolute scores get
subject-bootstrap CIs too.

Selection uses VALIDATION only (choosing on test would leak it); test figures are reported beside it.
Rule (non-inferiority): a model qualifies when the lower end of the 95 % paired subject-bootstrap
interval of its validation delta is at least ``-margin_points``, for accuracy AND for macro-F1 (a row
without per-subject matrices falls back to the point estimate); with ``min_accuracy > 0`` an absolute
validation-accuracy floor replaces that. The smallest qualifying model (fewest parameters; ties:
higher validation accuracy) is selected; if none qualifies, the baseline is, and the report says so.

Why the interval's lower end and not the point estimate: picking the smallest of a dozen models whose
point estimates pass is a winner's curse, since the model that passes by the narrowest margin is the
one most likely to have been lucky on these subjects. Measured on the quick preset: a hidden-8 model
whose validation macro-F1 point estimate was -0.5 (interval [-1.5, +0.4]) lost 3.2 test points. Paired
intervals are tight enough for this rule to be usable (about a point either side on five validation
subjects), because what the subjects share cancels. Both metrics count because accuracy alone hides
a model that gives up the rare N1 stage.

The Pareto front is over (parameters, validation macro-F1): no other model is at most as large and
at least as good with one of the two strict.
"""
from __future__ import annotations

import csv
import io
from typing import Any

from sleepedge.config.settings import CompressConfig, ConfigError
from sleepedge.core.stats import cms_from_json, paired_delta_ci, score_ci

from sleepedge.compress.plan import BASELINE

CAUSAL_STAGE = 3  # compress/causal.py (which imports torch)

SPLITS = ("val", "test")
METRICS = ("accuracy", "macro_f1", "kappa")
CSV_COLUMNS = (
    "model", "stage", "ratio", "hidden", "small_channels", "large_channels", "params", "params_reduction_pct",
    "macs", "macs_reduction_pct",
    *[f"{s}_{m}{e}" for s in SPLITS for m in METRICS for e in ("", "_lo", "_hi")],
    *[f"{s}_d_{m}{e}" for s in SPLITS for m in METRICS for e in ("", "_lo", "_hi")],
    "val_accuracy_before_finetune", "finetune_epochs", "weights", "wall_s", "pareto", "selected",
)
VS_PARENT = ("accuracy", "macro_f1")  # the causal head's paired change vs its bidirectional parent
CAUSAL_COLUMNS = (  # only in a table that has causal rows (stage 3), so a sweep without them reads as before
    "lookahead", "lag_s", *[f"{s}_d_{m}_vs_parent{e}" for s in SPLITS for m in VS_PARENT for e in ("", "_lo", "_hi")],
    "causal_selected",
)


def _cis(rec: dict[str, Any], base: dict[str, Any], split: str) -> tuple[dict | None, dict | None]:
    """(absolute CIs, paired delta CIs) of one split, or None where per-subject matrices are missing."""
    cms, ref = rec[split].get("subject_confusion"), base[split].get("subject_confusion")
    if not cms or not ref:
        return None, None
    return score_ci(cms_from_json(cms)), paired_delta_ci(cms_from_json(ref), cms_from_json(cms))


def model_row(rec: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """One flat row: sizes, scores with CIs, paired deltas vs ``base`` in points (kappa x100) with CIs."""
    row = {
        "model": rec["id"], "stage": rec["stage"], "ratio": rec["ratio"], "hidden": rec["hidden"],
        "small_channels": "/".join(map(str, rec["small_channels"])), "large_channels": "/".join(map(str, rec["large_channels"])),
        "params": rec["params"], "params_reduction_pct": 100.0 * (1 - rec["params"] / base["params"]),
        "macs": rec["macs"], "macs_reduction_pct": 100.0 * (1 - rec["macs"] / base["macs"]),
        "val_accuracy_before_finetune": rec.get("val_before_finetune", {}).get("accuracy"),
        "finetune_epochs": rec["finetune"].get("epochs_run", rec["finetune"]["epochs"]),
        "weights": rec["finetune"].get("kept", ""), "wall_s": rec["wall_s"]["total"], "pareto": False, "selected": False,
    }
    for s in SPLITS:
        absolute, delta = _cis(rec, base, s)
        for m in METRICS:
            row[f"{s}_{m}"] = rec[s][m]
            row[f"{s}_d_{m}"] = 100.0 * (rec[s][m] - base[s][m])
            row[f"{s}_{m}_lo"] = absolute[m]["lo"] if absolute else None
            row[f"{s}_{m}_hi"] = absolute[m]["hi"] if absolute else None
            row[f"{s}_d_{m}_lo"] = delta[m]["lo"] if delta else None
            row[f"{s}_d_{m}_hi"] = delta[m]["hi"] if delta else None
    return row


def build_rows(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per model (baseline first), deltas against the baseline; the Pareto front marked."""
    base = records[BASELINE]
    rows = [model_row(rec, base) for rec in records.values()]
    mark_pareto(rows)
    return rows


def mark_pareto(rows: list[dict[str, Any]], x: str = "params", y: str = "val_macro_f1") -> None:
    """Set ``row["pareto"]`` for the rows no other row dominates (smaller-or-equal x, greater-or-equal y)."""
    best = float("-inf")
    for row in sorted(rows, key=lambda r: (r[x], -r[y])):
        row["pareto"] = row[y] > best
        best = max(best, row[y])


def check_selection_config(c: CompressConfig) -> None:
    if c.margin_points < 0:
        raise ConfigError(f"compress.margin_points must be >= 0 (accuracy points), got {c.margin_points}")
    if not 0.0 <= c.min_accuracy <= 1.0:
        raise ConfigError(f"compress.min_accuracy is a fraction in [0, 1] (e.g. 0.8), got {c.min_accuracy}")


def select(rows: list[dict[str, Any]], c: CompressConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mark and return the selected row, and a description ``{criterion, threshold, qualified, n_qualified}``."""
    check_selection_config(c)
    base = next(r for r in rows if r["model"] == BASELINE)
    if c.min_accuracy > 0:
        threshold, criterion = c.min_accuracy, f"validation accuracy >= {100 * c.min_accuracy:.1f} %"
        ok = [r for r in rows if r["val_accuracy"] >= threshold - 1e-12]
    else:
        threshold = -c.margin_points
        criterion = (f"non-inferior on validation: the 95 % paired CI's lower end of the accuracy and macro-F1 deltas "
                     f">= -{c.margin_points:g} points (baseline {100 * base['val_accuracy']:.1f} % / {100 * base['val_macro_f1']:.1f} %)")
        ok = [r for r in rows if _lower(r, "val_d_accuracy") >= threshold - 1e-9 and _lower(r, "val_d_macro_f1") >= threshold - 1e-9]
    chosen = min(ok, key=lambda r: (r["params"], -r["val_accuracy"])) if ok else base
    chosen["selected"] = True
    return chosen, {"criterion": criterion, "threshold": threshold, "qualified": bool(ok), "n_qualified": len(ok)}


def _lower(r: dict[str, Any], key: str) -> float:
    """The lower end of a delta's interval, or the delta itself when the row has no interval."""
    lo = r.get(f"{key}_lo")
    return r[key] if lo is None else lo


def has_causal(rows: list[dict[str, Any]]) -> bool:
    """Whether the table holds causal-head rows (stage 3)."""
    return any(r["stage"] == CAUSAL_STAGE for r in rows)


def _cell(v: Any) -> Any:
    return f"{v:.6g}" if isinstance(v, float) else ("" if v is None else v)


def to_csv(rows: list[dict[str, Any]]) -> str:
    columns = CSV_COLUMNS + (CAUSAL_COLUMNS if has_causal(rows) else ())
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: _cell(r.get(k)) for k in columns})
    return buf.getvalue()


def pct_ci(r: dict[str, Any], key: str) -> str:
    """``82.1 [79.0, 85.3]`` (percent) for an absolute score with its CI, or the bare value."""
    if r.get(f"{key}_lo") is None:
        return f"{100 * r[key]:.1f}"
    return f"{100 * r[key]:.1f} [{100 * r[f'{key}_lo']:.1f}, {100 * r[f'{key}_hi']:.1f}]"


def delta_ci(r: dict[str, Any], key: str) -> str:
    """``-0.4 [-1.2, +0.3]`` (points) for a paired delta with its CI, or the bare delta."""
    if r.get(f"{key}_lo") is None:
        return f"{r[key]:+.1f}"
    return f"{r[key]:+.1f} [{r[f'{key}_lo']:+.1f}, {r[f'{key}_hi']:+.1f}]"


def _md_row(r: dict[str, Any]) -> str:
    mark = "†" if r["weights"] == "pruned" and r["finetune_epochs"] else ""
    cells = [f"`{r['model']}`{mark}", str(r["stage"]), f"{100 * r['ratio']:g}", str(r["hidden"]), f"{r['params']:,}",
             f"{r['params_reduction_pct']:.1f}", f"{r['macs'] / 1e6:.2f} M", f"{r['macs_reduction_pct']:.1f}",
             delta_ci(r, "val_d_accuracy"), delta_ci(r, "val_d_macro_f1"), pct_ci(r, "test_accuracy"),
             delta_ci(r, "test_d_accuracy"), delta_ci(r, "test_d_macro_f1"), f"{r['test_kappa']:.3f}",
             "yes" if r["pareto"] else "", "**selected**" if r["selected"] else ("**causal**" if r.get("causal_selected") else "")]
    return "| " + " | ".join(cells) + " |"


HEAD = ["model", "stage", "pruned %", "hidden", "params", "-params %", "MACs/epoch", "-MACs %", "val Δacc pt [95 % CI]",
        "val ΔF1 pt [95 % CI]", "test acc % [95 % CI]", "test Δacc pt [95 % CI]", "test ΔF1 pt [95 % CI]", "test κ",
        "Pareto", "selected"]


def selection_sentence(sel: dict[str, Any], selection: dict[str, Any]) -> str:
    return (f"Selection ({selection['criterion']}, chosen on validation, never on test): `{sel['model']}` with "
            f"{sel['params']:,} parameters ({sel['params_reduction_pct']:.1f} % fewer), {sel['macs'] / 1e6:.2f} M MACs per epoch "
            f"({sel['macs_reduction_pct']:.1f} % fewer); paired against the baseline over the same subjects: validation "
            f"accuracy {delta_ci(sel, 'val_d_accuracy')} pt, macro-F1 {delta_ci(sel, 'val_d_macro_f1')} pt; test accuracy "
            f"{delta_ci(sel, 'test_d_accuracy')} pt, macro-F1 {delta_ci(sel, 'test_d_macro_f1')} pt.")


def to_markdown(rows: list[dict[str, Any]], selection: dict[str, Any], label: str, wall_s: float, recipe: str = "",
                causal: dict[str, Any] | None = None) -> str:
    """The sweep as a markdown document labelled with the dataset (``causal``: the look-ahead selection)."""
    sel = next(r for r in rows if r["selected"])
    method = f" with the `{recipe}` recipe" if recipe else ""
    lines = [f"# Compression sweep: {label}", "",
             f"Dataset: **{label}**. {len(rows)} models (baseline included){method}; sweep wall time {wall_s / 60:.1f} min.",
             selection_sentence(sel, selection), ""]
    if not selection["qualified"]:
        lines += ["**WARNING: no model met the criterion; the BASELINE is selected (nothing was compressed).**", ""]
    stages = "2 = LSTM hidden-size reduction, 3 = causal head (streaming)" if has_causal(rows) else "2 = LSTM hidden-size reduction"
    lines += [f"Stage 0 = baseline, 1 = channel pruning, {stages}. Δ = paired change vs the baseline "
              "in points (same subjects, same epochs), with a 95 % subject-bootstrap interval. Pareto = on the front of "
              "parameters vs validation macro-F1. † = fine-tuning lowered validation macro-F1, so the step kept its pruned, "
              "un-fine-tuned weights. sweep.csv has every score (kappa included) with its interval.", "",
              "| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += [_md_row(r) for r in rows]
    if causal is not None:
        lines += [""] + causal_markdown(rows, causal)
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------ the causal head (stage 3)
def causal_row(rec: dict[str, Any], base: dict[str, Any], parent: dict[str, Any]) -> dict[str, Any]:
    """A stage-3 row: :func:`model_row` vs the baseline, plus the paired change vs the bidirectional ``parent``."""
    row = {**model_row(rec, base), "lookahead": rec["lookahead"], "lag_s": rec["lag_s"], "causal_selected": False}
    for s in SPLITS:
        cms, ref = rec[s].get("subject_confusion"), parent[s].get("subject_confusion")
        delta = paired_delta_ci(cms_from_json(ref), cms_from_json(cms)) if cms and ref else None
        for m in VS_PARENT:
            key = f"{s}_d_{m}_vs_parent"
            row[key] = 100.0 * (rec[s][m] - parent[s][m])
            row[f"{key}_lo"] = delta[m]["lo"] if delta else None
            row[f"{key}_hi"] = delta[m]["hi"] if delta else None
    return row


def select_causal(rows: list[dict[str, Any]], margin: float, parent: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The look-ahead to deploy: the smallest ``k`` non-inferior to the parent on validation macro-F1.

    Non-inferior: the lower end of the 95 % paired interval of the validation macro-F1 change vs the
    bidirectional parent is at least ``-margin`` points (the point change when a row has no interval). When
    no ``k`` qualifies, the best one by validation macro-F1 (ties: the smaller ``k``) with ``qualified`` False.
    """
    if not rows:
        raise ValueError("no causal rows to select from")
    if margin < 0:
        raise ConfigError(f"compress.causal_margin_points must be >= 0 (macro-F1 points), got {margin}")
    ok = [r for r in rows if _lower(r, "val_d_macro_f1_vs_parent") >= -margin - 1e-9]
    chosen = min(ok, key=lambda r: r["lookahead"]) if ok else max(rows, key=lambda r: (r["val_macro_f1"], -r["lookahead"]))
    chosen["causal_selected"] = True
    criterion = (f"smallest look-ahead whose validation macro-F1 change vs the bidirectional `{parent}` (paired, 95 % CI) "
                 f"has its lower end >= -{margin:g} points")
    return chosen, {"criterion": criterion, "threshold": -margin, "qualified": bool(ok), "n_qualified": len(ok)}


CAUSAL_HEAD = ["model", "look-ahead (epochs)", "lag (s)", "hidden", "params", "val F1 % [95 % CI]",
               "val ΔF1 vs parent pt [95 % CI]", "test F1 % [95 % CI]", "test ΔF1 vs parent pt [95 % CI]",
               "test Δacc vs parent pt [95 % CI]", "selected"]


def _causal_md_row(r: dict[str, Any]) -> str:
    cells = [f"`{r['model']}`", str(r["lookahead"]), f"{r['lag_s']:g}", str(r["hidden"]), f"{r['params']:,}",
             pct_ci(r, "val_macro_f1"), delta_ci(r, "val_d_macro_f1_vs_parent"), pct_ci(r, "test_macro_f1"),
             delta_ci(r, "test_d_macro_f1_vs_parent"), delta_ci(r, "test_d_accuracy_vs_parent"),
             "**selected**" if r["causal_selected"] else ""]
    return "| " + " | ".join(cells) + " |"


def causal_markdown(rows: list[dict[str, Any]], causal: dict[str, Any]) -> list[str]:
    """The causal-head section of ``sweep.md``: the look-ahead selection and one row per ``k``."""
    crows = [r for r in rows if r["stage"] == CAUSAL_STAGE]
    sel = next(r for r in crows if r["causal_selected"])
    lines = ["## Causal head (stage 3): true streaming", "",
             f"The selected model's BiLSTM replaced by one LSTM direction, distilled from it; each decision is made "
             f"`k` epochs after its epoch and scored streaming (each whole night one step per epoch, state carried). "
             f"Selection ({causal['criterion']}, on validation): `{sel['model']}`, look-ahead {sel['lookahead']} "
             f"(lag {sel['lag_s']:g} s); validation macro-F1 {delta_ci(sel, 'val_d_macro_f1_vs_parent')} pt, test "
             f"{delta_ci(sel, 'test_d_macro_f1_vs_parent')} pt vs the bidirectional model.", ""]
    if not causal["qualified"]:
        lines += ["**WARNING: no look-ahead met the criterion; the best one is selected.**", ""]
    lines += ["| " + " | ".join(CAUSAL_HEAD) + " |", "|" + "---|" * len(CAUSAL_HEAD)]
    return lines + [_causal_md_row(r) for r in crows]
