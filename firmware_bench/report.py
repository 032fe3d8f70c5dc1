"""Bench outputs for people: results.csv and results.md (table with ratio columns against the reference row)."""
from __future__ import annotations

import csv
import io
import json
from typing import Any

from sleepedge.firmware_bench.device import device_label

MIB = 1024 * 1024
GOAL = {"speedup": 5.0, "size": 10.0}  # issue 5: compressed int8 TFLite vs baseline fp32, one thread
YARDSTICK_GOAL = {"speedup": 30.0, "size": 300.0}  # issue 11: compressed int8 vs paper-size DeepSleepNet fp32
# The compressed int8 deliverables judged against that goal: the device window (fused LSTM), the x86-host window
# (LSTM unrolled), the wearable streaming pair and (issue 21) the stateful pair of the causal head.
YARDSTICK_GOAL_FORMATS = ("tflite_int8", "tflite_int8_unrolled", "stream_tflite_int8", "stateful_tflite_int8")
GOAL_MODELS = ("compressed", "causal")  # causal: the compressed model's causal head (stateful formats only)
STATEFUL_ARENA_GOAL_BYTES = 32 * 1024  # issue 21: both TFLite Micro arenas of the stateful int8 pair together


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
    ("features ms", "latency_ms_feature_p50", 3, 1), ("head ms", "latency_ms_head_p50", 3, 1),
    ("step ms", "latency_ms_step_p50", 3, 1),
    ("epochs/s", "epochs_per_s", 0, 1), ("round spread %", "round_spread_pct", 1, 1),
    ("peak RSS MiB", "peak_rss_bytes", 1, MIB), ("RSS + MiB", "rss_increase_bytes", 1, MIB),
    ("TFLM arena KiB", "tflm_arena_bytes", 0, 1024), ("accuracy", "accuracy", 3, 1), ("macro-F1", "macro_f1", 3, 1),
    ("agree ref", "agreement_ref", 3, 1),
]


def model_label(r: dict[str, Any]) -> str:
    """The model cell: the untrained reference says so."""
    return f"{r['model']} (untrained reference)" if r.get("untrained") else str(r["model"])


def _speedup_cell(r: dict[str, Any], suffix: str = "ref") -> str:
    s = fmt(r.get(f"speedup_vs_{suffix}"))
    lo, hi = r.get(f"speedup_vs_{suffix}_min"), r.get(f"speedup_vs_{suffix}_max")
    if s and lo is not None and hi != lo:
        s += f" ({fmt(lo)}-{fmt(hi)})"
    return s


