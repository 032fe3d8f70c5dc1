"""The train stage on the synthetic dataset with the tiny preset: learns, writes its run folder, refuses overwrite."""
import json

import numpy as np
import pytest

from sleepedge.config.settings import load_config
from sleepedge.run.manifest import StageExistsError, read_manifest
from sleepedge.train.sequences import SequenceData
from sleepedge.train.stage import load_run_data, run_train_stage


@pytest.fixture(scope="module")
def tiny_train(tmp_path_factory):
    run = tmp_path_factory.mktemp("train") / "run"
    cfg = load_config("tiny", ["train.epochs=5"])
    return run, cfg, run_train_stage(run, cfg)


def test_learns_clearly_above_chance(tiny_train):
    _, _, manifest = tiny_train
    val, test = manifest["metrics"]["val"], manifest["metrics"]["test"]
    # chance: macro-F1 ~0.2 and kappa ~0 for five classes
    assert val["macro_f1"] > 0.3 and val["kappa"] > 0.2, val
    assert test["kappa"] > 0.2, test


def test_run_folder_contents(tiny_train):
    run, _, manifest = tiny_train
    assert manifest["dataset"]["synthetic"] is True and "SYNTHETIC" in manifest["dataset"]["label"]
    assert set(manifest["outputs"]) >= {"model", "history", "metrics", "split", "test", "calib", "confusion", "hypnogram"}
    split = json.loads((run / "train" / "split.json").read_text())
    assert not set(split["train"]) & set(split["test"]) and not set(split["val"]) & set(split["test"])
    test = SequenceData.load(run / "train" / "test.npz")
    assert test.x.dtype == np.float32 and test.x.shape[1:] == (5, 1, 3000)
    cm = np.asarray(manifest["metrics"]["test"]["confusion"])
    assert cm.sum() == test.y.size
    assert not (run / "train" / "train_state.pt").exists()
    read_manifest(run / "train")  # checksums verify


def test_load_run_data_rebuilds_the_same_test_split(tiny_train):
    run, _, _ = tiny_train
    data = load_run_data(run / "train")
    saved = SequenceData.load(run / "train" / "test.npz")
    np.testing.assert_array_equal(data["test"].y, saved.y)
    np.testing.assert_array_equal(data["test"].x, saved.x)


def test_finished_stage_is_not_overwritten(tiny_train):
    run, cfg, _ = tiny_train
    with pytest.raises(StageExistsError, match="overwrite"):
        run_train_stage(run, cfg)


def test_interrupted_training_resumes_only_with_the_same_settings(tmp_path, monkeypatch, caplog):
    """The partial state lives in RUN/.train.partial; a rerun with other settings must not mix the two."""
    import sleepedge.train.loop as loop
    from sleepedge.config.settings import ConfigError

    run, cfg = tmp_path / "run", load_config("tiny", ["train.epochs=2", "train.patience=0"])
    real_save = loop._save_state

    def save_then_stop(path, state):
        real_save(path, state)
        raise KeyboardInterrupt  # Ctrl-C right after the first epoch's state was saved

    monkeypatch.setattr(loop, "_save_state", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_train_stage(run, cfg)
    monkeypatch.undo()
    assert (run / ".train.partial" / "train_state.pt").is_file() and not (run / "train").exists()
    with pytest.raises(ConfigError, match=r"train\.lr.*--overwrite"):
        run_train_stage(run, load_config("tiny", ["train.epochs=2", "train.patience=0", "train.lr=0.01"]))
    caplog.set_level("INFO")
    manifest = run_train_stage(run, cfg)
    assert "resuming training from" in caplog.text
    assert manifest["metrics"]["epochs_run"] == 2 and not (run / ".train.partial").exists()
