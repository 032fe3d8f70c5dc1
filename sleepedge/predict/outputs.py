"""The hypnogram of one recording as CSV, as EDF+ annotations and as a PNG.

CSV: ``# `` comment lines first (the model's provenance and the recording's input check,
:mod:`.provenance_check`), then ``epoch, onset_s, onset_time, stage, p_W, p_N1, p_N2, p_N3, p_REM`` (onset
from the recording start; clock time from the EDF header). EDF+: an annotations-only file like Sleep-EDF's hypnograms,
one annotation per run of equal stages, in Sleep-EDF's wording (``Sleep stage W/1/2/3/R``), so the
training reader reads it back; written with edfio (a maintained EDF writer, already used by MNE's
EDF export). PNG: hypnogram and stage probabilities with matplotlib.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
from pathlib import Path

import numpy as np

from sleepedge.core.metrics import STAGES
from sleepedge.run.manifest import atomic_write_bytes, atomic_write_text

EPOCH_SEC = 30
EDF_TEXT = ("Sleep stage W", "Sleep stage 1", "Sleep stage 2", "Sleep stage 3", "Sleep stage R")
_LEVEL = {0: 0, 4: 1, 1: 2, 2: 3, 3: 4}  # plot order as clinicians draw it: W, REM, N1, N2, N3


def hypnogram_csv(stages: np.ndarray, probs: np.ndarray, start: _dt.datetime, comments: list[str] | None = None) -> str:
    """The CSV text: ``# `` comment lines (model provenance, input check), the header, one line per epoch."""
    buf = io.StringIO()
    buf.writelines(f"# {c}\n" for c in comments or [])
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["epoch", "onset_s", "onset_time", "stage", *[f"p_{s}" for s in STAGES]])
    for k, (s, p) in enumerate(zip(stages, probs)):
        onset = (start + _dt.timedelta(seconds=EPOCH_SEC * k)).replace(tzinfo=None).isoformat()
        w.writerow([k, EPOCH_SEC * k, onset, STAGES[int(s)], *[f"{v:.4f}" for v in p]])
    return buf.getvalue()


def stage_runs(stages: np.ndarray) -> list[tuple[int, int, int]]:
    """``(first epoch, epochs, stage)`` of every run of equal stages."""
    runs, start = [], 0
    for k in range(1, len(stages) + 1):
        if k == len(stages) or stages[k] != stages[start]:
            runs.append((start, k - start, int(stages[start])))
            start = k
    return runs


def write_edf_annotations(path: Path, stages: np.ndarray, start: _dt.datetime, overwrite: bool = False) -> Path:
    """An EDF+ file holding only the hypnogram as annotations (Sleep-EDF style)."""
    from edfio import Edf, EdfAnnotation, Patient, Recording

    ann = [EdfAnnotation(float(EPOCH_SEC * k), float(EPOCH_SEC * n), EDF_TEXT[s]) for k, n, s in stage_runs(stages)]
    edf = Edf([], patient=Patient(name="X"), recording=Recording(startdate=start.date()), starttime=start.time(),
              annotations=ann)
    buf = io.BytesIO()
    edf.write(buf)
    return atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


def plot_hypnogram(path: Path, stages: np.ndarray, probs: np.ndarray, title: str,
                   reference: np.ndarray | None = None, overwrite: bool = False) -> Path:
    """Hypnogram (and the PyTorch one with ``reference``) over stacked stage probabilities."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = np.arange(len(stages) + 1) * EPOCH_SEC / 3600
    rows = 3 if reference is not None else 2
    fig, axes = plt.subplots(rows, 1, figsize=(9, 1.6 * rows + 0.8), sharex=True)
    series = [("model", stages)] + ([("PyTorch", reference)] if reference is not None else [])
    for ax, (name, y) in zip(axes, series):
        ax.step(hours, [_LEVEL[int(v)] for v in y] + [_LEVEL[int(y[-1])]], where="post", lw=0.8)
        ax.set_yticks(range(5), ["W", "REM", "N1", "N2", "N3"])
        ax.set_ylim(4.5, -0.5)
        ax.set_ylabel(name, fontsize=8)
    ax = axes[-1]
    ax.stackplot(hours[:-1], probs.T, labels=STAGES, step="post")
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability", fontsize=8)
    ax.legend(fontsize=6, ncol=5, loc="upper right")
    ax.set_xlabel("hours from the start of the recording")
    axes[0].set_title(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


def write_outputs(out: Path, stem: str, stages: np.ndarray, probs: np.ndarray, start: _dt.datetime, title: str,
                  reference: np.ndarray | None = None, png: bool = True, overwrite: bool = False,
                  comments: list[str] | None = None) -> dict[str, Path]:
    """``<stem>.hypnogram.csv`` (``comments`` as leading ``# `` lines), ``.hypnogram.edf`` and (``png``)
    ``.hypnogram.png`` in ``out``."""
    csv_text = hypnogram_csv(stages, probs, start, comments)
    files = {"csv": atomic_write_text(out / f"{stem}.hypnogram.csv", csv_text, overwrite),
             "edf": write_edf_annotations(out / f"{stem}.hypnogram.edf", stages, start, overwrite)}
    if png:
        files["png"] = plot_hypnogram(out / f"{stem}.hypnogram.png", stages, probs, title, reference, overwrite)
    return files
