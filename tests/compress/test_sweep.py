"""The sweep end to end on a tiny model: table, figures, selection, manifest, resume."""
from __future__ import annotations

import csv
import json

import pytest
import torch

from sleepedge.compress.stage import run_compress_stage
from sleepedge.config.settings import ConfigError
from sleepedge.models import count_params, get_arch, load_checkpoint
from sleepedge.run.manifest import StageExistsError, read_manifest

from compress_fakes import LABEL, FakeFit, fake_evaluate


def _run(run, cfg, data, fit, **kw):
    return run_compress_stage(run, cfg, finetune=fit, evaluate=fake_evaluate, data=data, progress=False, **kw)


def test_two_step_sweep_writes_table_figures_selection(train_run, tiny_cfg, data):
    fit = FakeFit()
    manifest = _run(train_run, tiny_cfg, data, fit)
    out = train_run / "compress"
    assert fit.calls == ["fine-tune s1-25pct", "fine-tune s2-25pct-h8"]
    for name in ("selected", "sweep_csv", "sweep_md", "fig_stage1", "fig_stage2", "sweep_json"):
        assert name in manifest["outputs"]
    for png in ("fig_stage1.png", "fig_stage2.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [r["model"] for r in rows] == ["baseline", "s1-25pct", "s2-25pct-h8"]
    small = get_arch("tiny").with_widths(small_channels=(6,) * 4, large_channels=(6,) * 4, lstm_hidden=8)
    assert int(rows[2]["params"]) == count_params(small)
    assert float(rows[2]["params_reduction_pct"]) == pytest.approx(100 * (1 - count_params(small) / count_params(get_arch("tiny"))))
    assert sum(r["selected"] == "True" for r in rows) == 1 and any(r["pareto"] == "True" for r in rows)
    md = (out / "sweep.md").read_text()
    assert LABEL in md and "s2-25pct-h8" in md
    sel = manifest["metrics"]["selected"]
    model, _ = load_checkpoint(out / "selected.pt")  # strict reload of the chosen model
    assert count_params(model.arch) == sel["params"] == sum(p.numel() for p in model.parameters())
    step = json.loads((out / "steps" / "s2-25pct-h8" / "step.json").read_text())
    assert step["finetune"]["history"] and step["wall_s"]["total"] > 0 and "accuracy" in step["test"]
    assert manifest["parent"]["stage"] == "train" and manifest["metrics"]["sweep_wall_s"] > 0
    with pytest.raises(StageExistsError):
        _run(train_run, tiny_cfg, data, fit)


def test_resume_after_interruption_does_not_redo_finished_steps(train_run, tiny_cfg, data):
    with pytest.raises(KeyboardInterrupt):
        _run(train_run, tiny_cfg, data, FakeFit(fail_on=2))
    partial = train_run / ".compress.partial" / "steps"  # the unfinished stage lives beside RUN/compress
    first = (partial / "s1-25pct" / "step.json").read_bytes()
    assert not (partial / "s2-25pct-h8" / "step.json").exists()
    assert not (train_run / "compress").exists()
    fit = FakeFit()
    manifest = _run(train_run, tiny_cfg, data, fit)
    assert fit.calls == ["fine-tune s2-25pct-h8"]  # the finished step was not redone
    steps = train_run / "compress" / "steps"
    assert (steps / "s1-25pct" / "step.json").read_bytes() == first
    assert not (train_run / ".compress.partial").exists()
    assert read_manifest(train_run / "compress")["plan"] == manifest["plan"] == ["s1-25pct", "s2-25pct-h8"]


def test_resume_with_other_settings_is_refused(train_run, tiny_cfg, data):
    with pytest.raises(KeyboardInterrupt):
        _run(train_run, tiny_cfg, data, FakeFit(fail_on=2))
    tiny_cfg.compress.stage1_finetune_epochs = 7
    with pytest.raises(ConfigError, match="stage1_finetune_epochs"):
        _run(train_run, tiny_cfg, data, FakeFit())


def test_floor_that_nothing_meets_selects_the_baseline_loudly(train_run, tiny_cfg, data, caplog):
    tiny_cfg.compress.min_accuracy = 1.0  # random labels: no model is perfect
    manifest = _run(train_run, tiny_cfg, data, FakeFit())
    assert manifest["metrics"]["selected"]["model"] == "baseline"
    assert manifest["metrics"]["selection"]["qualified"] is False
    assert "WARNING" in (train_run / "compress" / "sweep.md").read_text()
    assert "BASELINE is selected" in caplog.text


def test_zero_finetune_epochs_skips_fitting(train_run, tiny_cfg, data):
    tiny_cfg.compress.stage1_finetune_epochs = tiny_cfg.compress.stage2_finetune_epochs = 0
    fit = FakeFit()
    _run(train_run, tiny_cfg, data, fit)
    assert fit.calls == []


class DamagingFit(FakeFit):
    """A fine-tune that ruins the model: zero head, so it predicts one class only."""

    def __call__(self, model, train, val, cfg, **kw):
        self.calls.append(kw.get("desc"))
        with torch.no_grad():
            model.head.weight.zero_()
            model.head.bias.zero_()
        return type("R", (), {"model": model, "history": [{"epoch": 1}], "best_epoch": 1})()


def scripted_evaluate(model, data, batch_size=64, device=None):
    """macro-F1 0.1 for a zeroed head, 0.5 otherwise (accuracy likewise)."""
    score = 0.1 if float(model.head.weight.detach().abs().sum()) == 0 else 0.5
    return {"accuracy": score, "macro_f1": score, "kappa": score}


@pytest.mark.parametrize("keep", [True, False])
def test_a_finetune_that_hurts_validation_is_not_kept(train_run, tiny_cfg, data, keep):
    tiny_cfg.compress.keep_pruned_if_better = keep
    run_compress_stage(train_run, tiny_cfg, finetune=DamagingFit(), evaluate=scripted_evaluate, data=data, progress=False)
    step = json.loads((train_run / "compress" / "steps" / "s1-25pct" / "step.json").read_text())
    model, _ = load_checkpoint(train_run / "compress" / "steps" / "s1-25pct" / "model.pt")
    assert step["finetune"]["kept"] == ("pruned" if keep else "finetuned")
    assert step["val"]["macro_f1"] == (0.5 if keep else 0.1)
    assert (float(model.head.weight.detach().abs().sum()) > 0) == keep


def test_rebuilt_data_must_match_the_train_stage_test_set(tmp_path, data):
    from sleepedge.compress.stage import check_rebuilt_data
    from sleepedge.core.errors import DataError
    from sleepedge.run.manifest import write_manifest

    test_npz = data["test"].save(tmp_path / "test.npz")
    manifest = read_manifest(write_manifest(tmp_path, "train", outputs={"test": test_npz}).parent)
    check_rebuilt_data(tmp_path, manifest, data)  # identical: accepted
    data["test"].x[0, 0, 0, 0] += 1.0
    with pytest.raises(DataError, match="test.npz"):
        check_rebuilt_data(tmp_path, manifest, data)
