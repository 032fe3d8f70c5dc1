"""latency_vs_size.png: p50 latency per epoch against model file size, one marker per runtime/precision."""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from sleepedge.run.manifest import atomic_write_bytes

log = logging.getLogger(__name__)

MARKERS = "osD^v<>pPX*h"


def plot_latency_vs_size(rows: list[dict[str, Any]], path: Path, title: str = "") -> Path | None:
    """Write the plot; returns None (and logs why) when matplotlib is missing or no row was measured."""
    plt = _pyplot(path)
    if plt is None:
        return None
    ok = [r for r in rows if r["status"] == "ok" and r.get("file_bytes") and r.get("latency_ms_per_epoch_p50")]
    if not ok:
        log.info("no measured rows: %s not drawn", path.name)
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    _scatter_groups(ax, ok)
    _log_axes(ax)
    ax.set_xlabel("model file size (MiB)")
    ax.set_ylabel("p50 latency per 30-s epoch (ms)")
    emulated = " [EMULATED, not board figures]" if ok[0]["device"].get("emulated") else ""
    ax.set_title((title or "latency vs size") + emulated, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue(), overwrite=True)


def _pyplot(path: Path):
    """``matplotlib.pyplot`` on the Agg backend, or None (logged) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        logging.getLogger("matplotlib").setLevel(logging.WARNING)  # its font search floods -vv output
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("matplotlib is not installed (fine on a board): %s not drawn", path.name)
        return None
    return plt


def _scatter_groups(ax, ok: list[dict[str, Any]]) -> None:
    """One marker per runtime/precision group, each point labelled with its model and accuracy."""
    groups = list(dict.fromkeys(_group(r) for r in ok))
    for i, g in enumerate(groups):
        pts = [r for r in ok if _group(r) == g]
        ax.scatter([r["file_bytes"] / 2**20 for r in pts], [r["latency_ms_per_epoch_p50"] for r in pts],
                   marker=MARKERS[i % len(MARKERS)], s=60, label=g)
        for r in pts:
            acc = f"{r['accuracy']:.3f}" if r.get("accuracy") is not None else "n/a"
            ax.annotate(f"{r['model']} acc {acc}", (r["file_bytes"] / 2**20, r["latency_ms_per_epoch_p50"]),
                        textcoords="offset points", xytext=(5, 4), fontsize=7)


def _log_axes(ax) -> None:
    """Log-log axes with ticks at 1-2-5 and plain numbers (the default minor labels overlap)."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    for axis in (ax.xaxis, ax.yaxis):  # ticks at 1-2-5 with plain numbers (default minor labels overlap)
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FormatStrFormatter("%g"))
        axis.set_minor_formatter(NullFormatter())


def _group(r: dict[str, Any]) -> str:
    xnn = {True: " +XNNPACK", False: ""}.get(r.get("xnnpack"), "")
    return f"{r['runtime']} {r['precision']}{xnn}"
