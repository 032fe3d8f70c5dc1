"""Instructions per epoch (callgrind) next to wall-clock latency per epoch, for model files.

    sleepedge lab instructions FILE [FILE ...] [--runtime tflite|ai-edge-litert|tflite-runtime|tflm]
        [--calls 3] [--time-s 1.0] [--json]

For each ``.tflite`` file: :func:`sleepedge.firmware_bench.instructions.instructions_per_epoch` (two runs of
the model under valgrind's callgrind, counting only inside the interpreter's invoke) and the median wall time
of one call of the same child on the same input, not under valgrind. Prints one markdown table (or one JSON
line per file with ``--json``): epochs per call, instructions per epoch, ms per epoch, both as ratios
to the first file (e.g. baseline over compressed), and the seconds the count took. The count repeats to the
instruction; the wall-clock column is there to show what it predicts (docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def measure(path: str | Path, runtime: str, calls: int, time_s: float) -> dict:
    """The count and the wall clock of one file, and how long the count took."""
    from sleepedge.firmware_bench.instructions import instructions_per_epoch, wall_clock_ms

    t0 = time.perf_counter()
    count = instructions_per_epoch(path, runtime=runtime, calls=calls)
    count_s = time.perf_counter() - t0
    ms = wall_clock_ms(path, runtime=runtime, time_s=time_s)
    return {"file": str(path), "runtime": runtime, **count, "count_s": count_s, "ms_per_call": ms,
            "ms_per_epoch": ms / count["epochs_per_call"]}


def table(rows: list[dict]) -> str:
    """A markdown table of :func:`measure` rows; ratios are to the first row."""
    first = rows[0]
    lines = ["| file | runtime | epochs/call | instructions/epoch | ms/epoch | instructions ratio | wall-clock ratio "
             "| count took (s) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio_i = r["instructions_per_epoch"] / first["instructions_per_epoch"]
        ratio_t = r["ms_per_epoch"] / first["ms_per_epoch"]
        lines.append(f"| {r['file']} | {r['runtime']} | {r['epochs_per_call']} "
                     f"| {r['instructions_per_epoch']:,.0f} | {r['ms_per_epoch']:.3f} | {ratio_i:.2f} "
                     f"| {ratio_t:.2f} | {r['count_s']:.0f} |")
    lines.append(f"\n{first['tool']}, {first['calls']} counted calls after one warm-up; ratios are to the first file.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", help=".tflite files (window models, feature models or heads)")
    p.add_argument("--runtime", default="tflite", help="tflite (ai-edge-litert, else tflite-runtime), a name, or tflm")
    p.add_argument("--calls", type=int, default=3, help="counted inferences per file (after one warm-up)")
    p.add_argument("--time-s", type=float, default=1.0, help="seconds of timed calls for the wall-clock column")
    p.add_argument("--json", action="store_true", help="one JSON line per file instead of the table")
    a = p.parse_args(argv)
    rows = []
    for f in a.files:
        rows.append(measure(f, a.runtime, a.calls, a.time_s))
        if a.json:
            print(json.dumps(rows[-1]), flush=True)
    if not a.json:
        print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
