"""Ray runs of a tiny sweep (real training loop) give the sequential table; a killed task resumes."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from sleepedge.core.executor import ExecutorSpec, use
from sleepedge.compress.stage import run_compress_stage
from sleepedge.config.settings import load_config
from sleepedge.train.stage import run_train_stage

ray = pytest.importorskip("ray", reason="the distributed extra (CI installs it with .[all])")
pytestmark = [pytest.mark.slow, pytest.mark.whole_machine]

# Tiny grid in three segments: s1-25pct | s1-50pct -> s2-50pct-h8 (cut from s1-25pct's task result) | s2-25pct-h8
# (also cut from s1-25pct); up to two epochs a step.
SETTINGS = ["compress.compare_recipes=", "compress.stage1_finetune_epochs=2", "compress.stage2_finetune_epochs=2",
            "compress.stage2_from=0.25,0.5"]
RAY = ExecutorSpec(kind="ray", cpus_per_task=1)


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs whose workers can import this folder's helpers."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).parent), old) if p)
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()
    if old is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cfg = load_config("tiny", SETTINGS)
    run = tmp_path_factory.mktemp("ray") / "base"
    run_train_stage(run, cfg)
    return run, cfg


def _fresh(trained, dst: Path) -> Path:
    shutil.copytree(trained[0] / "train", dst / "train")
    return dst


def _rows(run: Path) -> list[dict]:
    rows = json.loads((run / "compress" / "sweep.json").read_text())["rows"]
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


@pytest.fixture(scope="module")
def sequential(trained, tmp_path_factory):
    run = _fresh(trained, tmp_path_factory.mktemp("seq"))
    run_compress_stage(run, trained[1], progress=False)
    return _rows(run)


def test_ray_sweep_gives_the_sequential_table(local_ray, trained, sequential, tmp_path):
    run = _fresh(trained, tmp_path)
    with use(RAY):
        manifest = run_compress_stage(run, trained[1], progress=False)
    assert _rows(run) == sequential
    recipe = manifest["metrics"]["recipe"]  # the default recipe: distillation from the baseline's logits, and the rest
    assert recipe["name"] == "sleepedge" and recipe["distill_alpha"] > 0 and recipe["schedule"] == "cosine" \
        and recipe["dropout"] is not None and recipe["keep_best"]
    assert [r["model"] for r in sequential] == ["baseline", "s1-25pct", "s1-50pct", "s2-25pct-h8", "s2-50pct-h8"]
    assert manifest["plan"] == ["s1-25pct", "s1-50pct", "s2-25pct-h8", "s2-50pct-h8"]


def test_task_killed_mid_step_is_retried_and_resumes(local_ray, trained, sequential, tmp_path):
    from ray_fakes import KillOnceFit

    run = _fresh(trained, tmp_path)
    calls = tmp_path / "calls.json"
    with use(RAY):
        run_compress_stage(run, trained[1], finetune=KillOnceFit("s1-50pct", str(calls)), progress=False)
    log = json.loads(calls.read_text())
    descs = [c["desc"] for c in log]
    assert descs.count("fine-tune s1-25pct") == 1  # finished before the kill: read back from its step.json
    killed, resumed = [c for c in log if c["desc"] == "fine-tune s1-50pct"]
    assert not killed["state_existed"] and resumed["state_existed"] and killed["pid"] != resumed["pid"]
    assert _rows(run) == sequential  # resuming from the epoch state changes nothing
