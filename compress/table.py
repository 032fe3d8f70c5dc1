"""The sweep table (one row per model), the Pareto front, and the selection of the model to export.

Selection uses VALIDATION accuracy only (choosing on test would leak it); test figures are reported
beside it. Criterion: with ``min_accuracy > 0`` a model qualifies when its validation accuracy is at
least ``min_accuracy`` (an absolute floor that then replaces the margin); otherwise when it is within
``margin_points`` accuracy points of the baseline's. The smallest qualifying model (fewest parameters;
ties: higher validation accuracy) is selected; if none qualifies, the baseline is, and the report says so.
The Pareto front is over (parameters, validation macro-F1): no other model is at most as large and
at least as good with one of the two strict.
"""
from __future__ import annotations

import csv
import io
from typing import Any

from sleepedge.config import CompressConfig, ConfigError

from .plan import BASELINE

SPLITS = ("val", "test")
METRICS = ("accuracy", "macro_f1", "kappa")
CSV_COLUMNS = (
    "model", "stage", "ratio", "hidden", "small_channels", "large_channels", "params", "params_reduction_pct",
    "macs", "macs_reduction_pct",
    *[f"{s}_{m}" for s in SPLITS for m in METRICS], *[f"{s}_d_{m}" for s in SPLITS for m in METRICS],
    "val_accuracy_before_finetune", "finetune_epochs", "weights", "wall_s", "pareto", "selected",
)


def build_rows(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per model (baseline first); deltas vs the baseline in points (kappa: x100 as well)."""
    base = records[BASELINE]
    rows = []
    for rec in records.values():
        row = {
            "model": rec["id"], "stage": rec["stage"], "ratio": rec["ratio"], "hidden": rec["hidden"],
            "small_channels": "/".join(map(str, rec["small_channels"])), "large_channels": "/".join(map(str, rec["large_channels"])),
            "params": rec["params"], "params_reduction_pct": 100.0 * (1 - rec["params"] / base["params"]),
            "macs": rec["macs"], "macs_reduction_pct": 100.0 * (1 - rec["macs"] / base["macs"]),
            "val_accuracy_before_finetune": rec.get("val_before_finetune", {}).get("accuracy"),
            "finetune_epochs": rec["finetune"]["epochs"], "weights": rec["finetune"].get("kept", ""), "wall_s": rec["wall_s"]["total"], "pareto": False, "selected": False,
        }
        for s in SPLITS:
            for m in METRICS:
                row[f"{s}_{m}"] = rec[s][m]
                row[f"{s}_d_{m}"] = 100.0 * (rec[s][m] - base[s][m])
        rows.append(row)
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
    else:
        threshold = base["val_accuracy"] - c.margin_points / 100.0
        criterion = f"validation accuracy within {c.margin_points:g} points of the baseline (>= {100 * threshold:.1f} %)"
    ok = [r for r in rows if r["val_accuracy"] >= threshold - 1e-12]
    chosen = min(ok, key=lambda r: (r["params"], -r["val_accuracy"])) if ok else base
    chosen["selected"] = True
    return chosen, {"criterion": criterion, "threshold": threshold, "qualified": bool(ok), "n_qualified": len(ok)}


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{r[k]:.6g}" if isinstance(r[k], float) else r[k]) for k in CSV_COLUMNS})
    return buf.getvalue()


def _pct(v: float) -> str:
    return f"{100 * v:.1f}"


def _delta(v: float) -> str:
    return f"{v:+.1f}"


def _md_row(r: dict[str, Any]) -> str:
    mark = "†" if r["weights"] == "pruned" and r["finetune_epochs"] else ""
    cells = [f"`{r['model']}`{mark}", str(r["stage"]), f"{100 * r['ratio']:g}", str(r["hidden"]), f"{r['params']:,}",
             f"{r['params_reduction_pct']:.1f}", f"{r['macs'] / 1e6:.2f} M", f"{r['macs_reduction_pct']:.1f}"]
    for s in SPLITS:
        cells += [_pct(r[f"{s}_accuracy"]), _delta(r[f"{s}_d_accuracy"]), _pct(r[f"{s}_macro_f1"]),
                  _delta(r[f"{s}_d_macro_f1"]), f"{r[f'{s}_kappa']:.3f}", _delta(r[f"{s}_d_kappa"])]
    cells += ["yes" if r["pareto"] else "", "**selected**" if r["selected"] else ""]
    return "| " + " | ".join(cells) + " |"


def to_markdown(rows: list[dict[str, Any]], selection: dict[str, Any], label: str, wall_s: float) -> str:
    """The sweep as a markdown document labelled with the dataset."""
    sel = next(r for r in rows if r["selected"])
    head = ["model", "stage", "pruned %", "hidden", "params", "-params %", "MACs/epoch", "-MACs %"]
    for s in ("val", "test"):
        head += [f"{s} acc %", "Δ pt", f"{s} F1 %", "Δ pt", f"{s} κ", "Δ (x100)"]
    head += ["Pareto", "selected"]
    lines = [f"# Compression sweep: {label}", "",
             f"Dataset: **{label}**. {len(rows)} models (baseline included); sweep wall time {wall_s / 60:.1f} min.",
             f"Selection ({selection['criterion']}, chosen on validation, never on test): `{sel['model']}` with "
             f"{sel['params']:,} parameters ({sel['params_reduction_pct']:.1f} % fewer), {sel['macs'] / 1e6:.2f} M MACs per epoch "
             f"({sel['macs_reduction_pct']:.1f} % fewer); validation accuracy {_pct(sel['val_accuracy'])} % "
             f"({_delta(sel['val_d_accuracy'])} pt), test accuracy {_pct(sel['test_accuracy'])} % ({_delta(sel['test_d_accuracy'])} pt), "
             f"test macro-F1 {_pct(sel['test_macro_f1'])} % ({_delta(sel['test_d_macro_f1'])} pt).", ""]
    if not selection["qualified"]:
        lines += ["**WARNING: no model met the criterion; the BASELINE is selected (nothing was compressed).**", ""]
    lines += ["Stage 0 = baseline, 1 = channel pruning, 2 = LSTM hidden-size reduction. Δ = change vs the baseline in points. "
              "Pareto = on the front of parameters vs validation macro-F1. † = fine-tuning lowered validation macro-F1, "
              "so the step kept its pruned, un-fine-tuned weights (compress.keep_pruned_if_better).", "",
              "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [_md_row(r) for r in rows]
    return "\n".join(lines) + "\n"
