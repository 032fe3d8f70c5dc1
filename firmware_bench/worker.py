"""Bench worker: one subprocess per model x runtime, serving requests over a pipe (JSON lines).

The parent (``client.WorkerClient``) starts ``python -m sleepedge.firmware_bench.worker``; the worker
loads its model once and then answers ``time``, ``memory``, ``predict`` and ``quit`` requests, so
models can be timed interleaved (A, B, A, B ...) while each keeps its own address space, and memory
figures do not leak from one model into another. Replies go to a private copy of stdout; anything a
native library prints goes to stderr.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import time
from typing import Any, Callable

import numpy as np

from sleepedge.firmware_bench.memory import current_rss_bytes, peak_rss_bytes
from sleepedge.firmware_bench.runner import Runner
from sleepedge.firmware_bench.runtimes import load_runner
from sleepedge.firmware_bench.timing import time_runs

_RUNTIME_MODULE = {"onnxruntime": "onnxruntime", "ai-edge-litert": "ai_edge_litert.interpreter",
                   "tflite-runtime": "tflite_runtime.interpreter", "torch": "torch"}


class WorkerState:
    """What one worker holds between requests: its runner and the timing window."""

    def __init__(self) -> None:
        self.runner: Runner | None = None
        self.window: np.ndarray | None = None

    def loaded(self) -> Runner:
        if self.runner is None or self.window is None:
            raise RuntimeError("no model loaded: send a 'load' request first")
        return self.runner


def op_load(state: WorkerState, runtime: str, path: str, threads: int, xnnpack: bool | None, window: str,
            head_path: str | None = None, stateful: bool = False) -> dict[str, Any]:
    """Import the runtime, load the model (with ``head_path``: a streaming pair; with ``stateful`` too: a stateful
    pair, :mod:`.stateful`), run the first inference; report times and RSS at each step."""
    importlib.import_module(_RUNTIME_MODULE[runtime])  # the RSS baseline holds the runtime library, not the model
    state.window = np.ascontiguousarray(np.load(window), dtype=np.float32)
    rss_before = current_rss_bytes()
    t0 = time.perf_counter_ns()
    if stateful:
        from sleepedge.firmware_bench.stateful import load_stateful

        state.runner = load_stateful(runtime, path, head_path or path, threads, xnnpack)
    else:
        state.runner = load_runner(runtime, path, threads, xnnpack, head_path=head_path)
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    rss_after_load = current_rss_bytes()
    t0 = time.perf_counter_ns()
    out = state.runner.run(state.window)
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    return {"load_ms": load_ms, "first_inference_ms": first_ms, "rss_before_load_bytes": rss_before,
            "rss_after_load_bytes": rss_after_load, "output_shape": list(out.shape), "info": state.runner.info,
            "pid": os.getpid()}


def op_time(state: WorkerState, warmup: int, min_time_s: float, min_runs: int, part: str | None = None) -> dict[str, Any]:
    """One timing round on the loaded model (``part`` of a streaming pair): warm-up calls, then timed calls (ms each)."""
    runner = state.loaded()
    call = runner.timed_call(state.window, part) if part else runner.timed_call(state.window)
    return {"times_ms": time_runs(call, warmup, min_time_s, min_runs)}


def op_memory(state: WorkerState) -> dict[str, Any]:
    return {"rss_bytes": current_rss_bytes(), "peak_rss_bytes": peak_rss_bytes()}


def op_predict(state: WorkerState, x: str, out: str, groups: str | None = None) -> dict[str, Any]:
    """Logits for every window of the test sample (``x``: .npy ``(N, T, 1, 3000)``), saved to ``out`` (.npy).

    ``groups`` (.npy, one night id per window): a stateful pair streams each night's consecutive windows as one
    recording, the state carried across them."""
    runner = state.loaded()
    xs = np.load(x, mmap_mode="r")
    t0 = time.perf_counter()
    if groups is not None and hasattr(runner, "predict_nights"):
        logits = runner.predict_nights(np.asarray(xs, dtype=np.float32), np.load(groups, allow_pickle=False))
    else:
        logits = [runner.run(np.ascontiguousarray(xs[i:i + 1], dtype=np.float32))[0] for i in range(xs.shape[0])]
    np.save(out, np.stack(logits).astype(np.float32))
    return {"n": int(xs.shape[0]), "predict_s": time.perf_counter() - t0}


HANDLERS: dict[str, Callable[..., dict[str, Any]]] = {
    "load": op_load, "time": op_time, "memory": op_memory, "predict": op_predict,
    "quit": lambda state: {},
}


def serve(requests, replies) -> None:
    """Answer JSON-line requests until ``quit`` or end of input; an exception becomes an error reply."""
    state = WorkerState()
    for line in requests:
        msg = json.loads(line)
        op = msg.pop("op", None)
        try:
            reply = {"ok": True, **HANDLERS[op](state, **msg)}
        except Exception as exc:  # reported to the parent, which marks the row failed with this reason
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
        if op == "quit":
            break


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # native runtimes sometimes print to stdout: keep it off the protocol pipe
    sys.stdout = sys.stderr
    serve(sys.stdin, replies)


if __name__ == "__main__":
    main()
