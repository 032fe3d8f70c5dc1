"""Aggregate of a k-fold run: per-fold and mean ± sd scores, pooled scores, and the fold to deploy.

Reads what each fold's stages wrote (train and compress manifests, the selected step's record); it
trains nothing. Standard library and numpy only.

Mean ± sd are over folds (sample standard deviation, ``ddof=1``; undefined for one fold). "Pooled"
scores one confusion matrix summed over every fold's test epochs, the way DeepSleepNet reported its
20-fold Sleep-EDF-20 figures (82.0 % accuracy, 76.9 macro-F1, kappa 0.76).

Paired statistics (:mod:`sleepedge.core.stats`): each fold's compressed-minus-baseline change comes with
its paired subject-bootstrap 95 % CI over that fold's test subjects (the interval the fold's sweep
table gives), and, since every subject is tested in exactly one fold, the pooled change over all
test subjects of the k folds gets the same paired interval, which is what tells whether compression
costs accuracy across the whole cross-validation.

The fold to deploy: the one whose selected (compressed) model's test macro-F1 is closest to the
k-fold mean (ties: fewer parameters, then the lower fold). Not the best fold: picking the maximum of
k test scores chooses on test data and overstates what ships; the representative fold is the one the
cross-validated mean ± sd describes.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.core.metrics import metrics_from_confusion
from sleepedge.core.stats import cms_from_json, fmt_ci, paired_delta_ci

METRICS = ("accuracy", "macro_f1", "kappa")
MODELS = ("baseline", "compressed")
PUBLISHED = {"name": "DeepSleepNet (Supratak et al. 2017), Sleep-EDF-20, 20-fold", "accuracy": 0.820,
             "macro_f1": 0.769, "kappa": 0.76}


def fold_dir(run: Path, fold: int) -> Path:
    """``RUN/folds/fold-KK``: one complete pipeline run folder per fold."""
    return Path(run) / "folds" / f"fold-{fold:02d}"


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text("utf-8")) if path.is_file() else None


def _scores(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in (*METRICS, "confusion")}


def fold_row(run: Path, fold: int) -> dict[str, Any]:
    """Scores of one fold's baseline and selected model on its test subjects (``status`` says what is missing)."""
    d = fold_dir(run, fold)
    train, comp = _json(d / "train" / "manifest.json"), _json(d / "compress" / "manifest.json")
    row: dict[str, Any] = {"fold": fold, "folder": str(d.relative_to(run)), "status": "done"}
    if train is None or comp is None:
        row["status"] = "missing " + ("train" if train is None else "compress")
        return row
    split = train.get("split") or {}
    row.update(test_subjects=split.get("test"), val_subjects=split.get("val"), dataset=train.get("dataset", {}).get("label"))
    row["baseline"] = {**_scores(train["metrics"]["test"]), "params": comp["metrics"]["baseline"]["params"]}
    sel = comp["metrics"]["selected"]
    rec = _json(d / "compress" / "steps" / sel["model"] / "step.json")
    if rec is None:
        raise FileNotFoundError(f"{d}/compress/steps/{sel['model']}/step.json: the selected model's record is missing")
    row["compressed"] = {**_scores(rec["test"]), "model": sel["model"], "params": sel["params"],
                         "params_reduction_pct": sel["params_reduction_pct"]}
    base_rec = _json(d / "compress" / "steps" / "baseline" / "step.json") or {}
    cms = {"baseline": base_rec.get("test", {}).get("subject_confusion"), "compressed": rec["test"].get("subject_confusion")}
    for model in MODELS:
        row[model]["subject_confusion"] = cms[model]
    row["paired_delta"] = _paired(*(cms_from_json(cms[m]) if cms[m] else None for m in MODELS))
    row["export"] = str((d / "export").relative_to(run)) if (d / "export" / "manifest.json").is_file() else None
    return row


