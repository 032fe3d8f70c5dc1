"""Streaming pair and untrained reference in the export stage, and their bench rows (ONNX only: no TensorFlow)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sleepedge.run.manifest import read_manifest


def _rows(run):
    return {(r["model"], r["format"]): r for r in read_manifest(run / "export")["metrics"]["rows"]}


def test_stream_pair_gives_the_window_models_predictions(stream_run):
    from sleepedge.firmware_bench.runtimes import load_runner

    rows = _rows(stream_run)
    for model in ("baseline", "compressed"):
        pair, window = rows[(model, "stream_onnx_fp32")], rows[(model, "onnx_fp32")]
        assert pair["status"] == "ok" and pair["parity_max_abs"] < 1e-4
        assert pair["accuracy"] == window["accuracy"] and pair["agreement_torch"] == 1.0
        assert set(pair["files"]) == {"features", "head"} and pair["stream_window"] == 5
    # the files themselves: the pair on a full window equals the window model, in onnxruntime
    exp = stream_run / "export"
    files = rows[("compressed", "stream_onnx_fp32")]["files"]
    pair = load_runner("onnxruntime", exp / files["features"], 1, None, head_path=exp / files["head"])
    window = load_runner("onnxruntime", exp / rows[("compressed", "onnx_fp32")]["file"], 1, None)
    x = np.load(stream_run / "train" / "test.npz")["x"][:2]
    for w in x:
        a, b = pair.run(w[None]), window.run(w[None])
        assert a.shape == (1, 5, 5) and np.abs(a - b).max() < 1e-4 and (a.argmax(-1) == b.argmax(-1)).all()


def test_reference_row_is_present_and_labelled_untrained(stream_run):
    rows = _rows(stream_run)
    ref = rows[("deepsleepnet", "onnx_fp32")]
    assert ref["status"] == "ok" and ref["untrained"] is True and "untrained reference" in ref["label"]
    assert ref["params"] == 24_744_837 and ref["seq_len"] == 5  # paper size, the run's window
    assert ref["accuracy"] is None and ref["macro_f1"] is None and ref["kappa"] is None
    assert ref["parity_max_abs"] < 1e-4 and ref["file_bytes"] > 90 * 2**20
    assert all(r["untrained"] is False for k, r in rows.items() if k[0] != "deepsleepnet")
    md = (stream_run / "export" / "formats.md").read_text()
    assert "| deepsleepnet (untrained reference) | onnx_fp32 | ok |" in md
    card = (stream_run / "export" / "deepsleepnet" / "MODEL_CARD.md").read_text()
    assert "untrained reference" in card and "None: untrained weights" in card


def test_rows_carry_subject_level_confidence_intervals(stream_run):
    r = _rows(stream_run)[("baseline", "onnx_fp32")]
    assert r["ci_groups"] == 3 and r["accuracy_ci"][0] <= r["accuracy"] <= r["accuracy_ci"][1]
    assert "subject-level bootstrap" in r["ci_method"]


@pytest.fixture(scope="module")
def benched(stream_run, tmp_path_factory):
    from sleepedge.firmware_bench import BenchSettings, run_bench

    run = shutil.copytree(stream_run, tmp_path_factory.mktemp("bench") / "run")
    settings = BenchSettings(min_time_s=0.02, min_runs=3, rounds=2, warmup=1, runtimes=["onnxruntime"], worker_timeout_s=120)
    rows = run_bench(run, settings)
    return run, {r["key"]: r for r in rows}


def test_bench_reference_row_and_yardstick_ratios(benched):
    run, rows = benched
    ref = rows["deepsleepnet/onnx_fp32/onnxruntime"]
    assert ref["status"] == "ok" and ref["untrained"] is True and ref["accuracy"] is None
    assert ref["speedup_vs_yardstick"] == 1.0
    comp = rows["compressed/onnx_fp32/onnxruntime"]
    assert comp["yardstick"] == "deepsleepnet/onnx_fp32/onnxruntime" and comp["speedup_vs_yardstick"] > 1
    assert comp["size_ratio_vs_yardstick"] == pytest.approx(ref["file_bytes"] / comp["file_bytes"])
    assert comp["speedup_vs_ref"] is not None  # against the run's baseline too, side by side
    md = (run / "bench" / "results.md").read_text()
    assert "## Against DeepSleepNet and against the baseline" in md
    assert "| deepsleepnet (untrained reference) | onnx_fp32 | onnxruntime |" in md
    assert "Goal (compressed int8 vs DeepSleepNet" not in md  # no int8 row in this run: no verdict


def test_bench_stream_rows_give_per_epoch_and_per_decision_cost(benched):
    _, rows = benched
    r = rows["compressed/stream_onnx_fp32/onnxruntime"]
    assert r["status"] == "ok" and r["kind"] == "stream"
    assert r["latency_ms_feature_p50"] > 0 and r["latency_ms_head_p50"] > 0
    assert r["latency_ms_per_epoch_p50"] == pytest.approx(r["latency_ms_feature_p50"] + r["latency_ms_head_p50"])
    assert r["latency_ms_p50"] == pytest.approx(5 * r["latency_ms_feature_p50"] + r["latency_ms_head_p50"])
    w = rows["compressed/onnx_fp32/onnxruntime"]
    assert r["accuracy"] == w["accuracy"] and r["agreement_ref"] is not None
    assert w["latency_ms_per_epoch_p50"] == pytest.approx(w["latency_ms_p50"] / 5)
    json.dumps(list(rows.values()))  # the rows are what results.json holds


def test_budget_gate_never_checks_the_untrained_reference(stream_run):
    from sleepedge.check.target import load_target, select_models

    t = load_target(stream_run)
    assert t.deployable == "compressed" and "deepsleepnet" not in select_models(t, ["all"])
    assert "deepsleepnet" not in load_target(stream_run / "export").models
