"""The same seed and thread count give an identical sweep table (real training loop, tiny preset)."""
from __future__ import annotations

import json
import shutil

import pytest

from sleepedge.compress.stage import run_compress_stage
from sleepedge.config.settings import load_config
from sleepedge.train.stage import run_train_stage

pytestmark = pytest.mark.integration  # a train and three compress runs of the tiny preset: ~20 s on 2 cores

SETTINGS = ["compress.stage1_max=0.25", "compress.stage2_from=0.25", "compress.compare_recipes=paper"]
TIMES = ("wall_s", "recipe_wall_s")


@pytest.fixture(scope="module")
def tiny_trained(tmp_path_factory):
    cfg = load_config("tiny", SETTINGS)
    run = tmp_path_factory.mktemp("repro") / "a"
    run_train_stage(run, cfg)
    return run, cfg


def _table(run, cfg) -> list[dict]:
    """Every row of the sweep and of the recipe comparison, without wall times (those vary run to run)."""
    run_compress_stage(run, cfg, progress=False)
    rows = json.loads((run / "compress" / "sweep.json").read_text())["rows"]
    rows += json.loads((run / "compress" / "recipes.json").read_text())["rows"]
    return [{k: v for k, v in r.items() if k not in TIMES} for r in rows]


def _copy(run, dst):
    shutil.copytree(run / "train", dst / "train")
    return dst


@pytest.fixture(scope="module")
def first_table(tiny_trained, tmp_path_factory):
    """The table of one compress run of ``tiny_trained`` (shared: each test below runs only its other table)."""
    run, cfg = tiny_trained
    return _table(_copy(run, tmp_path_factory.mktemp("repro") / "b"), cfg)


def test_same_seed_same_threads_same_table(tiny_trained, first_table, tmp_path):
    run, cfg = tiny_trained
    first = first_table
    assert _table(_copy(run, tmp_path / "c"), cfg) == first
    assert [r["model"] for r in first] == ["baseline", "s1-25pct", "s2-25pct-h8", "s2-25pct-h8", "s2-25pct-h8"][:len(first)]


def test_another_seed_gives_another_table(tiny_trained, first_table, tmp_path):
    run, cfg = tiny_trained
    other = load_config("tiny", SETTINGS + ["train.seed=5"])
    assert _table(_copy(run, tmp_path / "d"), other) != first_table  # the table of the same settings but the seed
