"""The paper's two figures, from the sweep table rows (matplotlib, written atomically as PNG).

1. ``fig_stage1.png``: accuracy and macro-F1 against the stage-1 pruning ratio (validation dashed,
   test solid).
2. ``fig_stage2.png``: accuracy against parameter count for every stage-2 model (one line per
   stage-1 start ratio, each starting at its unshrunk parent), a horizontal line at 95 % of the
   baseline accuracy, and the selected model starred; one panel per split.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from sleepedge.runfolder import atomic_write_bytes

SPLIT_NAMES = {"val": "validation", "test": "test"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return atomic_write_bytes(path, buf.getvalue(), overwrite=True)


def plot_stage1(rows: list[dict[str, Any]], path: str | Path, label: str) -> Path:
    """Accuracy and macro-F1 (validation and test) vs stage-1 pruning ratio, baseline at 0 %."""
    plt = _pyplot()
    pts = sorted((r for r in rows if r["stage"] in (0, 1)), key=lambda r: r["ratio"])
    x = [100 * r["ratio"] for r in pts]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
    for ax, metric, name in zip(axes, ("accuracy", "macro_f1"), ("accuracy", "macro-F1")):
        for split, style in (("val", "--o"), ("test", "-s")):
            ax.plot(x, [100 * r[f"{split}_{metric}"] for r in pts], style, ms=4, label=SPLIT_NAMES[split])
        ax.set_xlabel("stage-1 channel pruning ratio (%)")
        ax.set_ylabel(f"{name} (%)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"Stage 1, L1 channel pruning: {label}", fontsize=10)
    return _save(fig, path)


def _start_row(rows: list[dict[str, Any]], ratio: float) -> dict[str, Any] | None:
    return next((r for r in rows if r["stage"] in (0, 1) and abs(r["ratio"] - ratio) < 1e-9), None)


def plot_stage2(rows: list[dict[str, Any]], path: str | Path, label: str) -> Path:
    """Accuracy vs parameters for every stage-2 model, 95 %-of-baseline line, selected model starred."""
    plt = _pyplot()
    base = next(r for r in rows if r["stage"] == 0)
    ratios = sorted({r["ratio"] for r in rows if r["stage"] == 2})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=False)
    for ax, split in zip(axes, ("val", "test")):
        key = f"{split}_accuracy"
        for ratio in ratios:
            chain = [r for r in rows if r["stage"] == 2 and r["ratio"] == ratio]
            start = _start_row(rows, ratio)
            chain = sorted(([start] if start else []) + chain, key=lambda r: -r["params"])
            ax.plot([r["params"] for r in chain], [100 * r[key] for r in chain], "-o", ms=4,
                    label=f"from {100 * ratio:g} % pruned")
        ax.axhline(95 * base[key], color="red", ls=":", label="95 % of baseline")
        ax.plot([base["params"]], [100 * base[key]], "kD", ms=6, label="baseline")
        sel = [r for r in rows if r["selected"]]
        if sel:
            ax.plot([sel[0]["params"]], [100 * sel[0][key]], "*", color="gold", mec="k", ms=14, label="selected")
        ax.set_xscale("log")
        ax.set_xlabel("parameters (log scale)")
        ax.set_ylabel(f"{SPLIT_NAMES[split]} accuracy (%)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(f"Stage 2, BiLSTM hidden-size reduction: {label}", fontsize=10)
    return _save(fig, path)
