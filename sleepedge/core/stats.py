"""Subject-level statistics: per-subject confusion matrices and subject bootstrap confidence intervals.

Scores are pooled over epochs (the sum of the subjects' confusion matrices), as every table reports
them. Their uncertainty comes from the subjects, not the epochs: epochs of one night are strongly
correlated, and with a handful of subjects per split the subject-to-subject spread dominates. So a
CI resamples whole subjects with replacement (a cluster bootstrap) and recomputes the pooled score.
A comparison of two models is *paired*: every bootstrap replicate draws the same subjects for both
models and takes the difference, so what the subjects share cancels and only the models' difference
is left.

Written with numpy alone (no scipy.stats.bootstrap): the statistic is a function of summed 5x5
confusion matrices, which vectorises over replicates as one ``einsum``, and the bench and budget
code that reads these records runs on boards with numpy only.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

METRICS = ("accuracy", "macro_f1", "kappa")
N_BOOT = 2000
LEVEL = 0.95


def subject_confusions(y_true: np.ndarray, y_pred: np.ndarray, subjects: np.ndarray,
                       n_classes: int = 5) -> dict[int, np.ndarray]:
    """``{subject: confusion matrix}`` with ``cm[i, j]`` = epochs of true class i predicted as j.

    ``y_true``/``y_pred`` are ``(N, T)`` or flat; ``subjects`` gives one subject per sequence (length N)
    or per epoch.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    subj = np.asarray(subjects)
    if subj.size != y_true.size:
        subj = np.repeat(subj, y_true.size // max(subj.size, 1))
    if subj.size != y_true.size or y_pred.size != y_true.size:
        raise ValueError(f"labels {y_true.shape}, predictions {y_pred.shape} and subjects {np.shape(subjects)} do not match")
    yt, yp, subj = y_true.ravel().astype(np.int64), y_pred.ravel().astype(np.int64), subj.ravel()
    out = {}
    for s in np.unique(subj):
        m = subj == s
        cm = np.zeros((n_classes, n_classes), np.int64)
        np.add.at(cm, (yt[m], yp[m]), 1)
        out[int(s)] = cm
    return out


def scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, macro-F1 (classes present in truth or prediction) and kappa of ``(..., k, k)`` matrices."""
    cm = np.asarray(cm, dtype=np.float64)
    total = cm.sum((-2, -1))
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support, predicted = cm.sum(-1), cm.sum(-2)
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    present = denom > 0
    macro = np.divide((f1 * present).sum(-1), present.sum(-1), out=np.zeros_like(total), where=present.sum(-1) > 0)
    acc = np.divide(tp.sum(-1), total, out=np.zeros_like(total), where=total > 0)
    expected = np.divide((support * predicted).sum(-1), total**2, out=np.zeros_like(total), where=total > 0)
    kappa = np.divide(acc - expected, 1 - expected, out=np.ones_like(total), where=expected < 1)
    return {"accuracy": acc, "macro_f1": macro, "kappa": kappa}


def _stack(cms: Mapping[Any, Any], order: Sequence[Any]) -> np.ndarray:
    return np.stack([np.asarray(cms[s], dtype=np.float64) for s in order])


def _replicate_weights(n_subjects: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n_subjects)``: how often each subject is drawn in each replicate."""
    draws = np.random.default_rng(seed).integers(0, n_subjects, size=(n_boot, n_subjects))
    return np.stack([np.bincount(d, minlength=n_subjects) for d in draws]).astype(np.float64)


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    a = (1 - level) / 2
    lo, hi = np.quantile(values, [a, 1 - a], method="inverted_cdf")
    return float(lo), float(hi)


def score_ci(cms: Mapping[Any, Any], n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> dict[str, dict[str, float]]:
    """Pooled scores of one model with subject-bootstrap CIs: ``{metric: {value, lo, hi}}``."""
    order = sorted(cms)
    stack = _stack(cms, order)
    point = scores(stack.sum(0))
    boot = scores(np.einsum("bs,sij->bij", _replicate_weights(len(order), n_boot, seed), stack))
    return {m: {"value": float(point[m]), **dict(zip(("lo", "hi"), _interval(boot[m], level)))} for m in METRICS}


def paired_delta_ci(cms_ref: Mapping[Any, Any], cms_new: Mapping[Any, Any], n_boot: int = N_BOOT, seed: int = 0,
                    level: float = LEVEL) -> dict[str, dict[str, float]]:
    """``new - ref`` of each pooled score, in points (x100), with a paired subject-bootstrap CI.

    Both models must be scored on the same subjects (and, per subject, the same epochs).
    Returns ``{metric: {"delta", "lo", "hi", "n_subjects"}}``.
    """
    if set(cms_ref) != set(cms_new):
        raise ValueError(f"paired comparison needs the same subjects, got {sorted(cms_ref)} and {sorted(cms_new)}")
    order = sorted(cms_ref)
    ref, new = _stack(cms_ref, order), _stack(cms_new, order)
    if not np.array_equal(ref.sum(-1), new.sum(-1)):
        raise ValueError("paired comparison needs the same epochs per subject and class in both models")
    w = _replicate_weights(len(order), n_boot, seed)
    d_point = {m: 100 * (scores(new.sum(0))[m] - scores(ref.sum(0))[m]) for m in METRICS}
    b_ref, b_new = scores(np.einsum("bs,sij->bij", w, ref)), scores(np.einsum("bs,sij->bij", w, new))
    out = {}
    for m in METRICS:
        lo, hi = _interval(100 * (b_new[m] - b_ref[m]), level)
        out[m] = {"delta": float(d_point[m]), "lo": lo, "hi": hi, "n_subjects": len(order)}
    return out


def cms_to_json(cms: Mapping[int, np.ndarray]) -> dict[str, list]:
    """JSON form (string keys) of ``subject_confusions`` output."""
    return {str(s): np.asarray(cm).astype(int).tolist() for s, cm in sorted(cms.items())}


def cms_from_json(d: Mapping[str, Any]) -> dict[int, np.ndarray]:
    return {int(s): np.asarray(cm, dtype=np.int64) for s, cm in d.items()}


def fmt_ci(d: Mapping[str, float], key: str = "delta", signed: bool = True) -> str:
    """``-0.4 [-1.2, +0.3]`` for a delta record (points), or ``82.1 [79.0, 85.3]`` for a score in percent."""
    if key == "delta":
        return f"{d['delta']:+.1f} [{d['lo']:+.1f}, {d['hi']:+.1f}]"
    f = "+.1f" if signed else ".1f"
    return f"{100 * d['value']:{f}} [{100 * d['lo']:{f}}, {100 * d['hi']:{f}}]"
