"""sleepedge.firmware_bench: latency, memory, size and accuracy of exported models, host and ARM board.

Imports NO torch and NO TensorFlow (numpy, the standard library, onnxruntime, ai-edge-litert or
tflite-runtime, optionally psutil and matplotlib), so ``pip install sleepedge[bench]`` on a Raspberry Pi
is enough. The PyTorch reference row runs in a worker subprocess (``torch_runtime``).
"""
from __future__ import annotations

from sleepedge.firmware_bench.benchmark import bench_from_bundle, prediction_key, run_bench
from sleepedge.firmware_bench.bundle import make_bundle, unpack_bundle
from sleepedge.firmware_bench.merge import merge_markdown
from sleepedge.firmware_bench.settings import BenchSettings
from sleepedge.firmware_bench.stage import run_bench_stage
from sleepedge.firmware_bench.timing import summarize, time_runs

__all__ = ["BenchSettings", "bench_from_bundle", "make_bundle", "merge_markdown",
           "prediction_key", "run_bench", "run_bench_stage", "summarize", "time_runs", "unpack_bundle"]
