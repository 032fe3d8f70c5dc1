"""Time model files directly (no run folder): one JSON line per file or streaming pair.

    python -m sleepedge.firmware_bench.filetime MODEL.tflite [FEATURES.tflite+HEAD.tflite ...]
        [--runtime tflite|onnxruntime|ai-edge-litert|tflite-runtime] [--threads 1] [--min-time 1.0] [--rounds 3]

A ``+`` joins a streaming pair (features + head): its feature model is timed on one epoch and its head
on one decision. Random EEG-like input of each model's own shape, XNNPACK off, warm-up excluded; the
median of per-round medians is reported. numpy + a runtime only, so the same script times files on
x86 and under aarch64 emulation (``docs/converters.md``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from sleepedge.firmware_bench.device import detect_emulation
from sleepedge.firmware_bench.runtimes import ONNXRUNTIME, load_runner, resolve_tflite
from sleepedge.firmware_bench.timing import summarize, time_runs


def _window(shape: list[int], seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal([int(v) for v in shape]) * 20).astype(np.float32)


def time_spec(spec: str, runtime: str, threads: int, min_time: float, rounds: int) -> dict:
    """Latency of one file (or ``features+head`` pair): p50 ms per call (and per part for a pair)."""
    parts = spec.split("+")
    rt = ONNXRUNTIME if parts[0].endswith(".onnx") else (resolve_tflite(runtime) if runtime in ("tflite", "auto") else runtime)
    t0 = time.perf_counter()
    runner = load_runner(rt, parts[0], threads, False, head_path=parts[1] if len(parts) > 1 else None)
    load_ms = (time.perf_counter() - t0) * 1000
    out = {"spec": spec, "runtime": rt, "threads": threads, "load_ms": load_ms,
           "bytes": sum(Path(p).stat().st_size for p in parts), "emulated": detect_emulation()[0]}
    if len(parts) == 1:
        x = _window(runner.info["input_shape"])
        med = [summarize(time_runs(runner.timed_call(x), 3, min_time, 10))["p50"] for _ in range(rounds)]
        return {**out, "kind": "window", "ms": float(np.median(med)), "seq_len": int(runner.info["input_shape"][1])}
    x = _window([1, runner.seq_len, 1, runner.features.info["input_shape"][-1]])
    res = {p: float(np.median([summarize(time_runs(runner.timed_call(x, p), 3, min_time / 2, 10))["p50"]
                               for _ in range(rounds)])) for p in ("features", "head")}
    return {**out, "kind": "pair", "ms_features": res["features"], "ms_head": res["head"],
            "ms": res["features"] + res["head"], "seq_len": runner.seq_len}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("specs", nargs="+", help="model files; FEATURES+HEAD for a streaming pair")
    p.add_argument("--runtime", default="tflite", help="tflite (ai-edge-litert, else tflite-runtime), or a name")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-time", type=float, default=1.0, help="seconds of timed calls per round")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args(argv)
    for spec in a.specs:
        try:
            print(json.dumps(time_spec(spec, a.runtime, a.threads, a.min_time, a.rounds)), flush=True)
        except Exception as exc:  # one unrunnable file is a line with its error, not the end of the run
            print(json.dumps({"spec": spec, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
