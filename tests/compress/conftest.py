"""Fixtures for the compress tests: a fake finished train stage with a tiny model and random sequences."""
from __future__ import annotations

import pytest
import torch

from compress_fakes import LABEL, random_data
from sleepedge.config.settings import load_config
from sleepedge.models import DeepSleepNet, get_arch, save_checkpoint
from sleepedge.run.manifest import write_manifest


@pytest.fixture
def tiny_cfg():
    cfg = load_config("tiny")
    cfg.compress.stage1_step, cfg.compress.stage1_max = 0.25, 0.25  # two steps: s1-25pct, s2-25pct-h8
    cfg.compress.stage2_from = [0.25]
    cfg.compress.hidden_step, cfg.compress.hidden_floor, cfg.compress.hidden_extra = 8, 8, []
    cfg.compress.compare_recipes = []  # tests of the comparison turn it on
    return cfg


@pytest.fixture
def data():
    return {"train": random_data(4, 2, 0), "val": random_data(3, 2, 1), "test": random_data(3, 2, 2)}


@pytest.fixture
def train_run(tmp_path, tiny_cfg, data):
    """RUN/train with a tiny baseline checkpoint and a manifest like the train stage's."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    train_dir = tmp_path / "run" / "train"
    model = save_checkpoint(train_dir / "model.pt", DeepSleepNet(get_arch("tiny")), config=tiny_cfg.to_dict())
    test = data["test"].save(train_dir / "test.npz")
    write_manifest(train_dir, "train", outputs={"model": model, "test": test}, config=tiny_cfg.to_dict(),
                   dataset={"name": "synthetic", "synthetic": True, "label": LABEL}, split={"train": [0], "val": [1], "test": [2]})
    return tmp_path / "run"
