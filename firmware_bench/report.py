"""Bench outputs for people: results.csv and results.md (table with ratio columns against the reference row)."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from .device import device_label

MIB = 1024 * 1024
GOAL = {"speedup": 5.0, "size": 10.0}  # issue 5: compressed int8 TFLite vs baseline fp32, one thread


def fmt(value: Any, digits: int = 2, scale: float = 1.0) -> str:
    """Number -> short string ('' for None); bools as yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        v = value / scale
        return f"{v:,.{digits}f}" if abs(v) < 1e6 else f"{v:,.0f}"
    return str(value)


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    """Flat CSV: the device dict becomes ``device.<key>`` columns; lists and dicts become JSON text."""
    flat = []
    for r in rows:
        f = {k: v for k, v in r.items() if k != "device"}
        f.update({f"device.{k}": v for k, v in (r.get("device") or {}).items()})
        flat.append({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in f.items()})
    columns = list(dict.fromkeys(k for f in flat for k in f))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buf.getvalue()


TABLE = [  # (header, row key, digits, scale)
    ("model", "model", 0, 1), ("format", "format", 0, 1), ("runtime", "runtime", 0, 1), ("XNNPACK", "xnnpack", 0, 1),
    ("file MiB", "file_bytes", 2, MIB), ("params", "params", 0, 1), ("load ms", "load_ms", 1, 1),
    ("first ms", "first_inference_ms", 1, 1), ("p50 ms/window", "latency_ms_p50", 2, 1),
    ("p90", "latency_ms_p90", 2, 1), ("p99", "latency_ms_p99", 2, 1), ("ms/epoch", "latency_ms_per_epoch_p50", 3, 1),
    ("epochs/s", "epochs_per_s", 0, 1), ("round spread %", "round_spread_pct", 1, 1),
    ("peak RSS MiB", "peak_rss_bytes", 1, MIB), ("RSS + MiB", "rss_increase_bytes", 1, MIB),
    ("TFLM arena KiB", "tflm_arena_bytes", 0, 1024), ("accuracy", "accuracy", 3, 1), ("macro-F1", "macro_f1", 3, 1),
    ("agree ref", "agreement_ref", 3, 1),
]


def _speedup_cell(r: dict[str, Any]) -> str:
    s = fmt(r.get("speedup_vs_ref"))
    if s and r.get("speedup_vs_ref_min") is not None and r.get("speedup_vs_ref_max") != r.get("speedup_vs_ref_min"):
        s += f" ({fmt(r['speedup_vs_ref_min'])}-{fmt(r['speedup_vs_ref_max'])})"
    return s


def results_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows with speedup, size and memory ratios against the reference row."""
    heads = [h for h, *_ in TABLE] + ["speedup x (rounds)", "size ÷", "peak mem ÷", "status"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in rows:
        cells = [fmt(r.get(k), d, s) for _, k, d, s in TABLE]
        cells += [_speedup_cell(r), fmt(r.get("size_ratio_vs_ref")), fmt(r.get("memory_ratio_vs_ref")), r["status"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def results_markdown(rows: list[dict[str, Any]], settings: dict[str, Any], title: str) -> str:
    """The whole results.md: device, settings, reference, table, goal check, failures, emulation warning."""
    device = rows[0]["device"] if rows else {}
    runtimes = ", ".join(f"{k} {v}" for k, v in (device.get("runtimes") or {}).items())
    xnn = {(False,): "off", (True,): "on"}.get(tuple(settings["xnnpack"]), "off and on")
    out = [f"# Bench: {title}", ""]
    if device.get("emulated"):
        out += ["> **Emulated run** (" + str(device.get("emulation", "")) + "): these timings and memory figures come "
                "from an emulator and are NOT board figures; only the predictions and accuracy carry over.", ""]
    out += [
        f"Device: {device_label(device)}; Python {device.get('python', '?')}; {runtimes}.",
        f"Settings: {settings['threads']} thread(s), TFLite XNNPACK {xnn}; {settings['rounds']} interleaved round(s), "
        f"each at least {settings['min_time_s']} s and {settings['min_runs']} timed runs after {settings['warmup']} "
        f"warm-up runs; latency is per input window of {rows[0].get('seq_len') if rows else '?'} epochs "
        "(set input, invoke, read output; int8 inputs are quantised once, outside the timed calls).",
        f"Reference row: `{settings['reference']}`. Ratios are reference / row, so > 1 is better than the reference: "
        "speedup = p50 latency ratio (range over the paired rounds), size ÷ = file bytes, peak mem ÷ = peak RSS of "
        "the model's own process. All ratios come from this one run.", "",
        results_table(rows), "",
    ]
    out += goal_lines(rows) + problem_lines(rows)
    return "\n".join(out).rstrip() + "\n"


def goal_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Issue 5's goal for compressed int8 TFLite rows: >= 5x speedup, >= 10x smaller, lower peak memory."""
    cands = [r for r in rows if r["model"] == "compressed" and r["format"] == "tflite_int8" and r["status"] == "ok"]
    if not cands:
        return []
    out = [f"Goal (compressed int8 TFLite vs reference): speedup >= {GOAL['speedup']:g}x, file >= {GOAL['size']:g}x "
           "smaller, lower peak memory.", ""]
    for r in cands:
        checks = [("speedup", r.get("speedup_vs_ref"), GOAL["speedup"]), ("size", r.get("size_ratio_vs_ref"), GOAL["size"]),
                  ("memory", r.get("memory_ratio_vs_ref"), 1.0)]
        parts = [f"{n} not measured (no usable reference row)" if v is None else
                 f"{n} {fmt(v)}x {'met' if v >= g and (n != 'memory' or v > 1) else 'MISSED'}" for n, v, g in checks]
        out.append(f"- `{r['key']}`: " + "; ".join(parts))
    return out + [""]


def problem_lines(rows: list[dict[str, Any]]) -> list[str]:
    bad = [r for r in rows if r["status"] != "ok"]
    if not bad:
        return []
    return ["Rows not measured:", ""] + [f"- `{r['key']}` {r['status']}: {r['reason']}" for r in bad] + [""]
