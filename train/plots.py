"""Figures of the train stage: confusion matrix and hypnogram (true vs predicted), via matplotlib."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from sleepedge.core.metrics import STAGES
from sleepedge.run.manifest import atomic_write_bytes


def _save(fig, path: str | Path, overwrite: bool) -> Path:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


def plot_confusion(cm: np.ndarray, path: str | Path, title: str, overwrite: bool = False) -> Path:
    """Row-normalised confusion matrix with counts, labelled W/N1/N2/N3/REM."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.6, 4.0))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(STAGES)), STAGES)
    ax.set_yticks(range(len(STAGES)), STAGES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path, overwrite)


# Plot order: W on top, REM between W and N1 as sleep clinicians draw hypnograms.
_LEVEL = {0: 0, 4: 1, 1: 2, 2: 3, 3: 4}


def plot_hypnogram(y_true: np.ndarray, y_pred: np.ndarray, path: str | Path, title: str, overwrite: bool = False) -> Path:
    """True and predicted hypnograms of one night as step plots (hours on the x axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hours = np.arange(len(y_true)) * 30 / 3600
    fig, axes = plt.subplots(2, 1, figsize=(9, 3.6), sharex=True, sharey=True)
    for ax, y, name in zip(axes, (y_true, y_pred), ("expert / ground truth", "predicted")):
        ax.step(hours, [_LEVEL[int(v)] for v in y], where="post", lw=0.8)
        ax.set_yticks(range(5), ["W", "REM", "N1", "N2", "N3"])
        ax.invert_yaxis()
        ax.set_ylabel(name, fontsize=8)
    agree = float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else float("nan")
    axes[0].set_title(f"{title} (agreement {agree:.1%})", fontsize=9)
    axes[1].set_xlabel("hours from the first scored epoch")
    return _save(fig, path, overwrite)
