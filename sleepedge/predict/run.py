"""``predict_paths``: score EDF recordings (files or folders of them) and write their hypnograms.

Each recording is read with the training reader (:func:`sleepedge.train.sleep_edf.read_recording`: the
same channel, header, sampling-rate and corrupt-file refusals), scored (:mod:`.score`), written
(:mod:`.outputs`) and summarised in ``OUT/predict.json``.

``OUT`` is written like a stage (:func:`sleepedge.run.transaction.stage_transaction`): built in
``.OUT.partial`` beside it, under a lock that refuses a second writer at once, with ``manifest.json``
(every output's sha256) written last, and swapped in only when complete. A finished ``OUT`` is replaced
only with ``overwrite`` (and only once the new one is complete); a non-empty folder that is not a finished
predict folder is never replaced. Two recordings that would write the same output names are refused
before anything is scored. A refused recording does not stop the others: what was scored is committed
(``predict.json`` lists the refused ones) and then one :class:`~sleepedge.core.errors.DataError` names
how many were refused and the first reason.
"""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.core.metrics import STAGES
from sleepedge.run.manifest import atomic_write_json, write_manifest
from sleepedge.run.transaction import stage_transaction

from sleepedge.predict.model import ExportedModel
from sleepedge.predict.online import check_mode, online_summary, score_online
from sleepedge.predict.outputs import write_outputs
from sleepedge.predict.provenance_check import csv_comments, model_summary, recording_check
from sleepedge.predict.score import score_recording

log = logging.getLogger(__name__)

HYPNOGRAM_RE = re.compile(r"hypnogram", re.IGNORECASE)


def recordings(inputs: list[str | Path]) -> list[Path]:
    """EDF files named by ``inputs``: files as given, folders searched (not recursively) for ``*.edf``
    except hypnograms (``*Hypnogram*.edf``) and the annotation files this command writes."""
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            edfs = sorted(p for p in item.iterdir() if p.suffix.lower() == ".edf" and p.is_file()
                          and not HYPNOGRAM_RE.search(p.name))
            if not edfs:
                raise DataError(f"{item}: no EDF recording in this folder (hypnogram files are skipped)")
            found += edfs
        elif item.is_file():
            found.append(item)
        else:
            raise DataError(f"{item}: file not found")
    unique: dict[Path, Path] = {}
    for edf in found:  # one file named twice (a.edf and ./dir/../a.edf) is scored once
        unique.setdefault(edf.resolve(), edf)
    return list(unique.values())


def refuse_shared_names(edfs: list[Path]) -> None:
    """Refuse two recordings whose outputs would share a name (``<stem>.hypnogram.*``), before scoring any.

    Names are compared case-insensitively: ``a.edf`` and ``a.EDF`` share their stem, and ``A.edf`` and
    ``a.edf`` would overwrite each other on a case-insensitive file system.
    """
    seen: dict[str, Path] = {}
    for edf in edfs:
        first = seen.setdefault(edf.stem.casefold(), edf)
        if first is not edf:
            raise DataError(f"{first} and {edf}: both would be written as {first.stem}.hypnogram.* (outputs are "
                            "named after the file, case-insensitively); rename one or score them into separate "
                            "--out folders")


def predict_one(model: ExportedModel, edf: Path, out: Path, channel: str, resample: bool, mode: str,
                lag: int | None, against: str | Path | None, png: bool, overwrite: bool,
                allow_non_eeg: bool = False) -> dict[str, Any]:
    """Read, score and write one recording; returns its summary (timings included)."""
    from sleepedge.train.sleep_edf import read_recording

    t0 = time.perf_counter()
    try:
        rec = read_recording(edf, channel=channel, sfreq=model.epoch_samples / 30.0, resample=resample,
                             allow_non_eeg=allow_non_eeg)
    except DataError as exc:  # the training reader names its config key; predict's switch is --resample
        raise DataError(str(exc).replace("set data.resample=true", "pass --resample")) from None
    t_read = time.perf_counter() - t0
    online: dict[str, Any] = {}
    if model.kind == "stateful":  # one epoch at a time, the state carried and reset at gaps (.online)
        scores, online = score_online(model, rec.x, edf)
    else:
        scores = score_recording(model, rec.x, mode=mode, lag=lag)
    summary: dict[str, Any] = {"recording": str(edf), "channel": channel, "start": rec.start.replace(tzinfo=None).isoformat(),
                               "epochs": int(len(rec.x)), "hours": len(rec.x) * 30 / 3600,
                               "stage_counts": {s: int(np.sum(scores.stages == i)) for i, s in enumerate(STAGES)},
                               "mode": mode, "model_calls": scores.model_calls, **online}
    summary["input_check"] = check = recording_check(model, rec.x, edf)  # OOD guard: sleepedge.predict.ood
    reference = None
    if against:
        from sleepedge.predict.against import agreement_fields, torch_logits

        reference = torch_logits(against, rec.x, model.seq_len).argmax(-1)
        summary.update(agreement_fields(scores.stages, reference))
    t1 = time.perf_counter()
    title = f"{edf.name}: {model.describe()}" + (f", agreement with PyTorch {summary['agreement_torch']:.1%}" if against else "")
    files = write_outputs(out, edf.stem, scores.stages, scores.probs, rec.start, title, reference, png, overwrite,
                          comments=csv_comments(model, check))
    summary.update(files={k: p.name for k, p in files.items()}, read_s=t_read, score_s=scores.seconds,
                   write_s=time.perf_counter() - t1, wall_s=time.perf_counter() - t0)
    return summary


