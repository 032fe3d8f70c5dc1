"""The main job end to end on the tiny preset: every stage, every report section, resume, failure.

Every test reads the one session run ``tiny_pipeline_run`` (tests/fixtures/plugin.py); a test that changes a stage works on a copy."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sleepedge.config.settings import load_config
from sleepedge.pipeline.pipeline import STAGES, run_pipeline

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]


def test_every_stage_ran(tiny_pipeline_run):
    run, _, outcomes = tiny_pipeline_run
    assert [(o.stage, o.status) for o in outcomes] == [(s, "done") for s in STAGES], outcomes
    for stage in STAGES:
        assert (run / stage / "manifest.json").is_file()


def test_report_has_every_section(tiny_pipeline_run):
    run, _, _ = tiny_pipeline_run
    report = (run / "report.md").read_text()
    assert "SYNTHETIC" in report
    for heading in ("## 1. Baseline training", "## 2. Two-stage compression", "## 3. Export",
                    "## 4. Benchmark", "## 5. Budget check"):
        assert heading in report
    assert "_not run yet_" not in report
    for image in ("train/confusion.png", "train/hypnogram.png", "compress/fig_stage1.png",
                  "compress/fig_stage2.png", "bench/latency_vs_size.png"):
        assert f"]({image})" in report and (run / image).is_file()
    assert "device:" in report


def test_every_table_and_manifest_says_synthetic(tiny_pipeline_run):
    run, _, _ = tiny_pipeline_run
    for table in ("compress/sweep.md", "export/formats.md", "bench/results.md", "check/check.md"):
        assert "SYNTHETIC" in (run / table).read_text(), table
    for stage in STAGES:
        manifest = json.loads((run / stage / "manifest.json").read_text())
        assert manifest["dataset"].get("synthetic") is True, stage


def test_rerun_skips_finished_stages(tiny_pipeline_run):
    run, cfg, _ = tiny_pipeline_run
    outcomes = run_pipeline(run, cfg)
    assert [o.status for o in outcomes] == ["skipped"] * len(STAGES)


def test_interrupted_pipeline_resumes_from_last_completed_stage(tiny_pipeline_run, tmp_path):
    run, cfg, _ = tiny_pipeline_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    for stage in ("bench", "check"):  # as if the run had stopped during bench
        shutil.rmtree(copy / stage)
    outcomes = run_pipeline(copy, cfg, stages=("train", "compress", "export", "bench"))
    assert [o.status for o in outcomes] == ["skipped", "skipped", "skipped", "done"]
    assert json.loads((copy / "bench" / "results.json").read_text())


def test_failed_stage_stops_and_keeps_earlier_results(tiny_pipeline_run, tmp_path, monkeypatch):
    import sleepedge.pipeline.pipeline as pl

    run, cfg, _ = tiny_pipeline_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    shutil.rmtree(copy / "export")
    shutil.rmtree(copy / "bench")
    shutil.rmtree(copy / "check")

    def boom(run_dir, cfg, overwrite=False):
        raise RuntimeError("converter exploded")

    monkeypatch.setitem(pl.RUNNERS, "export", boom)
    outcomes = run_pipeline(copy, cfg)
    assert [(o.stage, o.status) for o in outcomes] == [("train", "skipped"), ("compress", "skipped"), ("export", "failed")]
    assert "converter exploded" in outcomes[-1].error
    assert (copy / "compress" / "manifest.json").is_file() and not (copy / "bench").exists()
    assert "## 3. Export" in (copy / "report.md").read_text()


def test_rerun_with_other_config_is_refused(tiny_pipeline_run):
    from sleepedge.config.settings import ConfigError

    run, _, _ = tiny_pipeline_run
    with pytest.raises(ConfigError, match="train.epochs"):
        run_pipeline(run, load_config("tiny", ["train.epochs=9"]))


def test_deployment_outputs_streaming_pair_yardstick_and_cards(tiny_pipeline_run):
    run, _, _ = tiny_pipeline_run
    rows = {(r["model"], r["format"]): r for r in json.loads((run / "export" / "manifest.json").read_text())["metrics"]["rows"]}
    pair = rows[("compressed", "stream_tflite_int8")]
    assert pair["status"] == "ok" and pair["tflm_arena_bytes"] == pair["tflm_arena_features_bytes"] + pair["tflm_arena_head_bytes"]
    assert rows[("deepsleepnet", "onnx_fp32")]["untrained"] is True
    bench = json.loads((run / "bench" / "results.json").read_text())
    assert any(r["model"] == "deepsleepnet" and r["untrained"] for r in bench)
    assert all(r["speedup_vs_yardstick"] for r in bench if r["status"] == "ok" and r["model"] == "compressed")
    report = (run / "report.md").read_text()
    assert "## Against DeepSleepNet and against the baseline" in report and "MODEL_CARD.md" in report
    assert (run / "export" / "compressed" / "MODEL_CARD.md").is_file()


def _copy(tiny_pipeline_run, tmp_path):
    run, cfg, _ = tiny_pipeline_run
    return Path(shutil.copytree(run, tmp_path / "run")), cfg


def _flip_a_byte(path: Path) -> bytes:
    data = path.read_bytes()
    damaged = bytearray(data)
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    return data


def test_resume_reverifies_finished_stages_and_redoes_a_damaged_one(tiny_pipeline_run, tmp_path):
    """A flipped byte in a .tflite used to go unnoticed, and the old verdict was printed again.

    The flipped .tflite is caught by the re-verification resume runs for every finished stage (``redo_reason``);
    the resume itself then runs on a flipped byte in bench's predictions.npz, through the same code path (a
    file that no longer matches its manifest's sha256), because redoing bench takes seconds and redoing the
    export two minutes: the damaged stage is redone and every later one with it, as stale."""
    from sleepedge.pipeline.pipeline import redo_reason
    from sleepedge.run.manifest import read_manifest

    copy, cfg = _copy(tiny_pipeline_run, tmp_path)
    tfl = copy / "export" / "compressed" / "tflite_int8.tflite"
    intact = _flip_a_byte(tfl)
    assert "does not match its sha256" in redo_reason(copy, "export", cfg)
    tfl.write_bytes(intact)
    assert redo_reason(copy, "export", cfg) is None
    _flip_a_byte(copy / "bench" / "predictions.npz")
    outcomes = run_pipeline(copy, cfg)
    assert [(o.stage, o.status) for o in outcomes] == [(s, "skipped") for s in ("train", "compress", "export")] + [
        (s, "done") for s in ("bench", "check")]
    assert "does not match its sha256" in outcomes[3].note and "stale" in outcomes[4].note
    for stage in STAGES:
        read_manifest(copy / stage)


def test_stale_stages_are_refused_by_check_and_not_shown_in_the_report(tiny_pipeline_run, tmp_path):
    from sleepedge.check import check_budget
    from sleepedge.pipeline.pipeline import redo_reason
    from sleepedge.pipeline.report import build_report
    from sleepedge.run.transaction import StaleStageError

    copy, cfg = _copy(tiny_pipeline_run, tmp_path)
    m = json.loads((copy / "compress" / "manifest.json").read_text())
    m["created"] = "compress redone"
    (copy / "compress" / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(StaleStageError, match="export is stale"):
        check_budget("wearable", copy)
    report = build_report(copy)
    assert report.count("_stale, not shown:") == 3  # export, bench, check
    assert "## 2. Two-stage compression" in report and "Selection (" in report
    assert redo_reason(copy, "export", cfg).startswith("stale:") and redo_reason(copy, "compress", cfg) is None


def test_another_budget_redoes_only_the_check(tiny_pipeline_run, tmp_path):
    copy, cfg = _copy(tiny_pipeline_run, tmp_path)
    other = load_config("tiny", ["check.preset=nrf52840"])
    outcomes = run_pipeline(copy, other)
    assert [o.status for o in outcomes] == ["skipped"] * 4 + ["done"] and "budget changed" in outcomes[-1].note
    assert json.loads((copy / "check" / "manifest.json").read_text())["config"]["budget"] == "nrf52840"


def test_a_bad_budget_is_refused_before_any_stage_runs(tmp_path):
    from sleepedge.core.errors import BudgetError

    with pytest.raises(BudgetError, match="nope"):
        run_pipeline(tmp_path / "new", load_config("tiny", ["check.budget=nope"]))
    assert not (tmp_path / "new" / "train").exists() and not (tmp_path / "new" / ".train.partial").exists()


def test_overwrite_keeps_each_stage_until_its_replacement_is_complete(tiny_pipeline_run, tmp_path, monkeypatch):
    import sleepedge.export.stage as export_stage

    copy, cfg = _copy(tiny_pipeline_run, tmp_path)
    before = (copy / "export" / "manifest.json").read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("converter exploded halfway")

    monkeypatch.setattr(export_stage, "export_models", broken)
    outcomes = run_pipeline(copy, cfg, overwrite=True, stages=("export",))
    assert outcomes[0].status == "failed" and (copy / "export" / "manifest.json").read_bytes() == before


def test_docs_figures_render_every_table_of_the_run(tiny_pipeline_run):
    from sleepedge.lab.docs_figures import demo_document, summary_block

    run, _, _ = tiny_pipeline_run
    p = {"commit": "0" * 40, "label": "SYNTHETIC data (tiny)", "synthetic": True}
    table = summary_block(run, p)
    for row in ("parameters", "MACs per 30-s epoch", "test macro-F1, int8 TFLite", "budget"):
        assert row in table, row
    doc = demo_document(run, p)
    for section in ("## Wall time", "## Compression", "## Recipes", "## Export", "## Bench", "## Budget check"):
        assert section in doc, section
    assert "not written by this run" not in doc
