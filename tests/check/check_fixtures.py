"""Helpers for the check tests (a plain module, not conftest, so `from check_fixtures import` is unambiguous).

Fixture run folders for the budget check, written with the real manifest code.
The export and bench rows follow docs/architecture.md ("Export rows", "Bench rows") field by field.
The check counts a model file only when its runtime loads and runs it, so the model files are real:
data/tiny.tflite (a 4 -> 5 dense layer) padded with zeros to the size a row claims (a flatbuffer
ignores trailing bytes), and data/tiny.onnx.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sleepedge.run.manifest import write_manifest

X86 = {"cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz", "cores": 2, "machine": "x86_64", "os": "Linux 6.1",
       "python": "3.11.7", "emulated": False}
PI = {"cpu": "BCM2835", "cores": 4, "machine": "aarch64", "os": "Linux 6.6", "python": "3.11.2", "emulated": False}

# (model, format) -> measured numbers of the fixture run
MEASURED = {
    ("baseline", "onnx_fp32"): dict(file_bytes=3_000_000, accuracy=0.81, macro_f1=0.75, kappa=0.73, agreement_torch=1.0),
    ("baseline", "tflite_fp32"): dict(file_bytes=2_900_000, accuracy=0.81, macro_f1=0.75, kappa=0.73, agreement_torch=1.0),
    ("baseline", "tflite_int8"): dict(file_bytes=800_000, accuracy=0.80, macro_f1=0.74, kappa=0.72,
                                      agreement_torch=0.98, tflm_arena_bytes=400_000),
    ("compressed", "onnx_fp32"): dict(file_bytes=1_000_000, accuracy=0.79, macro_f1=0.73, kappa=0.71, agreement_torch=1.0),
    ("compressed", "tflite_fp32"): dict(file_bytes=950_000, accuracy=0.79, macro_f1=0.73, kappa=0.71, agreement_torch=1.0),
    ("compressed", "tflite_int8"): dict(file_bytes=300_000, accuracy=0.78, macro_f1=0.72, kappa=0.70,
                                        agreement_torch=0.97, tflm_arena_bytes=200_000),
}
PARAMS = {"baseline": 700_000, "compressed": 240_000}
EXT = {"onnx_fp32": "onnx", "tflite_fp32": "tflite", "tflite_int8": "tflite"}


def export_row(model: str, fmt: str, **over: Any) -> dict[str, Any]:
    """One export row with every documented field."""
    m = MEASURED[(model, fmt)]
    row = {
        "model": model, "format": fmt, "status": "ok", "reason": "", "file": f"{model}/{fmt}.{EXT[fmt]}",
        "file_bytes": m["file_bytes"], "params": PARAMS[model], "macs_per_epoch": 5 * PARAMS[model],
        "arch": {"lstm_hidden": 32}, "seq_len": 10, "input_dtype": "int8" if fmt == "tflite_int8" else "float32",
        "parity_max_abs": 0.05 if fmt == "tflite_int8" else 1e-6, "accuracy": m["accuracy"],
        "macro_f1": m["macro_f1"], "kappa": m["kappa"], "agreement_torch": m["agreement_torch"],
        "flex_ops": {}, "float_ops": {}, "tflm_arena_bytes": m.get("tflm_arena_bytes"),
        "tflm_status": "ok" if m.get("tflm_arena_bytes") else "not_applicable", "convert_s": 1.5,
    }
    row.update(over)
    return row


def bench_row(model: str, fmt: str, device: dict[str, Any] = X86, **over: Any) -> dict[str, Any]:
    """One bench row with every documented field."""
    runtime, precision = fmt.split("_")
    latency = {"baseline": 20.0, "compressed": 8.0}[model]
    row = {
        "model": model, "format": fmt, "runtime": runtime, "precision": precision, "threads": 1, "xnnpack": False,
        "file_bytes": MEASURED[(model, fmt)]["file_bytes"], "params": PARAMS[model], "load_ms": 5.0,
        "first_inference_ms": latency * 2, "latency_ms_p50": latency, "latency_ms_p90": latency * 1.1,
        "latency_ms_p99": latency * 1.3, "latency_ms_mean": latency * 1.02, "latency_ms_std": 0.3,
        "latency_ms_per_epoch_p50": latency / 10, "epochs_per_s": 10_000 / latency, "peak_rss_bytes": 300 * 2**20,
        "rss_increase_bytes": 40 * 2**20, "tflm_arena_bytes": None, "accuracy": MEASURED[(model, fmt)]["accuracy"],
        "macro_f1": MEASURED[(model, fmt)]["macro_f1"], "agreement_ref": 0.97, "status": "ok", "reason": "",
        "device": dict(device), "emulated": bool(device.get("emulated")),
    }
    row.update(over)
    return row


def default_export_rows(models=("baseline", "compressed")) -> list[dict[str, Any]]:
    return [export_row(m, f) for m in models for f in ("onnx_fp32", "tflite_fp32", "tflite_int8")]


def default_bench_rows(models=("baseline", "compressed")) -> list[dict[str, Any]]:
    return [bench_row(m, f) for m in models for f in ("onnx_fp32", "tflite_int8")]


DATA = Path(__file__).resolve().parent / "data"
TINY_TFLITE = (DATA / "tiny.tflite").read_bytes()
TINY_ONNX = (DATA / "tiny.onnx").read_bytes()


def tflite_bytes(size: int) -> bytes:
    """A real .tflite of exactly ``size`` bytes (>= 1080): the tiny model, padded with zeros."""
    assert size >= len(TINY_TFLITE), f"the smallest fixture model has {len(TINY_TFLITE)} bytes"
    return TINY_TFLITE + bytes(size - len(TINY_TFLITE))


def fake_tflite_bytes(size: int) -> bytes:
    """NOT a model: the TFLite identifier at bytes 4..8 and zeros (what a gate must not count)."""
    return (b"\x1c\x00\x00\x00TFL3" + bytes(max(0, size - 8)))[:size]


def write_export(export_dir: Path, rows: list[dict[str, Any]]) -> Path:
    """Files of ``file_bytes`` each and the export manifest (outputs named ``<model>/<format>``)."""
    export_dir.mkdir(parents=True, exist_ok=True)
    outputs = {}
    for r in rows:
        if r.get("file") and r.get("file_bytes"):
            p = export_dir / r["file"]
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(TINY_ONNX if p.suffix == ".onnx" else tflite_bytes(r["file_bytes"]))
            outputs[f"{r['model']}/{r['format']}"] = p
    write_manifest(export_dir, "export", outputs=outputs, metrics={"rows": rows})
    return export_dir


def make_run(root: Path, export_rows: list | None = "default", bench_rows: list | None = "default",
             compress: bool = True) -> Path:
    """A run folder: compress manifest (optional), export rows and bench results (None = stage absent)."""
    run = root / "run"
    run.mkdir(parents=True)
    if compress:
        (run / "compress").mkdir()
        write_manifest(run / "compress", "compress", outputs={})
    if export_rows is not None:
        write_export(run / "export", default_export_rows() if export_rows == "default" else export_rows)
    if bench_rows is not None:
        bench = run / "bench"
        bench.mkdir()
        rows = default_bench_rows() if bench_rows == "default" else bench_rows
        (bench / "results.json").write_text(json.dumps(rows))
        write_manifest(bench, "bench", outputs={"results": bench / "results.json"},
                       parent=run / "export" if export_rows is not None else None)
    return run


def write_budget(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


