"""compare_converters times its files from another working folder, and shows a failed timing instead of a blank."""
from __future__ import annotations

import shutil
from pathlib import Path

from sleepedge.lab.converters import _specs, table, time_files, timing_errors

DATA = Path(__file__).resolve().parents[1] / "check" / "data"


def _row(fmt: str, file: str) -> dict:
    return {"model": "m", "format": fmt, "converter": "torch.onnx", "status": "ok", "file": file, "precision": "fp32",
            "file_bytes": 1, "parity_max_abs": 0.0, "accuracy": None}


def test_relative_out_folder_is_timed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / "m").mkdir(parents=True)
    shutil.copy(DATA / "tiny.onnx", tmp_path / "out" / "m" / "onnx_fp32.onnx")
    rows = [_row("onnx_fp32", "m/onnx_fp32.onnx")]
    specs = _specs(rows, Path("out"))  # relative, as `--out runs/x` gives it
    assert all(Path(s).is_absolute() for s in specs.values())
    x86 = time_files(specs, min_time=0.05)
    assert timing_errors(x86) == [] and x86["m/onnx_fp32"]["ms"] > 0


def test_failed_timing_is_shown_and_listed():
    rows = [_row("onnx_fp32", "m/onnx_fp32.onnx")]
    x86 = {"m/onnx_fp32": {"spec": "x", "error": "NoSuchFile: gone"}}
    assert "failed: NoSuchFile: gone" in table(rows, x86, {})
    assert timing_errors(x86) == ["m/onnx_fp32: NoSuchFile: gone"]
