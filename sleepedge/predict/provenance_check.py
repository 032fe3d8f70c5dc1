"""What ``sleepedge predict`` says about the model and about each recording, from the model's provenance.

* :func:`model_provenance` (at load): the provenance the export wrote into the model file
  (:func:`sleepedge.firmware_bench.provenance.read_provenance`); for an export model folder whose file
  carries none (exported before sleepedge wrote it), what the export manifest says (dataset, ``untrained``).
* :func:`refuse_untrained`: an untrained model (random weights) is refused unless ``--allow-untrained``.
* :func:`model_summary`: the model's provenance for ``predict.json``, with one terminal warning when it was
  trained on synthetic data, or one note when its provenance is unknown.
* :func:`recording_check`: the out-of-distribution report of one recording (:mod:`.ood`), with a terminal
  warning when it is out of distribution; :func:`csv_comments`: both as ``# `` lines for the hypnogram CSV.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.core.errors import DataError

log = logging.getLogger(__name__)


def _folder_row(folder: Path, file: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(export row of file, manifest dataset)`` from the export manifest above a model folder ({} when absent)."""
    from sleepedge.run.manifest import read_manifest

    m = read_manifest(folder.parent, verify=False)
    try:
        rel = file.resolve().relative_to(folder.parent.resolve()).as_posix()
    except ValueError:  # not inside the export folder: no row speaks for it
        return {}, {}
    rows = [r for r in (m.get("metrics") or {}).get("rows") or [] if isinstance(r, dict)]
    row = next((r for r in rows if r.get("file") == rel or rel in (r.get("files") or {}).values()), {})
    return row, m.get("dataset") if isinstance(m.get("dataset"), dict) else {}


def model_provenance(files: list[Path], folder: Path | None = None) -> dict[str, Any] | None:
    """The provenance of a loaded model (its first file: the window model, or the pair's feature model).

    For a model ``folder`` (``RUN/export/<model>``) whose file carries none, the export manifest's row and
    dataset stand in (``source`` says so). None when nothing is known.

    Raises
    ------
    DataError
        A damaged provenance in the file.
    """
    from sleepedge.firmware_bench.provenance import read_provenance

    doc = read_provenance(files[0])
    if doc is not None or folder is None:
        return doc
    row, dataset = _folder_row(folder, files[0])
    if not row and not dataset:
        return None
    return {"source": f"{folder.parent / 'manifest.json'} (the file carries no provenance)", "model": row.get("model"),
            "format": row.get("format"), "untrained": bool(row.get("untrained")),
            "dataset": {"name": dataset.get("name"), "synthetic": dataset.get("synthetic"), "label": dataset.get("label")}}


def refuse_untrained(model, allow: bool) -> None:
    """:class:`DataError` for an untrained model (random weights) unless ``allow`` (``--allow-untrained``)."""
    prov = getattr(model, "provenance", None) or {}
    if prov.get("untrained") and not allow:
        raise DataError(f"{model.files[0]}: an untrained model (random weights, per its provenance): its stages mean "
                        "nothing; pass --allow-untrained to score with it anyway")


def provenance_fields(model) -> dict[str, Any]:
    """The model's provenance essentials for ``predict.json`` and the CSV (``known`` False without provenance)."""
    prov = getattr(model, "provenance", None)
    if prov is None:
        return {"known": False}
    ds = prov.get("dataset") or {}
    return {"known": True, "dataset": ds.get("name"), "synthetic": ds.get("synthetic"), "label": ds.get("label"),
            "untrained": bool(prov.get("untrained")), "channel": prov.get("channel"), "sfreq_hz": prov.get("sfreq_hz"),
            "inputs_digest": prov.get("inputs_digest"), "source": prov.get("source", "model file")}


def model_summary(model) -> dict[str, Any]:
    """:func:`provenance_fields`, logging one warning (synthetic, untrained) or one note (provenance unknown)."""
    out, name = provenance_fields(model), model.files[0]
    if not out["known"]:
        log.info("%s: provenance unknown (the file carries none: exported before sleepedge recorded it)", name)
        return out
    if out["synthetic"]:
        log.warning("%s was trained on SYNTHETIC data (%s), not on real EEG: its stages of a real recording are "
                    "not validated", name, out["label"] or out["dataset"])
    if out["untrained"]:
        log.warning("%s is untrained (random weights): its stages mean nothing", name)
    return out


def recording_check(model, x: np.ndarray, edf: Path) -> dict[str, Any]:
    """The OOD report of one recording's epochs ``x`` (n_epochs, S) in uV; a terminal warning when it is out of
    distribution. Without training input statistics in the model: ``{"ood": None, "reasons": [], "note": ...}``."""
    from sleepedge.predict.ood import input_report

    stats = (getattr(model, "provenance", None) or {}).get("input_stats")
    if not stats:
        return {"ood": None, "reasons": [], "note": "the model carries no training input statistics"}
    report = input_report(x, stats)
    if report["ood"]:
        log.warning("%s: unlike the model's training data: %s", edf.name, "; ".join(report["reasons"]))
    return report


def _num(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def csv_comments(model, check: dict[str, Any]) -> list[str]:
    """Comment lines (without ``# ``) for the hypnogram CSV: the model's provenance and the recording's check."""
    model_info = provenance_fields(model)
    if not model_info["known"]:
        lines = ["model provenance: unknown (the model file carries none)"]
    else:
        lines = [f"model provenance: dataset {model_info.get('label') or model_info.get('dataset')}, "
                 f"synthetic {str(model_info.get('synthetic')).lower()}, untrained {str(model_info['untrained']).lower()}"]
        if model_info.get("synthetic"):
            lines.append("WARNING: model trained on SYNTHETIC data, not on real EEG: these stages are not validated")
    if check.get("ood") is None:
        lines.append(f"input check: not done ({check.get('note', 'no statistics')})")
    elif check["ood"]:
        lines.append("WARNING: input unlike the training data: " + "; ".join(check["reasons"]))
    else:
        lines.append(f"input check: ok (spectral distance {check['spectral_distance_db']:.1f} dB, level "
                     f"{_num(check['level_ratio'], '.2f')}x, {_num(check['outside_fraction'], '.2%')} beyond the "
                     "calibration range)")
    return lines
