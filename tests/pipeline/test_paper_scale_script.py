"""sleepedge.lab.paper_scale (the device-machine driver) on the tiny preset: figures, and a clean stop at the deadline."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What the device machine lacks: the driver must not import any of these on the synthetic path.
ABSENT = ("mne", "onnx", "onnxruntime", "tensorflow", "onnx2tf", "ray", "psutil", "edfio")
pytestmark = pytest.mark.slow


def _driver(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    args = ["--preset", "tiny", "--out", str(tmp_path / "run"), "--figures", str(tmp_path / "fig"), "--executor", "auto", *extra]
    code = (f"import sys, runpy; sys.modules.update(dict.fromkeys({ABSENT!r})); sys.argv = ['paper_scale.py'] + {args!r}; "
            f"runpy.run_module('sleepedge.lab.paper_scale', run_name='__main__', alter_sys=True)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads((tmp_path / "fig" / "summary.json").read_text())


def test_tiny_run_inside_the_budget_reports_every_phase(tmp_path):
    proc, s = _driver(tmp_path, "--max-minutes", "5")
    assert s["stopped"] is None and s["grid"]["finished"] == s["grid"]["planned"] == 4
    assert set(s["times_s"]) == {"probe", "data", "train", "compress", "total"}
    assert s["executor"].startswith("local (Ray unavailable") and s["selected"]["model"]
    assert s["data"]["nights"] == 12 and s["probe"][0]["sequences_per_s"] > 0
    for name in ("summary.md", "sweep.md", "history.json", "fig_stage2.png"):
        assert (tmp_path / "fig" / name).is_file(), name
    assert "| train |" in proc.stdout and "Grid: 4 of 4 steps" in proc.stdout


def test_deadline_stops_the_grid_cleanly(tmp_path):
    _, s = _driver(tmp_path, "--max-minutes", "0.01", "--no-probe")
    assert s["stopped"].startswith("time budget used up before fine-tune") and s["grid"]["finished"] == 0
    assert s["train"]["epochs_run"] >= 1 and s["probe"] == []
    assert "STOPPED: time budget used up" in (tmp_path / "fig" / "summary.md").read_text()
