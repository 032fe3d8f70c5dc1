"""sleepedge.firmware_bench: latency, memory, size and accuracy of exported models, host and ARM board.

Imports NO torch and NO TensorFlow (numpy, the standard library, onnxruntime, ai-edge-litert or
tflite-runtime, optionally psutil and matplotlib), so ``pip install sleepedge[bench]`` on a Raspberry Pi
is enough. The PyTorch reference row runs in a worker subprocess (``torch_runtime``).
"""
from __future__ import annotations

from .benchmark import bench_from_bundle, prediction_key, run_bench
from .bundle import make_bundle, unpack_bundle
from .merge import merge_markdown
from .settings import BenchSettings
from .stage import run_bench_stage
from .timing import summarize, time_runs

__all__ = ["BenchSettings", "bench_from_bundle", "make_bundle", "merge_markdown",
           "prediction_key", "run_bench", "run_bench_stage", "summarize", "time_runs", "unpack_bundle"]
