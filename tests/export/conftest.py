"""Fixtures for the export tests: one tiny random checkpoint, EEG-like sequences, and ONE converted export
(session-scoped: the Keras and onnx2tf runs take a minute on 2 cores and are shared by every TensorFlow test)."""
from __future__ import annotations

import pytest

from export_fixtures import SEQ_LEN, TFLITE_FORMATS, export_cfg


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    import torch

    from sleepedge.models import DeepSleepNet, get_arch, save_checkpoint

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = DeepSleepNet(get_arch("tiny")).eval()
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt", model, meta={"note": "random weights"})


@pytest.fixture(scope="session")
def sequences():
    """``(calib_x, test_x, test_y)``: 8 calibration and 6 test sequences of SEQ_LEN epochs (microvolts)."""
    from sleepedge.lab.export_measure import synthetic_sequences

    calib_x, _ = synthetic_sequences(8, SEQ_LEN, seed=1)
    test_x, test_y = synthetic_sequences(6, SEQ_LEN, seed=2)
    return calib_x, test_x, test_y


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory, tiny_checkpoint, sequences):
    """Every format of the table for the tiny model: ``(export_dir, {format: row})``."""
    from sleepedge.export.checkpoint_export import export_checkpoint

    calib_x, test_x, test_y = sequences
    out = tmp_path_factory.mktemp("export")
    cfg = export_cfg(TFLITE_FORMATS)
    rows = export_checkpoint(tiny_checkpoint, out, calib_x, test_x, test_y, cfg, "baseline")
    return out, {r["format"]: r for r in rows}