def _paired(ref: dict[Any, Any] | None, new: dict[Any, Any] | None) -> dict[str, Any] | None:
    """Paired subject-bootstrap CI of ``new - ref`` (points) over per-subject matrices (JSON form or
    already converted), or None without them."""
    if not ref or not new or set(ref) != set(new):
        return None
    conv = lambda d: {k: np.asarray(v, dtype=np.int64) for k, v in d.items()}  # noqa: E731
    return paired_delta_ci(conv(ref), conv(new))


def mean_sd(values: list[float]) -> dict[str, float]:
    """``{"mean", "sd"}`` over folds (sample sd, NaN for a single fold)."""
    a = np.asarray(values, dtype=np.float64)
    return {"mean": float(a.mean()), "sd": float(a.std(ddof=1)) if a.size > 1 else math.nan}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± sd, pooled scores and the paired change, over the finished folds of ``rows``."""
    done = [r for r in rows if r["status"] == "done"]
    if not done:
        raise ValueError("no fold has finished train and compress")
    out: dict[str, Any] = {"n_folds": len(rows), "n_done": len(done)}
    for model in MODELS:
        out[model] = {k: mean_sd([r[model][k] for r in done]) for k in METRICS}
        pooled = metrics_from_confusion(np.sum([np.asarray(r[model]["confusion"]) for r in done], axis=0))
        out[model]["pooled"] = {k: pooled[k] for k in METRICS}
        out[model]["params"] = mean_sd([r[model]["params"] for r in done])
    out["delta_points"] = {k: mean_sd([100 * (r["compressed"][k] - r["baseline"][k]) for r in done]) for k in METRICS}
    # every subject is tested in one fold only: pair the two models over all test subjects of all folds
    pooled_cms = {m: {(r["fold"], s): cm for r in done for s, cm in cms_from_json(r[m].get("subject_confusion") or {}).items()}
                  for m in MODELS}
    complete = all(r["baseline"].get("subject_confusion") and r["compressed"].get("subject_confusion") for r in done)
    out["paired_delta"] = _paired(pooled_cms["baseline"], pooled_cms["compressed"]) if complete else None
    return out


def deployed_fold(rows: list[dict[str, Any]], summary: dict[str, Any]) -> dict[str, Any]:
    """The fold to deploy and why (see the module docstring)."""
    done = [r for r in rows if r["status"] == "done"]
    mean = summary["compressed"]["macro_f1"]["mean"]
    best = min(done, key=lambda r: (abs(r["compressed"]["macro_f1"] - mean), r["compressed"]["params"], r["fold"]))
    c = best["compressed"]
    reason = (f"its selected model's test macro-F1 ({100 * c['macro_f1']:.1f}) is the closest to the {len(done)}-fold mean "
              f"({100 * mean:.1f}), so the cross-validated mean ± sd describes the model that ships; the best fold is not "
              "taken because choosing the maximum of the folds' test scores would select on test data")
    return {"fold": best["fold"], "folder": best["folder"], "model": c["model"], "params": c["params"],
            "export": best.get("export"), "reason": reason}


def _ms(d: dict[str, float], scale: float = 100.0, digits: int = 1) -> str:
    sd = "n/a" if math.isnan(d["sd"]) else f"{scale * d['sd']:.{digits}f}"
    return f"{scale * d['mean']:.{digits}f} ± {sd}"


def _k(v: float) -> str:
    return f"{v:.3f}"


def to_markdown(rows: list[dict[str, Any]], summary: dict[str, Any], deployed: dict[str, Any]) -> str:
    """The k-fold table (per fold, mean ± sd, pooled, published reference) and the deployment line."""
    done = [r for r in rows if r["status"] == "done"]
    label = done[0].get("dataset") or "?"
    lines = _table_head(summary, label)
    lines += [_fold_line(r) for r in rows]
    lines += _summary_lines(summary)
    lines += _deployment_lines(deployed, label)
    return "\n".join(lines)


def _table_head(summary: dict[str, Any], label: str) -> list[str]:
    """Title, what the columns mean, and the table's header."""
    return [f"# Subject-wise {summary['n_folds']}-fold cross-validation: {label}", "",
            "Test scores of each fold's baseline and of the model its compression sweep selected (on validation).",
            "Accuracy and macro-F1 in %, kappa as is; mean ± sd over folds (sample sd).", "",
            "ΔF1: compressed minus baseline in points with its paired subject-bootstrap 95 % CI over the fold's test "
            "subjects.", "",
            "| fold | test subjects | baseline acc | baseline F1 | baseline κ | selected | params | acc | F1 | κ | ΔF1 pt [95 % CI] |",
            "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]


def _fold_line(r: dict[str, Any]) -> str:
    """One fold's table row (its status when unfinished)."""
    if r["status"] != "done":
        return f"| {r['fold']} | {r['status']} | | | | | | | | | |"
    b, c = r["baseline"], r["compressed"]
    pd = r.get("paired_delta")
    return (f"| {r['fold']} | {r['test_subjects']} | {100 * b['accuracy']:.1f} | {100 * b['macro_f1']:.1f} | "
            f"{_k(b['kappa'])} | `{c['model']}` | {c['params']:,} | {100 * c['accuracy']:.1f} | "
            f"{100 * c['macro_f1']:.1f} | {_k(c['kappa'])} | {fmt_ci(pd['macro_f1']) if pd else 'n/a'} |")


def _summary_lines(s: dict[str, Any]) -> list[str]:
    """Mean ± sd, pooled and published rows, then the change compressed minus baseline."""
    b, c = s["baseline"], s["compressed"]
    lines = [f"| **mean ± sd** | {s['n_done']} folds | {_ms(b['accuracy'])} | {_ms(b['macro_f1'])} | "
             f"{_ms(b['kappa'], 1, 3)} | | {c['params']['mean']:,.0f} | {_ms(c['accuracy'])} | "
             f"{_ms(c['macro_f1'])} | {_ms(c['kappa'], 1, 3)} | {_ms(s['delta_points']['macro_f1'], 1.0)} |"]
    bp, cp = b["pooled"], c["pooled"]
    pooled_d = s.get("paired_delta")
    lines.append(f"| pooled test epochs | | {100 * bp['accuracy']:.1f} | {100 * bp['macro_f1']:.1f} | {_k(bp['kappa'])} | | | "
                 f"{100 * cp['accuracy']:.1f} | {100 * cp['macro_f1']:.1f} | {_k(cp['kappa'])} | "
                 f"{fmt_ci(pooled_d['macro_f1']) if pooled_d else 'n/a'} |")
    p = PUBLISHED
    lines += [f"| {p['name']} | | {100 * p['accuracy']:.1f} | {100 * p['macro_f1']:.1f} | {p['kappa']:.2f} | | | | | | |", "",
              "Change compressed minus baseline, per fold then mean ± sd (points): "
              + ", ".join(f"{k} {_ms(s['delta_points'][k], 1.0)}" for k in METRICS) + "."]
    if pooled_d:
        n = pooled_d["accuracy"]["n_subjects"]
        lines.append(f"Pooled over the {n} test subjects of all folds, paired (subject bootstrap, 95 % CI, points): "
                     + ", ".join(f"{k} {fmt_ci(pooled_d[k])}" for k in METRICS) + ".")
    return lines


def _deployment_lines(deployed: dict[str, Any], label: str) -> list[str]:
    """The deployed fold and why, and the SYNTHETIC-data warning."""
    lines = ["",
             f"**Deployed: fold {deployed['fold']}** (`{deployed['folder']}`, model `{deployed['model']}`, "
             f"{deployed['params']:,} params): {deployed['reason']}."
             + (f" Its export: `{deployed['export']}`." if deployed.get("export") else ""), ""]
    if "SYNTHETIC" in label:
        lines += ["These figures come from SYNTHETIC data: they show that the protocol runs, not how the model "
                  "compares with the published Sleep-EDF-20 figures.", ""]
    return lines
