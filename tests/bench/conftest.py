"""Bench fixtures: tiny run folders built once per session by scripts/make_tiny_export_run.py."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from bench_fixtures import fast_settings  # noqa: F401  (re-exported for fixtures below)

REPO = Path(__file__).resolve().parents[2]


def _builder():
    spec = importlib.util.spec_from_file_location("make_tiny_export_run", REPO / "tests" / "fixtures" / "tiny_export_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def onnx_run_master(tmp_path_factory) -> Path:
    """Run folder with train/, compress/ and export/ (baseline + compressed ONNX); do not write into it."""
    import torch

    torch.set_num_threads(1)
    return _builder().build_tiny_run(tmp_path_factory.mktemp("onnx") / "run", n_seq=4, seq_len=3, with_tflite=False)


@pytest.fixture(scope="session")
def tflite_run_master(tmp_path_factory) -> Path:
    """Like ``onnx_run_master`` plus TFLite fp32 (baseline) and int8 (compressed) rows (needs TensorFlow)."""
    pytest.importorskip("tensorflow")
    return _builder().build_tiny_run(tmp_path_factory.mktemp("tfl") / "run", n_seq=4, seq_len=3, with_tflite=True)


@pytest.fixture
def onnx_run(onnx_run_master, tmp_path) -> Path:
    """A private copy of the ONNX run (tests write RUN/bench into it)."""
    return Path(shutil.copytree(onnx_run_master, tmp_path / "run"))
