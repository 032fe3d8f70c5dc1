"""Sleep-staging metrics with numpy alone (accuracy, macro-F1, Cohen's kappa, per-class F1, confusion).

Written here rather than taken from scikit-learn because the bench computes them on an ARM board
whose install is numpy + a runtime only; tests check them against hand-computed cases.
"""
from __future__ import annotations

from typing import Any

import numpy as np

STAGES = ("W", "N1", "N2", "N3", "REM")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 5) -> np.ndarray:
    """``cm[i, j]`` = epochs of true class i predicted as j."""
    y_true = np.asarray(y_true).ravel().astype(np.int64)
    y_pred = np.asarray(y_pred).ravel().astype(np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length ({y_true.size} vs {y_pred.size})")
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def metrics_from_confusion(cm: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1 (over classes present in truth or prediction), kappa, per-class F1."""
    cm = np.asarray(cm, dtype=np.float64)
    total = cm.sum()
    if total == 0:
        raise ValueError("no epochs to score")
    tp = np.diag(cm)
    support, predicted = cm.sum(1), cm.sum(0)
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    present = denom > 0
    acc = tp.sum() / total
    expected = (support * predicted).sum() / total**2
    kappa = (acc - expected) / (1 - expected) if expected < 1 else 1.0
    names = STAGES if len(tp) == len(STAGES) else tuple(str(i) for i in range(len(tp)))
    return {
        "accuracy": float(acc),
        "macro_f1": float(f1[present].mean()),
        "kappa": float(kappa),
        "per_class_f1": {n: float(v) for n, v in zip(names, f1)},
        "support": {n: int(v) for n, v in zip(names, support)},
        "confusion": cm.astype(np.int64).tolist(),
        "n_epochs": int(total),
    }


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 5) -> dict[str, Any]:
    """All metrics for flat label arrays."""
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, n_classes))


def agreement(pred_a: np.ndarray, pred_b: np.ndarray) -> float:
    """Fraction of epochs where two models predict the same stage."""
    a, b = np.asarray(pred_a).ravel(), np.asarray(pred_b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"prediction arrays differ in length ({a.size} vs {b.size})")
    return float((a == b).mean())
