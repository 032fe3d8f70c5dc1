"""The deployment figures of a finished run, from its manifests: the yardstick table and the streaming pairs.

    python -m sleepedge.lab.yardstick RUN

Prints (markdown) the bench rows against the untrained paper-size DeepSleepNet and against the run's
baseline side by side, the 30x / 300x goal lines, and per streaming pair: per-epoch and per-decision
latency, both TFLite Micro arenas, the feature buffer and the boards it fits; per stateful pair (the causal
head, one feature call + one step call per epoch): both parts' latency, the ratios against DeepSleepNet fp32 in
onnxruntime, the arenas, the state and the RAM, and the 30x / 300x / 32 KiB goal line. Reads
``RUN/bench/results.json`` and ``RUN/export/manifest.json`` (sha256-verified); standard library only.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sleepedge.run.manifest import read_manifest

from sleepedge.firmware_bench.report import fmt, stateful_goal_lines, yardstick_goal_lines, yardstick_section


def stream_table(export_rows: list[dict[str, Any]], bench_rows: list[dict[str, Any]]) -> list[str]:
    """One line per streaming pair: latency per epoch (features) and per decision (head), arenas, RAM, boards."""
    pairs = [r for r in bench_rows if r.get("kind") == "stream" and r["status"] == "ok"]
    if not pairs:
        return []
    arenas = {(r["model"], r["format"]): r for r in export_rows}
    heads = ["model", "format", "runtime", "features ms/epoch", "head ms/decision", "ms/epoch", "file KiB",
             "arena features KiB", "arena head KiB", "feature buffer B", "RAM KiB", "fits"]
    out = ["## Streaming pairs", "", "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in pairs:
        e = arenas.get((r["model"], r["format"]), {})
        out.append("| " + " | ".join([
            r["model"], r["format"], r["runtime"], fmt(r.get("latency_ms_feature_p50"), 3),
            fmt(r.get("latency_ms_head_p50"), 3), fmt(r.get("latency_ms_per_epoch_p50"), 3),
            fmt(r.get("file_bytes"), 1, 1024), fmt(e.get("tflm_arena_features_bytes"), 1, 1024),
            fmt(e.get("tflm_arena_head_bytes"), 1, 1024), fmt(e.get("feature_buffer_bytes"), 0),
            fmt(e.get("stream_ram_bytes"), 1, 1024), ", ".join(e.get("fits_boards") or []) or "-"]) + " |")
    return out + ["", "RAM = both TFLite Micro arenas + the int8 features of the last L epochs; the raw-signal buffer "
                  "of one epoch is the feature model's input tensor, inside its arena.", ""]


def stateful_table(export_rows: list[dict[str, Any]], bench_rows: list[dict[str, Any]]) -> list[str]:
    """One line per measured stateful pair: both parts per epoch, ratios against DeepSleepNet, arenas, state, RAM."""
    pairs = [r for r in bench_rows if r.get("kind") == "stateful" and r["status"] == "ok"]
    if not pairs:
        return []
    rows = {(r["model"], r["format"]): r for r in export_rows}
    heads = ["model", "format", "runtime", "look-ahead (lag s)", "features ms", "step ms", "ms/epoch",
             "x faster than DSN", "file KiB", "x smaller than DSN", "arena features KiB", "arena step KiB",
             "state B", "state dtype", "RAM KiB", "fits"]
    out = ["## Stateful pairs (causal head)", "", "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in pairs:
        e = rows.get((r["model"], r["format"]), {})
        out.append("| " + " | ".join([
            r["model"], r["format"], r["runtime"], f"{fmt(e.get('lookahead'), 0)} ({fmt(e.get('lag_s'), 0)})",
            fmt(r.get("latency_ms_feature_p50"), 3), fmt(r.get("latency_ms_step_p50"), 3),
            fmt(r.get("latency_ms_per_epoch_p50"), 3), fmt(r.get("speedup_vs_yardstick"), 1),
            fmt(r.get("file_bytes"), 1, 1024), fmt(r.get("size_ratio_vs_yardstick"), 1),
            fmt(e.get("tflm_arena_features_bytes"), 1, 1024), fmt(e.get("tflm_arena_step_bytes"), 1, 1024),
            fmt(e.get("state_bytes"), 0), str(e.get("state_dtype") or ""), fmt(e.get("stateful_ram_bytes"), 1, 1024),
            ", ".join(e.get("fits_boards") or []) or "-"]) + " |")
    return out + ["", "RAM = both TFLite Micro arenas + the state (h and c of every layer) + one epoch of raw signal "
                  "(the export row's stateful_ram_bytes). DSN = DeepSleepNet fp32 at paper size in the bench's "
                  "yardstick runtime, per 30-s epoch.", ""]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    a = p.parse_args(argv)
    run = Path(a.run)
    read_manifest(run / "bench", verify=True)
    bench = json.loads((run / "bench" / "results.json").read_text("utf-8"))
    export = read_manifest(run / "export", verify=True)["metrics"]["rows"]
    dev = bench[0]["device"] if bench else {}
    print(f"Run `{run.name}`: {dev.get('cpu', '?')} ({dev.get('cores', '?')} cores), {bench[0]['threads'] if bench else '?'} "
          "thread(s), XNNPACK off unless marked.\n")
    from sleepedge.export.report import stream_lines

    print("\n".join(yardstick_section(bench) + yardstick_goal_lines(bench) + stream_table(export, bench)
                    + stream_lines(export) + stateful_table(export, bench) + stateful_goal_lines(bench)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