def results_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of the rows with speedup, size and memory ratios against the reference row."""
    heads = [h for h, *_ in TABLE] + ["speedup x (rounds)", "size ÷", "peak mem ÷", "status"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in rows:
        cells = [fmt(r.get(k), d, s) for _, k, d, s in TABLE]
        cells[0] = model_label(r)
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
        "(set input, invoke, read output; int8 inputs are quantised once, outside the timed calls). Streaming pairs "
        "(stream_*) time their feature model (one epoch) and their head (one decision) separately, each for half the "
        "minimum time; their ms/epoch is features + head, their ms/window that of scoring a window (L features + 1 head).",
        f"Reference row: `{settings['reference']}`. Ratios are reference / row, so > 1 is better than the reference: "
        "speedup = p50 latency per epoch ratio (range over the paired rounds), size ÷ = file bytes, peak mem ÷ = peak "
        "RSS of the model's own process. All ratios come from this one run.", "",
        results_table(rows), "",
    ]
    out += yardstick_section(rows) + goal_lines(rows) + yardstick_goal_lines(rows) + stateful_goal_lines(rows)
    out += problem_lines(rows)
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


YARDSTICK_COLUMNS = [  # (header, key, digits, scale)
    ("ms/epoch", "latency_ms_per_epoch_p50", 3, 1), ("x faster than DSN", "speedup_vs_yardstick", 1, 1),
    ("x faster than DSN, same runtime", "speedup_vs_dsn_runtime", 1, 1),
    ("x faster than baseline", "speedup_vs_ref", 2, 1), ("file MiB", "file_bytes", 3, MIB),
    ("x smaller than DSN", "size_ratio_vs_yardstick", 1, 1), ("x smaller than baseline", "size_ratio_vs_ref", 2, 1),
    ("peak RSS MiB", "peak_rss_bytes", 1, MIB), ("x less RSS than DSN", "memory_ratio_vs_yardstick", 2, 1),
    ("x less RSS than baseline", "memory_ratio_vs_ref", 2, 1), ("accuracy", "accuracy", 3, 1),
]


def yardstick_section(rows: list[dict[str, Any]]) -> list[str]:
    """The yardstick table: every measured row against the untrained paper-size DeepSleepNet (DSN) and against the
    run's own baseline, side by side, both from this run. Empty when the bench has no yardstick row."""
    ok = [r for r in rows if r["status"] == "ok"]
    spec = next((r.get("yardstick") for r in rows if r.get("yardstick")), None)
    if not spec or not ok:
        return []
    heads = ["model", "format", "runtime"] + [h for h, *_ in YARDSTICK_COLUMNS]
    out = ["## Against DeepSleepNet and against the baseline", "",
           f"DSN = `{spec}`: DeepSleepNet at paper size with random weights (untrained reference: no accuracy); "
           f"baseline = `{ok[0].get('reference')}`. Ratios are DSN / row and baseline / row from this one run "
           "(speed: per 30-s epoch, range over the paired rounds). \"Same runtime\": against DeepSleepNet fp32 run by "
           "the row's own runtime and XNNPACK setting (empty when the export has no such DeepSleepNet file).", "",
           "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in ok:
        cells = [model_label(r), r["format"], r["runtime"] + ("" if r.get("xnnpack") in (None, False) else " +XNNPACK")]
        for _, k, d, sc in YARDSTICK_COLUMNS:
            cells.append(_speedup_cell(r, "yardstick") if k == "speedup_vs_yardstick" else
                         _speedup_cell(r, "dsn_runtime") if k == "speedup_vs_dsn_runtime" else
                         _speedup_cell(r) if k == "speedup_vs_ref" else fmt(r.get(k), d, sc))
        out.append("| " + " | ".join(cells) + " |")
    return out + ["", "Per-epoch cost: a window model's window latency / epochs per window (a recording scored in "
                  "windows); a streaming pair's feature call + head call (a decision every epoch).", ""]


def yardstick_goal_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Issue 11's goal: compressed int8 at least 30x faster per epoch and 300x smaller than DeepSleepNet fp32.

    Speed is judged against DeepSleepNet fp32 run by the same runtime with the same settings (the TFLite
    interpreter for a ``.tflite`` row); the ratio against DeepSleepNet in onnxruntime, its fastest runtime
    on this host, is printed beside it and says whether that harder comparison holds too.
    """
    cands = [r for r in rows if r["model"] in GOAL_MODELS and r["format"] in YARDSTICK_GOAL_FORMATS
             and r["status"] == "ok" and r.get("speedup_vs_yardstick") is not None]
    if not cands:
        return []
    g_speed, g_size = YARDSTICK_GOAL["speedup"], YARDSTICK_GOAL["size"]
    verdict = lambda v, g: "no DSN row in this runtime" if v is None else ("met" if v >= g else "MISSED")  # noqa: E731
    out = [f"Goal (compressed int8 vs DeepSleepNet fp32, same host, runtime and settings): >= {g_speed:g}x faster per "
           f"epoch, >= {g_size:g}x smaller. Also shown: the speed ratio against DeepSleepNet in "
           f"`{cands[0]['yardstick']}`.", ""]
    for r in cands:
        same = r.get("speedup_vs_dsn_runtime")
        out.append(f"- `{r['key']}`: speed {fmt(same, 1)}x vs `{r.get('dsn_runtime') or '-'}` {verdict(same, g_speed)}; "
                   f"{fmt(r.get('speedup_vs_yardstick'), 1)}x vs `{r['yardstick']}` "
                   f"{verdict(r.get('speedup_vs_yardstick'), g_speed)}; size {fmt(r.get('size_ratio_vs_yardstick'), 1)}x "
                   f"{verdict(r.get('size_ratio_vs_yardstick'), g_size)}")
    return out + [""]


def stateful_goal_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Issue 21's goal for the stateful int8 pair, per epoch against DeepSleepNet fp32 in its yardstick runtime
    (onnxruntime): >= 30x faster, >= 300x smaller, both TFLite Micro arenas together within 32 KiB.

    The figures are this bench's (speed, size) and the export row's (arenas, copied into the bench row)."""
    cands = [r for r in rows if r.get("kind") == "stateful" and r["format"] in YARDSTICK_GOAL_FORMATS
             and r["status"] == "ok"]
    if not cands:
        return []
    g_speed, g_size, g_arena = YARDSTICK_GOAL["speedup"], YARDSTICK_GOAL["size"], STATEFUL_ARENA_GOAL_BYTES
    verdict = lambda v, ok: "not measured" if v is None else ("met" if ok else "MISSED")  # noqa: E731
    out = [f"Goal (stateful int8 pair vs DeepSleepNet fp32 in `{cands[0].get('yardstick') or '-'}`, per 30-s epoch): "
           f">= {g_speed:g}x faster, >= {g_size:g}x smaller, TFLite Micro arenas <= {g_arena // 1024} KiB in all.", ""]
    for r in cands:
        speed, size, arena = r.get("speedup_vs_yardstick"), r.get("size_ratio_vs_yardstick"), r.get("tflm_arena_bytes")
        out.append(f"- `{r['key']}` (look-ahead {fmt(r.get('lookahead'), 0)} epoch(s), decisions "
                   f"{fmt(r.get('lag_s'), 0)} s late): {fmt(r.get('latency_ms_per_epoch_p50'), 3)} ms/epoch "
                   f"(features {fmt(r.get('latency_ms_feature_p50'), 3)} + step {fmt(r.get('latency_ms_step_p50'), 3)}), "
                   f"speed {fmt(speed, 1)}x {verdict(speed, speed is not None and speed >= g_speed)}; "
                   f"size {fmt(size, 1)}x {verdict(size, size is not None and size >= g_size)}; "
                   f"arenas {fmt(arena, 1, 1024)} KiB {verdict(arena, arena is not None and arena <= g_arena)}")
    return out + [""]
