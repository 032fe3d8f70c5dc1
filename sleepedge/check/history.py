"""``--history FILE.jsonl``: one line per check (commit, date, verdict, metrics, limits); ``--plot-history``
draws each metric over the commits with its limits (matplotlib, imported only there)."""
from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from sleepedge.core.errors import DataError

from sleepedge.check.evaluate import CheckResult
from sleepedge.check.schema import METRICS

HISTORY_SCHEMA = "sleepedge.check.history/1"
METRIC_LIMITS = {"file_bytes": "max_tflite_bytes", "arena_bytes": "max_arena_bytes", "params": "max_params",
                 "instructions_per_epoch": "max_instructions_per_epoch", "latency_ms_p50": "max_latency_ms_p50",
                 "accuracy": "min_accuracy", "macro_f1": "min_macro_f1"}


def _commit() -> str | None:
    """``$GITHUB_SHA`` in a workflow, else the checkout's commit (None outside git)."""
    from sleepedge.core.envinfo import git_commit

    return os.environ.get("GITHUB_SHA") or git_commit()


def history_line(result: CheckResult, commit: str | None = None) -> dict[str, Any]:
    """One history record: commit, date, verdict, ``{model: {metric: value}}`` and the limits that applied."""
    return {
        "schema": HISTORY_SCHEMA, "commit": commit or _commit(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "verdict": result.verdict, "target": result.target, "budget": result.budget,
        "metrics": {m: {k: v.get("value") for k, v in ms.items()} for m, ms in result.metrics.items()},
        "limits": [{"model": r.model, "target": r.target, "limit": r.limit, "value": r.limit_value,
                    "status": r.status} for r in result.rows],
    }


def append_history(result: CheckResult, path: str | Path, commit: str | None = None) -> Path:
    """Append one line to ``path`` (created when missing). An append of one line, not an atomic rewrite:
    a history is a log, and rewriting it whole would race with another run's append."""
    path = Path(path)
    line = json.dumps(history_line(result, commit), sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
    return path


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a history file; ``DataError`` naming the line that is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: history file not found")
    out = []
    for i, text in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            rec = json.loads(text)
        except ValueError as exc:
            raise DataError(f"{path}:{i}: not a JSON line ({exc})") from None
        if not isinstance(rec, dict) or rec.get("schema") != HISTORY_SCHEMA:
            raise DataError(f"{path}:{i}: not a sleepedge check history record (schema {HISTORY_SCHEMA})")
        out.append(rec)
    if not out:
        raise DataError(f"{path}: holds no history records")
    return out


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DataError('--plot-history needs matplotlib, which the [bench] extra does not install: '
                        'pip install "sleepedge[predict]" (or pip install matplotlib)') from None
    return plt


def _series(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[float | None]]:
    models = list(dict.fromkeys(m for r in records for m in r.get("metrics", {})))
    out = {}
    for model in models:
        for metric in METRICS:
            ys = [(r.get("metrics", {}).get(model) or {}).get(metric) for r in records]
            if any(isinstance(y, (int, float)) for y in ys):
                out[(model, metric)] = [y if isinstance(y, (int, float)) else None for y in ys]
    return out


def _limits(records: list[dict[str, Any]], model: str, metric: str) -> list[float | None]:
    key = METRIC_LIMITS.get(metric)
    return [next((lim["value"] for lim in r.get("limits", []) if lim["model"] == model and lim["limit"] == key), None)
            for r in records]


def plot_history(history: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """One panel per (model, metric) measured in any record, over the commits, with its limit as a step line."""
    from sleepedge.run.manifest import atomic_write_bytes
    import io

    plt = _pyplot()
    records = read_history(history)
    series = _series(records)
    if not series:
        raise DataError(f"{history}: no metric was measured in any record")
    labels = [(r.get("commit") or "?")[:7] for r in records]
    fig, axes = plt.subplots(len(series), 1, figsize=(8, 2.2 * len(series)), sharex=True, squeeze=False)
    for ax, ((model, metric), ys) in zip(axes[:, 0], series.items()):
        ax.plot(range(len(ys)), [float("nan") if y is None else y for y in ys], marker="o")
        lim = _limits(records, model, metric)
        if any(v is not None for v in lim):
            ax.step(range(len(lim)), [float("nan") if v is None else v for v in lim], where="mid",
                    color="tab:red", linestyle="--", label="limit")
            ax.legend(loc="best", fontsize=7)
        ax.set_ylabel(f"{model}\n{metric}", fontsize=8)
    axes[-1, 0].set_xticks(range(len(labels)), labels, rotation=45, fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return atomic_write_bytes(out, buf.getvalue(), overwrite=overwrite)
