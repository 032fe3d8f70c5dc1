"""Fixtures of the core tests: a small schema-correct run folder (no TensorFlow) for the CLI probe."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def probe_run_master(tmp_path_factory) -> Path:
    """RUN with train/, compress/, export/ (two tiny ONNX models; untrained); do not write into it."""
    import torch

    spec = importlib.util.spec_from_file_location("make_tiny_export_run", REPO / "tests" / "fixtures" / "tiny_export_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.set_num_threads(1)
    run = module.build_tiny_run(tmp_path_factory.mktemp("probe") / "run", n_seq=3, seq_len=3, with_tflite=False)
    return _complete_train_stage(run)


def _complete_train_stage(run: Path) -> Path:
    """Give the fixture's train stage what a real one has (calib.npz, a dataset label) and relink its children."""
    from sleepedge.run.manifest import read_manifest, resolve_entry, write_manifest

    shutil.copyfile(run / "train" / "test.npz", run / "train" / "calib.npz")
    parent = None
    for stage in ("train", "compress", "export"):
        d = run / stage
        m = read_manifest(d)
        outputs = {k: resolve_entry(d, e) for k, e in m["outputs"].items()}
        if stage == "train":
            outputs["calib"] = d / "calib.npz"
        write_manifest(d, stage, outputs=outputs, inputs={k: resolve_entry(d, e) for k, e in m["inputs"].items()},
                       parent=parent, metrics=m["metrics"], seed=m.get("seed"),
                       dataset={"name": "synthetic", "synthetic": True, "label": "SYNTHETIC data (test fixture)"})
        parent = d
    return run


@pytest.fixture
def probe_run(probe_run_master, tmp_path) -> Path:
    """A private copy of the probe run (a case may damage it)."""
    return Path(shutil.copytree(probe_run_master, tmp_path / "run"))
