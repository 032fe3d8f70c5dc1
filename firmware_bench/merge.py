"""Merge results.json files from several devices into one comparison table (one column group per device).

Every ratio shown is the one computed inside its own run (same device, same session); figures are
never divided across devices.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sleepedge.core.errors import DataError

from sleepedge.firmware_bench.device import device_label
from sleepedge.firmware_bench.report import MIB, fmt

REQUIRED = ("model", "format", "runtime", "status", "device")
# Row keys that identify the export a row was benched from: equal on every device for the same model (file).
IDENTITY_MODEL_KEYS = ("params", "seq_len")
IDENTITY_FILE_KEYS = ("file_bytes",)


def load_results(path: str | Path) -> list[dict[str, Any]]:
    """Rows of one results.json, checked for the keys a merge needs."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: results file not found")
    try:
        rows = json.loads(path.read_text("utf-8"))
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError (a binary file) are ValueErrors
        raise DataError(f"{path}: not a JSON results file ({exc})") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DataError(f"{path}: expected a list of bench rows")
    if not rows:  # would be merged as a device with no results at all
        raise DataError(f"{path}: holds no bench rows (an empty results file); pass the results.json of a finished bench")
    for i, r in enumerate(rows):
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            raise DataError(f"{path}: row {i} lacks {missing}")
        if not isinstance(r["device"], dict) or not all(isinstance(r[k], str) for k in REQUIRED if k != "device"):
            raise DataError(f"{path}: row {i}: device must be an object and {', '.join(REQUIRED[:-1])} text")
    return rows


def _row_id(r: dict[str, Any]) -> tuple:
    return (r["model"], r["format"], r["runtime"], r.get("xnnpack"), r.get("threads"))


def _identity(r: dict[str, Any]) -> list[tuple[tuple, str, Any]]:
    """What ties a row to the export it came from: its model's parameters and sequence length, its file's size."""
    model, fmt_ = r["model"], r["format"]
    found = [((model,), key, r.get(key)) for key in IDENTITY_MODEL_KEYS]
    found += [((model, fmt_), key, r.get(key)) for key in IDENTITY_FILE_KEYS]
    return [(scope, key, value) for scope, key, value in found if value is not None]


def check_same_export(paths: list[str | Path], runs: list[list[dict[str, Any]]]) -> None:
    """Refuse results whose same model name comes from different runs (other parameters or file sizes).

    A merged row puts the devices' figures side by side, so every device must have benched the same
    exported files; a 40 k-parameter and a 1.56 M-parameter ``baseline`` in one row would compare nothing.
    """
    seen: dict[tuple[tuple, str], tuple[Any, str | Path]] = {}
    for path, rows in zip(paths, runs):
        for r in rows:
            for scope, key, value in _identity(r):
                first = seen.setdefault((scope, key), (value, path))
                if first[0] != value:
                    what = "/".join(map(str, scope))
                    raise DataError(f"{first[1]} and {path}: {what} comes from different runs ({key} {first[0]} vs "
                                    f"{value}); merge only results benched from the same export or bundle")


def merge_markdown(paths: list[str | Path]) -> str:
    """Markdown: a device legend, then one table with per-device latency, speedup, memory and accuracy."""
    if len(paths) < 2:
        raise DataError("--merge needs at least two results files")
    runs = [load_results(p) for p in paths]
    check_same_export(paths, runs)
    ids = list(dict.fromkeys(_row_id(r) for rows in runs for r in rows))
    out = ["# Bench results merged across devices", "", "| device | file | description | reference row |", "|---|---|---|---|"]
    for i, (p, rows) in enumerate(zip(paths, runs), 1):
        dev = rows[0]["device"] if rows else {}
        ref = rows[0].get("reference", "") if rows else ""
        out.append(f"| D{i} | {p} | {device_label(dev)}; Python {dev.get('python', '?')} | `{ref}` |")
    if any(r["device"].get("emulated") for rows in runs for r in rows[:1]):
        out += ["", "> Devices marked EMULATED ran under an emulator: their timings and memory are not board figures."]
    out += ["", "Per device: p50 ms per 30-s epoch, speedup vs that run's reference row, peak RSS MiB, accuracy.", ""]
    heads = ["model", "format", "runtime", "XNNPACK", "threads"]
    for i in range(1, len(runs) + 1):
        heads += [f"D{i} ms/epoch", f"D{i} speedup", f"D{i} peak MiB", f"D{i} acc"]
    out += ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for rid in ids:
        cells = [fmt(v, 0) for v in rid]
        for rows in runs:
            r = next((r for r in rows if _row_id(r) == rid), None)
            if r is None or r["status"] != "ok":
                cells += [r["status"] if r else "-", "", "", ""]
                continue
            cells += [fmt(r.get("latency_ms_per_epoch_p50"), 3), fmt(r.get("speedup_vs_ref")),
                      fmt(r.get("peak_rss_bytes"), 1, MIB), fmt(r.get("accuracy"), 3)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
