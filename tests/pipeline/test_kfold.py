"""Subject-wise k-fold: folds, mean ± sd over folds, pooled scores, the deployed fold, resume."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sleepedge.config.settings import ConfigError, load_config
from sleepedge.pipeline.kfold import n_folds, run_kfold
from sleepedge.pipeline.kfold_report import deployed_fold, summarize
from sleepedge.core.metrics import metrics_from_confusion


def _row(fold, acc, f1, kappa, c_f1, params, cm):
    score = {"accuracy": acc, "macro_f1": f1, "kappa": kappa, "confusion": cm, "params": 100}
    return {"fold": fold, "folder": f"folds/fold-{fold:02d}", "status": "done", "baseline": score,
            "compressed": {**score, "macro_f1": c_f1, "model": f"m{fold}", "params": params}}


def test_mean_sd_pooled_and_deployed_by_hand():
    eye, half = [[2, 0], [0, 2]], [[1, 1], [1, 1]]
    rows = [_row(0, 0.8, 0.7, 0.5, 0.60, 10, eye), _row(1, 0.9, 0.8, 0.6, 0.70, 20, half),
            _row(2, 1.0, 0.9, 0.7, 0.65, 30, eye), {"fold": 3, "status": "missing compress"}]
    s = summarize(rows)
    assert s["n_done"] == 3 and s["n_folds"] == 4
    assert s["baseline"]["accuracy"]["mean"] == pytest.approx(0.9) and s["baseline"]["accuracy"]["sd"] == pytest.approx(0.1)
    assert s["baseline"]["kappa"]["mean"] == pytest.approx(0.6) and s["baseline"]["kappa"]["sd"] == pytest.approx(0.1)
    assert s["baseline"]["pooled"]["accuracy"] == pytest.approx(10 / 12)  # (2+2 + 1+1 + 2+2) / 12 epochs
    assert s["delta_points"]["macro_f1"]["mean"] == pytest.approx(100 * (0.65 - 0.8))
    d = deployed_fold(rows, s)  # compressed F1 mean 0.65: fold 2 hits it exactly, not the best fold (1)
    assert d["fold"] == 2 and "closest" in d["reason"]
    assert math.isnan(summarize(rows[:1])["baseline"]["accuracy"]["sd"])  # one fold: no sd


@pytest.mark.parametrize("folds, k", [("all", 20), ("3", 3), (5, 5)])
def test_number_of_folds(folds, k):
    assert n_folds(load_config("quick"), folds) == k


@pytest.mark.parametrize("folds", ["1", "many"])
def test_bad_number_of_folds(folds):
    with pytest.raises(ConfigError, match="--folds"):
        n_folds(load_config("quick"), folds)


TINY = ["compress.compare_recipes="]
STAGES = ("train", "compress")


@pytest.fixture(scope="module")
def three_folds(tmp_path_factory):
    cfg = load_config("tiny", TINY)
    run = tmp_path_factory.mktemp("kfold") / "kf"
    return run, cfg, run_kfold(run, cfg, 3, stages=STAGES)


@pytest.mark.slow
def test_three_fold_tiny_pipeline(three_folds):
    run, cfg, result = three_folds
    rows = result["rows"]
    assert [r["status"] for r in rows] == ["done"] * 3
    tests = [s for r in rows for s in r["test_subjects"]]
    assert sorted(tests) == list(range(6))  # every subject tested once, in exactly one fold
    for r in rows:
        assert not set(r["test_subjects"]) & (set(r["val_subjects"]))
    base, comp = [], []
    for i in range(3):  # independently from what each fold wrote
        folder = run / "folds" / f"fold-{i:02d}"
        train = json.loads((folder / "train" / "manifest.json").read_text())
        assert train["config"]["data"]["fold"] == i and train["config"]["data"]["n_folds"] == 3
        base.append(train["metrics"]["test"])
        sel = json.loads((folder / "compress" / "manifest.json").read_text())["metrics"]["selected"]["model"]
        comp.append(json.loads((folder / "compress" / "steps" / sel / "step.json").read_text())["test"])
    s = result["summary"]
    for name, got in (("baseline", base), ("compressed", comp)):
        for k in ("accuracy", "macro_f1", "kappa"):
            vals = [g[k] for g in got]
            assert s[name][k]["mean"] == pytest.approx(np.mean(vals))
            assert s[name][k]["sd"] == pytest.approx(np.std(vals, ddof=1))
        pooled = metrics_from_confusion(np.sum([g["confusion"] for g in got], axis=0))
        assert s[name]["pooled"]["accuracy"] == pytest.approx(pooled["accuracy"])
    # main's paired statistics per fold and pooled over every fold's test subjects (each tested once)
    pd = s["paired_delta"]
    assert pd["macro_f1"]["n_subjects"] == 6 and all(r["paired_delta"]["accuracy"]["n_subjects"] == 2 for r in rows)
    for k in ("accuracy", "macro_f1", "kappa"):
        assert pd[k]["delta"] == pytest.approx(100 * (s["compressed"]["pooled"][k] - s["baseline"]["pooled"][k]))
        assert pd[k]["lo"] <= pd[k]["delta"] + 1e-9 and pd[k]["delta"] <= pd[k]["hi"] + 1e-9
    for i, r in enumerate(rows):  # the fold's interval is the one its sweep table gives the selected model
        sweep = json.loads((run / "folds" / f"fold-{i:02d}" / "compress" / "sweep.json").read_text())["rows"]
        sel = next(x for x in sweep if x["selected"])
        assert r["paired_delta"]["macro_f1"]["lo"] == pytest.approx(sel["test_d_macro_f1_lo"])
        assert r["paired_delta"]["macro_f1"]["hi"] == pytest.approx(sel["test_d_macro_f1_hi"])
    mean_f1 = np.mean([g["macro_f1"] for g in comp])
    assert result["deployed"]["fold"] == int(np.argmin([abs(g["macro_f1"] - mean_f1) for g in comp]))
    md = (run / "kfold.md").read_text()
    assert "SYNTHETIC" in md and "**mean ± sd**" in md and "Pooled over the 6 test subjects" in md and f"Deployed: fold {result['deployed']['fold']}" in md
    stamp = (run / "folds" / "fold-00" / "train" / "manifest.json").stat().st_mtime_ns
    again = run_kfold(run, cfg, 3, stages=STAGES)  # finished folds are not redone
    assert (run / "folds" / "fold-00" / "train" / "manifest.json").stat().st_mtime_ns == stamp
    assert again["summary"] == json.loads(json.dumps(s))
    assert all(o["status"] == "skipped" for r in again["rows"] for o in r["outcomes"])


@pytest.mark.slow
@pytest.mark.whole_machine
def test_folds_as_ray_tasks_give_the_same_aggregate(three_folds, tmp_path):
    ray = pytest.importorskip("ray", reason="the distributed extra (CI installs it with .[all])")
    from sleepedge.core.executor import ExecutorSpec, use

    _, cfg, local = three_folds
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        with use(ExecutorSpec(kind="ray", cpus_per_task=1)):
            result = run_kfold(tmp_path / "kf", cfg, 3, stages=STAGES)
    finally:
        ray.shutdown()
    assert result["summary"] == local["summary"] and result["deployed"] == local["deployed"]
    assert all(o["status"] == "done" for r in result["rows"] for o in r["outcomes"])
