"""The paper's two figures, from the sweep table rows (matplotlib, written atomically as PNG).

1. ``fig_stage1.png``: accuracy and macro-F1 against the stage-1 pruning ratio (validation dashed,
   test solid), with 95 % subject-bootstrap intervals as bands.
2. ``fig_stage2.png``: the paired accuracy change against the baseline for every stage-2 model, with
   its 95 % subject-bootstrap interval as error bars, against parameter count (one line per stage-1
   start ratio, each starting at its unshrunk parent), the selection margin as a band around zero,
   and the selected model starred; one panel per split.
3. ``fig_causal.png`` (only with a causal head, ``compress.causal_lookaheads``): the paired macro-F1 change of
   each causal head against its bidirectional parent vs the look-ahead, with 95 % intervals, the
   selection margin, and the selected look-ahead starred; one panel per split.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from sleepedge.run.manifest import atomic_write_bytes

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


def plot_stage1(rows: list[dict[str, Any]], path: str | Path, label: str, importance: str = "l1") -> Path:
    """Accuracy and macro-F1 (validation and test, 95 % CI bands) vs stage-1 pruning ratio, baseline at 0 %."""
    plt = _pyplot()
    pts = sorted((r for r in rows if r["stage"] in (0, 1)), key=lambda r: r["ratio"])
    x = [100 * r["ratio"] for r in pts]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
    for ax, metric, name in zip(axes, ("accuracy", "macro_f1"), ("accuracy", "macro-F1")):
        for split, style in (("val", "--o"), ("test", "-s")):
            key = f"{split}_{metric}"
            line, = ax.plot(x, [100 * r[key] for r in pts], style, ms=4, label=SPLIT_NAMES[split])
            if all(r.get(f"{key}_lo") is not None for r in pts):
                ax.fill_between(x, [100 * r[f"{key}_lo"] for r in pts], [100 * r[f"{key}_hi"] for r in pts],
                                color=line.get_color(), alpha=0.15, lw=0)
        ax.set_xlabel("stage-1 channel pruning ratio (%)")
        ax.set_ylabel(f"{name} (%), 95 % CI")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(f"Stage 1, channel pruning ({importance} importance): {label}", fontsize=10)
    return _save(fig, path)


def _start_row(rows: list[dict[str, Any]], ratio: float) -> dict[str, Any] | None:
    return next((r for r in rows if r["stage"] in (0, 1) and abs(r["ratio"] - ratio) < 1e-9), None)


def _err(chain: list[dict[str, Any]], key: str):
    """Asymmetric error bars from ``key_lo`` / ``key_hi``, or None when a row lacks its interval."""
    if any(r.get(f"{key}_lo") is None for r in chain):
        return None
    return [[r[key] - r[f"{key}_lo"] for r in chain], [r[f"{key}_hi"] - r[key] for r in chain]]


def plot_stage2(rows: list[dict[str, Any]], path: str | Path, label: str, margin: float | None = None) -> Path:
    """Paired accuracy change (95 % CI) vs parameters for every stage-2 model, selected model starred."""
    plt = _pyplot()
    ratios = sorted({r["ratio"] for r in rows if r["stage"] == 2})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, split in zip(axes, ("val", "test")):
        key = f"{split}_d_accuracy"
        for i, ratio in enumerate(ratios):
            chain = [r for r in rows if r["stage"] == 2 and r["ratio"] == ratio]
            start = _start_row(rows, ratio)
            chain = sorted(([start] if start else []) + chain, key=lambda r: -r["params"])
            shift = 1.0 + 0.03 * (i - (len(ratios) - 1) / 2)  # side by side on the log axis, so bars do not overlap
            ax.errorbar([r["params"] * shift for r in chain], [r[key] for r in chain], yerr=_err(chain, key), fmt="-o",
                        ms=4, capsize=2, label=f"from {100 * ratio:g} % pruned")
        ax.axhline(0.0, color="k", lw=0.8, label="baseline")
        if margin is not None:
            ax.axhspan(-margin, margin, color="green", alpha=0.08, label=f"±{margin:g} pt")
        sel = [r for r in rows if r["selected"]]
        if sel:
            ax.plot([sel[0]["params"]], [sel[0][key]], "*", color="gold", mec="k", ms=14, label="selected")
        ax.set_xscale("log")
        ax.set_xlabel("parameters (log scale)")
        ax.set_ylabel(f"{SPLIT_NAMES[split]} accuracy vs baseline (points, paired, 95 % CI)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.suptitle(f"Stage 2, BiLSTM hidden-size reduction: {label}", fontsize=10)
    return _save(fig, path)


def plot_causal(rows: list[dict[str, Any]], path: str | Path, label: str, margin: float, parent: str) -> Path:
    """Paired macro-F1 change vs the bidirectional parent (95 % CI) against look-ahead, selected look-ahead starred."""
    plt = _pyplot()
    chain = sorted((r for r in rows if r.get("lookahead") is not None), key=lambda r: r["lookahead"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, split in zip(axes, ("val", "test")):
        key = f"{split}_d_macro_f1_vs_parent"
        x = [r["lookahead"] for r in chain]
        ax.errorbar(x, [r[key] for r in chain], yerr=_err(chain, key), fmt="-o", ms=4, capsize=3, label="causal head")
        ax.axhline(0.0, color="k", lw=0.8, label=f"bidirectional `{parent}`")
        ax.axhspan(-margin, 0.0, color="green", alpha=0.08, label=f"margin -{margin:g} pt")
        sel = [r for r in chain if r.get("causal_selected")]
        if sel:
            ax.plot([sel[0]["lookahead"]], [sel[0][key]], "*", color="gold", mec="k", ms=14, label="selected")
        ax.set_xticks(x)
        ax.set_xlabel("look-ahead k (epochs of 30 s after the scored epoch)")
        ax.set_ylabel(f"{SPLIT_NAMES[split]} macro-F1 vs parent (pt, paired 95 % CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Causal head (streaming, one LSTM step per epoch): {label}", fontsize=10)
    return _save(fig, path)
