"""``predict_paths``: score EDF recordings (files or folders of them) and write their hypnograms.

Each recording is read with the training reader (:func:`sleepedge.train.sleep_edf.read_recording`: the
same channel, sampling-rate and corrupt-file refusals), scored (:mod:`.score`), written (:mod:`.outputs`)
and summarised in ``OUT/predict.json``. A refused recording does not stop the others; the run then
raises one :class:`~sleepedge.core.errors.DataError` naming how many were refused and the first reason.
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
from sleepedge.run.manifest import atomic_write_json

from sleepedge.predict.model import ExportedModel
from sleepedge.predict.outputs import write_outputs
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
    return list(dict.fromkeys(found))


def predict_one(model: ExportedModel, edf: Path, out: Path, channel: str, resample: bool, mode: str,
                lag: int | None, against: str | Path | None, png: bool, overwrite: bool) -> dict[str, Any]:
    """Read, score and write one recording; returns its summary (timings included)."""
    from sleepedge.train.sleep_edf import read_recording

    t0 = time.perf_counter()
    try:
        rec = read_recording(edf, channel=channel, sfreq=model.epoch_samples / 30.0, resample=resample)
    except DataError as exc:  # the training reader names its config key; predict's switch is --resample
        raise DataError(str(exc).replace("set data.resample=true", "pass --resample")) from None
    t_read = time.perf_counter() - t0
    scores = score_recording(model, rec.x, mode=mode, lag=lag)
    summary: dict[str, Any] = {"recording": str(edf), "channel": channel, "start": rec.start.replace(tzinfo=None).isoformat(),
                               "epochs": int(len(rec.x)), "hours": len(rec.x) * 30 / 3600,
                               "stage_counts": {s: int(np.sum(scores.stages == i)) for i, s in enumerate(STAGES)},
                               "mode": mode, "model_calls": scores.model_calls}
    reference = None
    if against:
        from sleepedge.predict.against import agreement_fields, torch_logits

        reference = torch_logits(against, rec.x, model.seq_len).argmax(-1)
        summary.update(agreement_fields(scores.stages, reference))
    t1 = time.perf_counter()
    title = f"{edf.name}: {model.describe()}" + (f", agreement with PyTorch {summary['agreement_torch']:.1%}" if against else "")
    files = write_outputs(out, edf.stem, scores.stages, scores.probs, rec.start, title, reference, png, overwrite)
    summary.update(files={k: p.name for k, p in files.items()}, read_s=t_read, score_s=scores.seconds,
                   write_s=time.perf_counter() - t1, wall_s=time.perf_counter() - t0)
    return summary


def predict_paths(model: ExportedModel, inputs: list[str | Path], out: str | Path, channel: str = "EEG Fpz-Cz",
                  resample: bool = False, mode: str = "window", lag: int | None = None,
                  against: str | Path | None = None, png: bool = True, overwrite: bool = False) -> dict[str, Any]:
    """Score every recording of ``inputs`` into ``out``; writes and returns the ``predict.json`` summary.

    Raises
    ------
    DataError
        No recording found, or one or more refused (each reason logged; the first is in the message).
    """
    out = Path(out)
    edfs = recordings(inputs)
    out.mkdir(parents=True, exist_ok=True)
    nights, refused = [], []
    for edf in edfs:
        try:
            nights.append(predict_one(model, edf, out, channel, resample, mode, lag, against, png, overwrite))
            n = nights[-1]
            log.info("%s: %d epochs scored in %.2f s (wall %.2f s)", edf.name, n["epochs"], n["score_s"], n["wall_s"])
        except (DataError, FileExistsError) as exc:
            if len(edfs) == 1:
                raise
            log.error("%s", exc)
            refused.append(str(exc))
    summary = {"model": [str(p) for p in model.files], "kind": model.kind, "runtime": model.runtime,
               "seq_len": model.seq_len, "nights": nights, "refused": refused}
    atomic_write_json(out / "predict.json", summary, overwrite=True)
    if refused:
        raise DataError(f"{len(refused)} of {len(edfs)} recording(s) refused (the others were scored into {out}); "
                        f"first: {refused[0]}")
    return summary
