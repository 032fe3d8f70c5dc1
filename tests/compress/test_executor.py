"""The executor setting: segments of the grid, validation, and Ray runs equal to the sequential run."""
from __future__ import annotations

import sys

import pytest

from sleepedge.core.executor import ExecutorSpec, current, use, validate
from sleepedge.compress.grid import segments
from sleepedge.compress.plan import BASELINE, build_plan
from sleepedge.config.settings import ConfigError, load_config
from sleepedge.models import get_arch


def test_paper_grid_segments_start_stage2_chains_where_stage1_reaches_them():
    cfg = load_config("paper")
    plan = build_plan(get_arch("paper"), cfg.compress)
    segs = segments(plan)
    ids = [s.id for seg in segs for s in seg.steps]
    assert sorted(ids) == sorted(s.id for s in plan) and len(ids) == len(plan) == 41  # every step once
    firsts = {seg.steps[0].id: seg.parent for seg in segs}
    assert firsts == {"s1-5pct": BASELINE, "s1-25pct": "s1-20pct", "s1-45pct": "s1-40pct", "s1-65pct": "s1-60pct",
                      "s2-0pct-h384": BASELINE, "s2-20pct-h384": "s1-20pct", "s2-40pct-h384": "s1-40pct",
                      "s2-60pct-h384": "s1-60pct"}
    tail = next(seg for seg in segs if seg.steps[0].id == "s1-65pct")  # s1-80pct has one child: its chain continues
    assert [s.id for s in tail.steps][-6:] == ["s1-80pct", "s2-80pct-h384", "s2-80pct-h256", "s2-80pct-h128",
                                               "s2-80pct-h64", "s2-80pct-h32"]
    for seg in segs:  # inside a segment each step is cut from the one before
        assert all(b.parent == a.id for a, b in zip(seg.steps, seg.steps[1:]))


def test_no_sweep_plan_is_one_segment():
    cfg = load_config("quick")
    plan = build_plan(get_arch("quick"), cfg.compress, sweep=False)
    assert len(segments(plan)) == 1


@pytest.mark.parametrize("spec, match", [
    (ExecutorSpec(kind="dask"), "unknown executor 'dask'"),
    (ExecutorSpec(address="auto"), "--ray-address needs --executor ray"),
    (ExecutorSpec(kind="local", gpus_per_task=-1), "must be >= 0"),
])
def test_bad_settings_are_refused(spec, match):
    with pytest.raises(ConfigError, match=match):
        validate(spec)


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"sleepedge\[distributed\]"):
        validate(ExecutorSpec(kind="ray"))


def test_use_sets_the_executor_for_the_block_only():
    assert current().kind == "local"
    with use(ExecutorSpec(kind="local", cpus_per_task=2)) as spec:
        assert current() is spec
    assert current().kind == "local" and current().cpus_per_task == 0


def test_task_resources_follow_threads_and_device():
    cfg = load_config("quick")  # train.threads = 2
    assert ExecutorSpec(kind="ray").resources(cfg, "cpu") == {"num_cpus": 2.0, "num_gpus": 0.0}
    assert ExecutorSpec(kind="ray").resources(cfg, "cuda") == {"num_cpus": 2.0, "num_gpus": 1.0}
    assert ExecutorSpec(kind="ray", cpus_per_task=1, gpus_per_task=0.25).resources(cfg, "cuda") == {"num_cpus": 1.0, "num_gpus": 0.25}
    assert ExecutorSpec(kind="ray", cpus_per_task=3).threads(cfg) == 2  # train.threads wins: same numerics
    cfg.train.threads = 0
    assert ExecutorSpec(kind="ray", cpus_per_task=3).threads(cfg) == 3


class _FakeRay:
    def __init__(self, have):
        self.have = have

    def cluster_resources(self):
        return self.have


def test_tasks_a_local_ray_cannot_place_are_refused():
    from sleepedge.core.executor import check_resources

    ray = _FakeRay({"CPU": 2.0})
    check_resources(ray, ExecutorSpec(kind="ray"), {"num_cpus": 2.0, "num_gpus": 0.0})
    with pytest.raises(ConfigError, match="asks for 0.25 GPU but this Ray has 0"):
        check_resources(ray, ExecutorSpec(kind="ray"), {"num_cpus": 1.0, "num_gpus": 0.25})
    with pytest.raises(ConfigError, match="--cpus-per-task"):
        check_resources(ray, ExecutorSpec(kind="ray"), {"num_cpus": 4.0, "num_gpus": 0.0})
    check_resources(ray, ExecutorSpec(kind="ray", address="auto"), {"num_cpus": 4.0, "num_gpus": 1.0})  # a cluster may grow


def test_fanout_bound_of_the_paper_grid_by_hand():
    from sleepedge.lab.speedup import fanout_bound

    b = fanout_bound(load_config("paper", ["compress.recipe=paper"]))  # fixed epochs: 3 per stage-1 step, 5 per stage-2 step
    assert (b["steps"], b["segments"], b["critical_steps"]) == (41, 8, 21)
    assert b["epochs"] == 16 * 3 + 25 * 5 and b["critical_epochs"] == 16 * 3 + 5 * 5
    assert b["bound"] == pytest.approx(173 / 73)


def test_extrapolation_from_a_cost_result_by_hand():
    from sleepedge.lab.speedup import extrapolate, grid_epochs

    cfg = load_config("paper", ["compress.recipe=paper"])  # fixed epochs: the cost tool's own assumption
    plan, epochs, _ = grid_epochs(cfg)
    steps = {s.id: {"epochs": epochs[s.id], "epoch_s": 10.0, "step_s": 10.0 * epochs[s.id] + 1.0} for s in plan}
    cost = {"steps": steps, "total_s": sum(v["step_s"] for v in steps.values()), "batch": 16,
            "sequences": {"train": 1353, "val": 169, "test": 169}, "baseline": {"train_step_s": 2.0, "eval_step_s": 1.0}}
    e = extrapolate(cfg, cost)
    assert e["grid_sequential_s"] == pytest.approx(cost["total_s"]) == pytest.approx(173 * 10 + 41)
    assert e["grid_longest_chain_s"] == pytest.approx(73 * 10 + 21)  # stage 1 to 80 %, then the chain from 80 %
    assert e["baseline_epoch_s"] == pytest.approx(85 * 2.0 + 3 * 1.0 * 64 / 16)


def test_grid_epochs_size_a_step_like_the_sweep():
    """Sized fine-tunes: the larger share of MACs or parameters a step removes (sweep.run_step's rule)."""
    from sleepedge.compress.plan import step_arch
    from sleepedge.compress.recipes import resolve
    from sleepedge.lab.speedup import grid_epochs
    from sleepedge.models import count_params, get_arch, macs_per_epoch

    cfg = load_config("paper")
    plan, epochs, parent = grid_epochs(cfg)
    base, recipe = get_arch(cfg.model.arch), resolve(cfg.compress)
    arch = {"baseline": base, **{s.id: step_arch(base, s) for s in plan}}
    s2 = next(s for s in plan if s.stage == 2)  # shrinking the BiLSTM removes more parameters than MACs
    a, p = arch[s2.id], arch[parent[s2.id]]
    by_params, by_macs = 1 - count_params(a) / count_params(p), 1 - macs_per_epoch(a) / macs_per_epoch(p)
    assert by_params > by_macs
    assert epochs[s2.id] == recipe.finetune_epochs(cfg.compress.stage2_finetune_epochs, by_params)
