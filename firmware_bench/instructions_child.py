"""Child of :mod:`sleepedge.firmware_bench.instructions`: load one model, run it, exit (run under callgrind).

    python -m sleepedge.firmware_bench.instructions_child FILE --calls N [--runtime ai-edge-litert|tflite-runtime|tflm]
        [--time-s SECONDS]

Loads FILE with the bench's own TFLite loader (:func:`sleepedge.firmware_bench.runtimes.load_runner`: one
thread, XNNPACK off, variable tensors reset before every call) or with TFLite Micro, quantises one seeded
EEG-like window of the model's input shape, runs ONE warm-up inference, then ``N`` inferences on that same
input, and prints one JSON line on stdout: ``input_shape``, ``runtime``, ``version``, ``calls`` (and, with
``--time-s``, ``ms_p50``: the median wall time of one call, timed for at least that long; the lab uses it for
the wall-clock column, never under valgrind). Any failure is a traceback and a non-zero exit, which the
parent turns into one line naming the file.

numpy and one runtime only, so that Python's start-up under valgrind stays as short as it can be.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

import numpy as np

from sleepedge.firmware_bench.instructions import TFLM, WARMUP_CALLS
from sleepedge.firmware_bench.runtimes import LITERT, load_runner, quantize, runtime_version

TFLM_ARENA_BYTES = 16 << 20  # generous: the arena's size changes where tensors lie, not the work done


def eeg_window(shape: list[int], seed: int = 0) -> np.ndarray:
    """A fixed EEG-like float32 input of ``shape`` (standard normal x 20 microvolts, ``seed``)."""
    return (np.random.default_rng(seed).standard_normal([int(v) for v in shape]) * 20).astype(np.float32)


def tflite_call(path: str, runtime: str) -> tuple[Callable[[], Any], dict[str, Any]]:
    """The zero-argument inference of ``path`` under a TFLite runtime, as the bench times it, and its info."""
    runner = load_runner(runtime, path, 1, False)
    info = {"input_shape": [int(v) for v in runner.info["input_shape"]], "runtime": runtime,
            "version": runner.info.get("version")}
    return runner.timed_call(eeg_window(info["input_shape"])), info


def tflm_call(path: str) -> tuple[Callable[[], Any], dict[str, Any]]:
    """The zero-argument inference of ``path`` under TFLite Micro (state reset after each call) and its info."""
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_file(path, arena_size=TFLM_ARENA_BYTES)
    detail = it.get_input_details(0)
    scale, zero_point = detail["quantization_parameters"]["scales"], detail["quantization_parameters"]["zero_points"]
    shape = [int(v) for v in detail["shape"]]
    q = quantize(eeg_window(shape), detail["dtype"], float(scale[0]) if len(scale) else 0.0,
                 int(zero_point[0]) if len(zero_point) else 0)

    def call() -> None:
        it.set_input(q, 0)
        it.invoke()
        it.reset()  # every window starts from a zero LSTM state, as in the bench

    return call, {"input_shape": shape, "runtime": TFLM, "version": runtime_version("tflite_micro")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--calls", type=int, required=True, help="measured inferences after the warm-up one")
    p.add_argument("--runtime", default=LITERT, help="ai-edge-litert, tflite-runtime or tflm")
    p.add_argument("--time-s", type=float, default=0.0, help="also time the calls for this long (not under valgrind)")
    a = p.parse_args(argv)
    call, info = tflm_call(a.file) if a.runtime == TFLM else tflite_call(a.file, a.runtime)
    for _ in range(WARMUP_CALLS + a.calls):
        call()
    if a.time_s > 0:
        from sleepedge.firmware_bench.timing import summarize, time_runs

        info["ms_p50"] = summarize(time_runs(call, 3, a.time_s, 10))["p50"]
    print(json.dumps({**info, "calls": a.calls}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
