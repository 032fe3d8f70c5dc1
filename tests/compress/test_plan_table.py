"""The grid plan, the Pareto front, the selection rule, and the command-line shell."""
from __future__ import annotations

import argparse

import pytest

from compress_fakes import FakeFit, fake_evaluate
from sleepedge.compress.plan import build_plan, hidden_sizes, stage1_ratios, step_arch
from sleepedge.compress.table import mark_pareto, select
from sleepedge.config.settings import CompressConfig, ConfigError, load_config
from sleepedge.models import get_arch
from sleepedge.run.manifest import read_manifest


def test_paper_grid_is_the_papers():
    cfg = load_config("paper")
    plan = build_plan(get_arch("paper"), cfg.compress)
    s1 = [s for s in plan if s.stage == 1]
    assert [round(100 * s.ratio) for s in s1] == list(range(5, 85, 5))
    assert s1[2].ratio == 0.15 and step_arch(get_arch("paper"), s1[2]).small.channels == (54, 109, 109, 109)
    s2 = [s for s in plan if s.stage == 2]
    assert sorted({s.ratio for s in s2}) == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert [s.hidden for s in s2 if s.ratio == 0.4] == [384, 256, 128, 64, 32]
    assert s2[0].parent == "baseline" and next(s for s in s2 if s.ratio == 0.4).parent == "s1-40pct"
    ids = [s.id for s in plan]
    assert all(ids.index(s.parent) < ids.index(s.id) for s in plan if s.parent != "baseline")


def test_no_sweep_runs_one_chain():
    cfg = load_config("quick")
    plan = build_plan(get_arch("quick"), cfg.compress, sweep=False)
    assert {s.ratio for s in plan if s.stage == 2} == {max(cfg.compress.stage2_from)}  # only the last chain


def test_grid_config_errors():
    c = CompressConfig(stage2_from=[0.33])
    with pytest.raises(ConfigError, match="stage2_from"):
        build_plan(get_arch("paper"), c)
    with pytest.raises(ConfigError, match="stage1_step"):
        stage1_ratios(CompressConfig(stage1_step=0.0))
    assert hidden_sizes(128, CompressConfig(hidden_step=32, hidden_floor=32, hidden_extra=[16, 64, 8])) == [96, 64, 32, 16, 8]


def _row(name, params, acc, f1, base=(0.80, 0.70)):
    return {"model": name, "params": params, "val_accuracy": acc, "val_macro_f1": f1, "selected": False,
            "val_d_accuracy": 100 * (acc - base[0]), "val_d_macro_f1": 100 * (f1 - base[1])}


def test_pareto_and_selection_on_paired_validation_deltas():
    rows = [_row("baseline", 100, 0.80, 0.70), _row("a", 50, 0.79, 0.72), _row("b", 20, 0.785, 0.69),
            _row("c", 10, 0.70, 0.60), _row("d", 50, 0.78, 0.65), _row("e", 5, 0.795, 0.67)]
    mark_pareto(rows)
    assert [r["model"] for r in rows if r["pareto"]] == ["a", "b", "e"]  # e (smaller, better) dominates c
    # e is within 2 accuracy points but loses 3 macro-F1 points: both must hold, so b (1.5 / 1.0 lost) wins
    chosen, info = select(rows, CompressConfig(margin_points=2.0))
    assert chosen["model"] == "b" and info["qualified"] and info["n_qualified"] == 3 and "macro-F1" in info["criterion"]
    for r in rows:
        r["selected"] = False
    chosen, _ = select(rows, CompressConfig(margin_points=3.0))
    assert chosen["model"] == "e"
    for r in rows:
        r["selected"] = False
    chosen, _ = select(rows, CompressConfig(margin_points=0.0))
    assert chosen["model"] == "baseline"
    for r in rows:
        r["selected"] = False
    chosen, info = select(rows, CompressConfig(min_accuracy=0.79))
    assert chosen["model"] == "e" and "79.0" in info["criterion"]
    with pytest.raises(ConfigError, match="fraction"):
        select(rows, CompressConfig(min_accuracy=80))


def test_command_uses_the_train_config_and_runs(train_run, data, monkeypatch, capsys):
    import sleepedge.train.loop as loop
    import sleepedge.train.stage as train_stage
    from sleepedge.commands import compress

    monkeypatch.setattr(loop, "fit", FakeFit())
    monkeypatch.setattr(loop, "evaluate", fake_evaluate)
    monkeypatch.setattr(train_stage, "load_run_data", lambda d: data)
    p = argparse.ArgumentParser()
    compress.add_arguments(p)
    args = p.parse_args(["--out", str(train_run), "--no-sweep", "--set", "compress.stage1_max=0.25",
                         "--set", "compress.stage2_from=0.25", "--set", "train.threads=1"])
    assert compress.run(args) == 0
    printed = capsys.readouterr().out
    assert "SYNTHETIC" in printed and "selected" in printed
    cfg = read_manifest(train_run / "compress")["config"]
    assert cfg["name"] == "tiny" and cfg["compress"]["stage1_max"] == 0.25 and cfg["train"]["threads"] == 1


def test_selection_is_non_inferiority_on_the_paired_interval():
    """A model whose point estimate passes but whose interval reaches below -margin does not qualify."""
    base = _row("baseline", 100, 0.80, 0.70)
    lucky = {**_row("lucky", 5, 0.80, 0.695), "val_d_accuracy_lo": -0.6, "val_d_macro_f1_lo": -1.5}
    solid = {**_row("solid", 20, 0.80, 0.70), "val_d_accuracy_lo": -0.4, "val_d_macro_f1_lo": -0.8}
    for r, lo in ((base, 0.0),):
        r["val_d_accuracy_lo"] = r["val_d_macro_f1_lo"] = lo
    chosen, info = select([base, lucky, solid], CompressConfig(margin_points=1.0))
    assert chosen["model"] == "solid" and "non-inferior" in info["criterion"]
    for r in (base, lucky, solid):
        r["selected"] = False
    assert select([base, lucky, solid], CompressConfig(margin_points=2.0))[0]["model"] == "lucky"
