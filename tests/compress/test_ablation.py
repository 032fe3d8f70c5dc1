"""The ablation runs each variant to the selected architecture and tabulates paired differences."""
from __future__ import annotations

import pytest

from compress_fakes import FakeFit, fake_evaluate
from sleepedge.lab.ablation import markdown, run_ablation
from sleepedge.compress.stage import run_compress_stage


def test_ablation_reuses_the_full_chain_and_runs_each_variant(train_run, tiny_cfg, data):
    tiny_cfg.compress.margin_points = 100.0  # random data: the smallest model is selected
    run_compress_stage(train_run, tiny_cfg, finetune=FakeFit(), evaluate=fake_evaluate, data=data, progress=False)
    fit = FakeFit()
    res = run_ablation(train_run, progress=False, finetune=fit, evaluate=fake_evaluate, data=data)
    names = [r["recipe"] for r in res["rows"]]
    assert names == ["full", "no-distillation", "no-schedule", "importance-l1", "importance-taylor", "paper"]
    assert res["target"] == "s2-25pct-h8" and all(r["params"] == res["rows"][0]["params"] for r in res["rows"])
    assert not any(c.endswith("s1-25pct") and "full" in c for c in fit.calls)  # the sweep's own chain is reused
    assert len(fit.calls) == 4 * 2 + 6  # four 2-step variants, the paper recipe in 5 % steps (5 + 1)
    assert (train_run / "ablation" / "paper" / "steps" / "s2-25pct-h8" / "step.json").is_file()
    assert res["rows"][0]["vs_full"] == {} and "test" in res["rows"][1]["vs_full"]
    md = markdown(res)
    assert "`no-distillation`" in md and "vs full" in md


def test_ablation_refuses_a_run_that_selected_the_baseline(train_run, tiny_cfg, data):
    tiny_cfg.compress.margin_points = 0.0
    tiny_cfg.compress.min_accuracy = 1.0  # nothing qualifies
    run_compress_stage(train_run, tiny_cfg, finetune=FakeFit(), evaluate=fake_evaluate, data=data, progress=False)
    with pytest.raises(ValueError, match="baseline"):
        run_ablation(train_run, progress=False, finetune=FakeFit(), evaluate=fake_evaluate, data=data)