def predict_paths(model: ExportedModel, inputs: list[str | Path], out: str | Path, channel: str = "EEG Fpz-Cz",
                  resample: bool = False, mode: str = "window", lag: int | None = None,
                  against: str | Path | None = None, png: bool = True, overwrite: bool = False,
                  allow_non_eeg: bool = False) -> dict[str, Any]:
    """Score every recording of ``inputs`` into the folder ``out``; writes and returns the ``predict.json`` summary.

    Raises
    ------
    DataError
        No recording found, two recordings sharing output names (nothing scored), or one or more refused
        (each reason logged; the first is in the message; the scored ones are committed first).
    StageExistsError
        ``out`` is a finished predict folder (and ``overwrite`` is false), or a non-empty folder that is not one.
    RunLockedError
        Another command is writing ``out``.
    """
    out = Path(out)
    edfs = recordings(inputs)
    refuse_shared_names(edfs)
    check_mode(model, mode)  # a window model online, a stateful pair in windows: one line, nothing scored
    if against and model.kind == "stateful":
        raise DataError(f"{model.files[1]}: --against is not available for a stateful pair yet; the export's "
                        "agreement_torch (MODEL_CARD.md) compares it with PyTorch over the test nights")
    provenance = model_summary(model)  # one warning when trained on synthetic data, a note when unknown
    options = {"channel": channel, "resample": resample, "mode": mode, "lag": lag, "against": against, "png": png,
               "allow_non_eeg": allow_non_eeg}
    with stage_transaction(out, overwrite=overwrite) as build:
        nights, refused = score_all(model, edfs, build, options)
        summary = {"model": [str(p) for p in model.files], "kind": model.kind, "runtime": model.runtime,
                   "seq_len": model.seq_len, **online_summary(model, mode), "provenance": provenance,
                   "nights": nights, "refused": refused}
        write_folder(build, model, summary, edfs, options)
    if refused:
        raise DataError(f"{len(refused)} of {len(edfs)} recording(s) refused (the others were scored into {out}); "
                        f"first: {refused[0]}")
    return summary


def score_all(model: ExportedModel, edfs: list[Path], build: Path,
              options: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """``(nights, refused)``: every recording scored into ``build``; a lone recording's refusal is raised as is.

    Raises
    ------
    DataError
        The only recording was refused, or every recording was (then nothing is committed).
    """
    nights, refused = [], []
    for edf in edfs:
        try:
            nights.append(predict_one(model, edf, build, options["channel"], options["resample"], options["mode"],
                                      options["lag"], options["against"], options["png"], False,
                                      options["allow_non_eeg"]))
            n = nights[-1]
            log.info("%s: %d epochs scored in %.2f s (wall %.2f s)", edf.name, n["epochs"], n["score_s"], n["wall_s"])
        except DataError as exc:
            if len(edfs) == 1:
                raise
            log.error("%s", exc)
            refused.append(str(exc))
    if not nights:
        raise DataError(f"all {len(edfs)} recordings refused (nothing written); first: {refused[0]}")
    return nights, refused


def write_folder(build: Path, model: ExportedModel, summary: dict[str, Any], edfs: list[Path],
                 options: dict[str, Any]) -> None:
    """``predict.json`` and then ``manifest.json`` (stage ``predict``: every output with its sha256, last)."""
    outputs: dict[str, Path] = {"predict_json": atomic_write_json(build / "predict.json", summary)}
    for night in summary["nights"]:
        stem = Path(night["recording"]).stem
        outputs.update({f"{stem}/{kind}": build / name for kind, name in night["files"].items()})
    scored = {str(Path(n["recording"])) for n in summary["nights"]}
    inputs: dict[str, Path] = {f"model/{p.name}": p for p in model.files}
    inputs.update({f"recording/{e.stem}": e for e in edfs if str(e) in scored})
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in options.items()}
    write_manifest(build, "predict", outputs=outputs, inputs=inputs, config=config,
                   metrics={"nights": len(summary["nights"]), "refused": len(summary["refused"])})
