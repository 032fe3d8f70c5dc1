"""The bench imports no torch and no TensorFlow, even when it benches a PyTorch reference row."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CHECK = "heavy = sorted(m for m in ('torch', 'tensorflow', 'keras', 'tf_keras') if m in sys.modules)"


def _run(code: str) -> dict:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_importing_every_bench_module_pulls_no_torch_or_tensorflow():
    code = textwrap.dedent(f"""
        import importlib, json, pkgutil, sys
        import sleepedge.firmware_bench as fb
        import sleepedge.commands.bench
        names = [m.name for m in pkgutil.iter_modules(fb.__path__) if m.name != "torch_runtime"]
        for n in names:
            importlib.import_module("sleepedge.firmware_bench." + n)
        {CHECK}
        print(json.dumps({{"heavy": heavy, "n": len(names)}}))
    """)
    out = _run(code)
    assert out["heavy"] == [] and out["n"] >= 10


def test_bench_with_torch_reference_keeps_torch_in_the_worker(onnx_run):
    code = textwrap.dedent(f"""
        import json, sys
        from sleepedge.firmware_bench import BenchSettings, run_bench
        rows = run_bench({str(onnx_run)!r}, BenchSettings(min_time_s=0.0, min_runs=2, rounds=1, warmup=0,
                                                           runtimes=["onnxruntime", "torch"]))
        {CHECK}
        print(json.dumps({{"heavy": heavy, "status": {{r["key"]: r["status"] for r in rows}}}}))
    """)
    out = _run(code)
    assert out["heavy"] == []
    assert out["status"]["baseline/torch_fp32/torch"] == "ok", out
