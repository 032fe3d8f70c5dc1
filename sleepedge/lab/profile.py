"""Where the time goes: onnxruntime's per-operator profile of an ONNX model, summed by operator type.

    python -m sleepedge.lab.profile MODEL.onnx [--runs 50] [--threads 1]

Uses onnxruntime's own profiler (``SessionOptions.enable_profiling``) on zero input of the model's
fixed shape, and prints the share of kernel time per operator type (Conv, LSTM, MatMul, ...).
TFLite's Python interpreters expose no per-operator timer; their operator counts are in the export
rows (``op_counts``). numpy and onnxruntime only, like the rest of the bench.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path


def profile_onnx(path: str | Path, runs: int = 50, threads: int = 1) -> dict[str, float]:
    """Microseconds of kernel time per operator type, summed over ``runs`` inferences."""
    import numpy as np
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        so = ort.SessionOptions()
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "ort")
        so.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        x = np.zeros([d if isinstance(d, int) else 1 for d in inp.shape], dtype=np.float32)
        for _ in range(runs):
            sess.run(None, {inp.name: x})
        events = json.loads(Path(sess.end_profiling()).read_text())
    per_op: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            per_op[e.get("args", {}).get("op_name", "?")] += float(e.get("dur", 0))
    return dict(sorted(per_op.items(), key=lambda kv: -kv[1]))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="an .onnx file (e.g. RUN/export/baseline/onnx_fp32.onnx)")
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    per_op = profile_onnx(a.model, a.runs, a.threads)
    total = sum(per_op.values()) or 1.0
    print(f"{a.model}: kernel time per inference {total / a.runs / 1000:.3f} ms ({a.threads} thread)")
    for op, us in per_op.items():
        print(f"  {op:<16} {100 * us / total:5.1f} %  {us / a.runs / 1000:.3f} ms")


if __name__ == "__main__":
    main()
