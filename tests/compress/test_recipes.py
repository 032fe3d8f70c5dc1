"""The recipe switch, the side-by-side comparison, and what each recipe hands the fine-tune."""
from __future__ import annotations

import json
import math

import pytest

from compress_fakes import FakeFit, fake_evaluate
from sleepedge.compress.recipes import PAPER, comparison_recipes, resolve
from sleepedge.compress.stage import run_compress_stage
from sleepedge.config.settings import CompressConfig, ConfigError, load_config


class RecordingFit(FakeFit):
    """FakeFit that also records the recipe arguments of every call."""

    def __init__(self):
        super().__init__()
        self.kwargs = []

    def __call__(self, model, train, val, cfg, **kw):
        self.kwargs.append({"lr": cfg.lr, "patience": cfg.patience, **{k: kw.get(k) for k in
                            ("objective", "schedule", "keep_best", "epochs", "teacher_logits")}})
        return super().__call__(model, train, val, cfg, epochs=kw.get("epochs"), desc=kw.get("desc", ""))


def test_recipes_resolve_with_overrides():
    c = CompressConfig(finetune_lr=3e-4, stage1_step=0.2)
    own = resolve(c)
    assert own.name == "sleepedge" and own.importance == "bn_l1" and own.distill_alpha > 0 and own.schedule == "cosine"
    assert own.lr == 3e-4 and own.stage1_step == 0.2 and own.keep_best
    paper = resolve(c, "paper")
    assert paper == PAPER and paper.lr == 1e-4 and paper.stage1_step == 0.05 and paper.importance == "l1"
    assert paper.distill_alpha == 0 and paper.schedule == "constant" and not paper.keep_best
    c2 = CompressConfig(importance="taylor", distill_alpha=0.0, schedule="constant")
    r = resolve(c2)
    assert (r.importance, r.distill_alpha, r.schedule) == ("taylor", 0.0, "constant")
    assert resolve(c2, "paper") == PAPER  # overrides apply to the sweep's own recipe only
    assert resolve(CompressConfig(recipe="paper", importance="bn_l1")).importance == "bn_l1"
    with pytest.raises(ConfigError, match="recipe"):
        resolve(CompressConfig(recipe="mine"))
    with pytest.raises(ConfigError, match="importance"):
        resolve(CompressConfig(importance="l7"))
    assert comparison_recipes(CompressConfig(compare_recipes=["paper", "sleepedge", "paper"])) == ["paper"]


def test_sized_epochs():
    r = resolve(CompressConfig())
    assert r.finetune_epochs(3, 0.05) == 1 and r.finetune_epochs(3, 0.1) == 2 and r.finetune_epochs(3, 0.25) == 5
    assert r.finetune_epochs(3, 0.9) == 6  # at most twice the stage's fixed epochs
    assert PAPER.finetune_epochs(3, 0.9) == 3


def test_paper_recipe_sweep_runs_the_seed_method(train_run, tiny_cfg, data):
    tiny_cfg.compress.recipe = "paper"
    tiny_cfg.compress.stage1_max = 0.1
    tiny_cfg.compress.stage2_from = [0.1]
    fit = RecordingFit()
    m = run_compress_stage(train_run, tiny_cfg, finetune=fit, evaluate=fake_evaluate, data=data, progress=False)
    assert m["plan"][:2] == ["s1-5pct", "s1-10pct"]  # 5 % steps, whatever compress.stage1_step says
    for kw in fit.kwargs:
        assert kw["lr"] == 1e-4 and not kw["objective"].distills and kw["schedule"].kind == "constant"
        assert kw["keep_best"] is False and kw["teacher_logits"] is None
    assert m["metrics"]["recipe"]["name"] == "paper"


def test_sleepedge_recipe_distils_and_schedules(train_run, tiny_cfg, data):
    fit = RecordingFit()
    run_compress_stage(train_run, tiny_cfg, finetune=fit, evaluate=fake_evaluate, data=data, progress=False)
    kw = fit.kwargs[0]
    assert kw["objective"].distills and kw["schedule"].kind == "cosine" and kw["keep_best"] is True
    assert kw["teacher_logits"].shape == (*data["train"].y.shape, 5)


def test_comparison_runs_the_paper_recipe_to_the_selected_architecture(train_run, tiny_cfg, data):
    tiny_cfg.compress.compare_recipes = ["paper"]
    tiny_cfg.compress.margin_points = 100.0  # random data: select the smallest model whatever its score
    fit = RecordingFit()
    m = run_compress_stage(train_run, tiny_cfg, finetune=fit, evaluate=fake_evaluate, data=data, progress=False)
    out = train_run / "compress"
    comp = json.loads((out / "recipes.json").read_text())
    assert comp["target"] == "s2-25pct-h8" == m["metrics"]["selected"]["model"]
    own, paper = comp["rows"]
    assert (own["recipe"], paper["recipe"]) == ("sleepedge", "paper") and own["params"] == paper["params"]
    assert paper["steps"] == 6  # 5, 10, 15, 20, 25 % then hidden 8
    assert (out / "recipes" / "paper" / "steps" / "s2-25pct-h8" / "step.json").is_file()
    assert {"val", "test"} <= set(comp["versus"]["paper"]) and not math.isnan(comp["versus"]["paper"]["test"]["accuracy"]["lo"])
    md = (out / "recipes.md").read_text()
    assert "`sleepedge` minus `paper`" in md and "| `paper` | 6 |" in md
    assert "recipes_md" in m["outputs"] and m["metrics"]["recipes"]["paper"]["steps"] == 6


def test_finetune_dropout_is_a_training_setting_not_an_architecture_change():
    import torch

    from sleepedge.models import DeepSleepNet, get_arch

    m = DeepSleepNet(get_arch("quick"))
    m.set_dropout(0.1)
    assert {mod.p for mod in m.modules() if isinstance(mod, torch.nn.Dropout)} == {0.1} and m.lstm.dropout == 0.1
    assert m.arch == get_arch("quick")  # the exported architecture is unchanged
    assert resolve(CompressConfig()).dropout == 0.1 and PAPER.dropout is None
    assert resolve(CompressConfig(finetune_dropout=-1)).dropout is None
    assert resolve(CompressConfig(finetune_dropout=0.3)).dropout == 0.3
    with pytest.raises(ConfigError, match="finetune_dropout"):
        resolve(CompressConfig(finetune_dropout=1.5))


def test_the_config_rules_know_every_recipe():
    from sleepedge.compress.recipes import RECIPES
    from sleepedge.config.rules import RECIPE_NAMES

    assert set(RECIPE_NAMES) == set(RECIPES)
