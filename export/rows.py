"""Build one export row (see docs/architecture.md, "Export rows") from an exported file.

A row is a flat dict; everything that goes wrong while checking a file becomes ``status="failed"``
with a ``reason`` instead of an exception.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.config.formats import ExportFormat
from sleepedge.export.onnx_export import max_abs_diff
from sleepedge.export.oplist import check_ops, list_ops
from sleepedge.export.provenance import stamp_provenance
from sleepedge.export.validate import quantize, runtime_logits, score, tflite_io

log = logging.getLogger(__name__)


def new_row(model_name: str, fmt: ExportFormat, model_info: dict[str, Any]) -> dict[str, Any]:
    """A row with every key of the schema present (None until measured)."""
    row: dict[str, Any] = {
        "model": model_name, "format": fmt.name, "status": "failed", "reason": "", "file": None,
        "file_bytes": None, "runtime": fmt.runtime, "precision": fmt.precision, "converter": fmt.converter,
        "lstm": fmt.lstm or None, "input_dtype": "int8" if fmt.int8_io else "float32",
        "parity_max_abs": None, "parity_tol": None, "accuracy": None, "macro_f1": None, "kappa": None,
        "agreement_torch": None, "flex_ops": {}, "float_ops": {}, "custom_ops": {}, "op_counts": {},
        "tflm_arena_bytes": None, "tflm_status": "not_applicable", "fits_boards": [], "convert_s": None,
    }
    row.update(model_info)
    return row


def fail(row: dict[str, Any], reason: str) -> dict[str, Any]:
    """Mark ``row`` failed with ``reason`` (keeping an earlier reason) and return it."""
    row["status"] = "failed"
    row["reason"] = f"{row['reason']}; {reason}" if row.get("reason") else reason
    log.warning("%s/%s failed: %s", row["model"], row["format"], reason)
    return row


def check_file(row: dict[str, Any], fmt: ExportFormat, path: Path, export_root: Path,
               test_x: np.ndarray, test_y: np.ndarray, ref_logits: np.ndarray, tol: float | None,
               subjects: np.ndarray | None = None) -> dict[str, Any]:
    """Fill ``row`` for the exported ``path``: size, op list, runtime scores, parity against PyTorch.

    Parameters
    ----------
    row : dict
        From :func:`new_row`; updated in place.
    fmt : ExportFormat
        The format of ``path``.
    path, export_root : Path
        The file, and the folder ``row["file"]`` is relative to.
    test_x, test_y : ndarray
        Test sequences (N, T, 1, S) and labels (N, T).
    ref_logits : ndarray
        PyTorch logits for ``test_x``.
    tol : float or None
        Parity tolerance (max abs logit difference); None = report only.
    subjects : ndarray or None
        Subject of each test sequence: the row then keeps one confusion matrix per subject
        (``subject_confusion``), for paired comparisons between formats, and subject-level bootstrap
        confidence intervals of its scores (``accuracy_ci`` ...).
    """
    reason = stamp_provenance(row, {None: path})  # into the file first: every figure below is of the final bytes
    if reason:
        return fail(row, reason)
    row.update(file=path.relative_to(export_root).as_posix(), file_bytes=path.stat().st_size, parity_tol=tol)
    try:
        if fmt.runtime == "tflite":
            verdict = check_ops(list_ops(path), fmt.is_int8)
            row.update({k: verdict[k] for k in ("flex_ops", "float_ops", "custom_ops", "op_counts")})
            row["n_ops"] = verdict["n_ops"]
            row.update(tflite_io(path))
            if not verdict["ok"]:
                return fail(row, verdict["reason"])
        logits = runtime_logits(fmt.runtime, path, test_x)
    except Exception as exc:  # a file its runtime cannot run is a failed row, not a dead export
        return fail(row, f"{fmt.runtime} could not run {path.name}: {type(exc).__name__}: {exc}")
    return finish_row(row, logits, test_y, ref_logits, tol, subjects)


def finish_row(row: dict[str, Any], logits: np.ndarray, test_y: np.ndarray, ref_logits: np.ndarray,
               tol: float | None, subjects: np.ndarray | None = None) -> dict[str, Any]:
    """Parity against PyTorch, test scores (none for the untrained reference) and the verdict of one row.

    With ``subjects``: the per-subject confusion matrices (``subject_confusion``, for paired comparisons
    between formats) and the scores' subject-bootstrap CIs (``accuracy_ci`` ..., :mod:`sleepedge.core.stats`).
    """
    row["parity_max_abs"] = max_abs_diff(logits, ref_logits)
    untrained = bool(row.get("untrained"))
    scores = score(logits, test_y, ref_logits.argmax(-1), None if untrained else subjects)
    if untrained:  # random weights: parity and agreement with PyTorch mean something, accuracy does not
        scores = {k: (v if k == "agreement_torch" else None) for k, v in scores.items()}
    elif subjects is not None:
        from sleepedge.core.stats import cms_to_json, subject_confusions

        row["subject_confusion"] = cms_to_json(subject_confusions(test_y, logits.argmax(-1), subjects))
    row.update(scores)
    if tol is not None and row["parity_max_abs"] > tol:
        return fail(row, f"parity: max |logit difference| {row['parity_max_abs']:.3g} > tolerance {tol:g}")
    row["status"] = "ok"
    return row


def tflm_input(row: dict[str, Any], x: np.ndarray) -> np.ndarray:
    """One test sequence in the model's input dtype (quantised with its own scale and zero point)."""
    seq = x[:1].astype(np.float32)
    if row.get("input_dtype") in ("int8", "int16"):
        return quantize(seq, row["input_scale"], row["input_zero_point"], np.dtype(row["input_dtype"]).type)
    return seq
