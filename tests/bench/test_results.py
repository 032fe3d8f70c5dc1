"""A bench run on a tiny ONNX + PyTorch run folder: results.json schema, CSV, markdown, manifest, parity."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from fixtures.settings import fast_settings

from sleepedge.firmware_bench import prediction_key, run_bench
from sleepedge.run.manifest import StageExistsError, read_manifest

# docs/architecture.md "Bench rows"
ROW_KEYS = ("model", "format", "runtime", "precision", "threads", "xnnpack", "file_bytes", "params", "load_ms",
            "first_inference_ms", "latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "latency_ms_mean",
            "latency_ms_std", "latency_ms_per_epoch_p50", "epochs_per_s", "peak_rss_bytes", "rss_increase_bytes",
            "tflm_arena_bytes", "accuracy", "macro_f1", "agreement_ref", "status", "reason", "device", "emulated")
DEVICE_KEYS = ("cpu", "cores", "machine", "os", "python", "emulated", "runtimes")


@pytest.fixture(scope="module")
def bench_run(onnx_run_master, tmp_path_factory):
    import shutil

    run = shutil.copytree(onnx_run_master, tmp_path_factory.mktemp("bench") / "run")
    rows = run_bench(run, fast_settings(runtimes=["onnxruntime", "torch"]))
    return run, rows


def test_results_json_schema(bench_run):
    run, rows = bench_run
    stored = json.loads((run / "bench" / "results.json").read_text())
    assert stored == json.loads(json.dumps(rows))
    assert [(r["model"], r["format"], r["runtime"]) for r in rows] == [
        ("baseline", "onnx_fp32", "onnxruntime"), ("compressed", "onnx_fp32", "onnxruntime"),
        ("baseline", "torch_fp32", "torch"), ("compressed", "torch_fp32", "torch")]
    for r in rows:
        assert set(ROW_KEYS) <= set(r), set(ROW_KEYS) - set(r)
        assert set(DEVICE_KEYS) <= set(r["device"])
        assert r["status"] == "ok", r["reason"]
        assert r["threads"] == 1 and r["precision"] == "fp32" and r["emulated"] is False
        assert 0 < r["latency_ms_p50"] <= r["latency_ms_p90"] <= r["latency_ms_p99"]
        assert r["latency_ms_per_epoch_p50"] == pytest.approx(r["latency_ms_p50"] / 3)
        assert r["timed_runs"] >= 2 * 3 and len(r["round_p50_ms"]) == 2
        assert r["file_bytes"] > 0 and r["params"] > 0 and r["peak_rss_bytes"] > r["rss_increase_bytes"] > 0
        assert 0 <= r["accuracy"] <= 1 and 0 <= r["macro_f1"] <= 1 and r["test_epochs"] == 4 * 3
    assert rows[0]["device"]["runtimes"]["onnxruntime"]


def test_torch_reference_agrees_with_onnx(bench_run):
    """Same weights, two runtimes: identical stages, logits within ONNX export parity."""
    run, rows = bench_run
    by_key = {r["key"]: r for r in rows}
    assert by_key["baseline/torch_fp32/torch"]["agreement_ref"] == 1.0
    assert by_key["baseline/torch_fp32/torch"]["accuracy"] == by_key["baseline/onnx_fp32/onnxruntime"]["accuracy"]
    with np.load(run / "bench" / "predictions.npz") as p:
        a = p[prediction_key("compressed/onnx_fp32/onnxruntime")]
        b = p[prediction_key("compressed/torch_fp32/torch")]
    assert a.shape == (4, 3, 5)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_csv_markdown_plot_and_manifest(bench_run):
    run, rows = bench_run
    with open(run / "bench" / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows) and {"latency_ms_p50", "device.cpu", "epochs_per_s"} <= set(table[0])
    md = (run / "bench" / "results.md").read_text()
    assert "`baseline/onnx_fp32/onnxruntime`" in md and "| speedup x (rounds) |" in md
    assert md.count("\n| baseline |") + md.count("\n| compressed |") == len(rows)
    assert (run / "bench" / "latency_vs_size.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = read_manifest(run / "bench")
    assert m["parent"]["stage"] == "export"
    assert {"results_json", "results_csv", "results_md", "predictions", "plot"} <= set(m["outputs"])
    assert m["config"]["bench"]["reference"] == "baseline/onnx_fp32/onnxruntime"


def test_finished_bench_is_not_overwritten(bench_run):
    run, _ = bench_run
    with pytest.raises(StageExistsError):
        run_bench(run, fast_settings())


def test_failed_export_row_and_missing_runtime_are_reported(onnx_run):
    manifest = json.loads((onnx_run / "export" / "manifest.json").read_text())
    manifest["metrics"]["rows"].append({"model": "compressed", "format": "tflite_int8", "status": "failed",
                                        "reason": "calibrator crashed", "file": None})
    (onnx_run / "export" / "manifest.json").write_text(json.dumps(manifest))
    rows = run_bench(onnx_run, fast_settings(runtimes=["onnxruntime", "tflite"], rounds=1))
    bad = [r for r in rows if r["format"] == "tflite_int8"]
    assert bad and all(r["status"] == "skipped" and "calibrator crashed" in r["reason"] for r in bad)
    assert all(r["latency_ms_p50"] is None for r in bad)
    assert "calibrator crashed" in (onnx_run / "bench" / "results.md").read_text()


def test_broken_model_file_becomes_a_failed_row(onnx_run):
    """A model that does not load is a failed row with the runtime's reason, not a crash."""
    from sleepedge.run.manifest import write_manifest

    export = onnx_run / "export"
    manifest = json.loads((export / "manifest.json").read_text())
    (export / "compressed" / "model.onnx").write_bytes(b"not an onnx model")
    write_manifest(export, "export", outputs={k: export / v["path"] for k, v in manifest["outputs"].items()},
                   metrics=manifest["metrics"])
    rows = run_bench(onnx_run, fast_settings(rounds=1))
    by_key = {r["key"]: r for r in rows}
    broken = by_key["compressed/onnx_fp32/onnxruntime"]
    assert broken["status"] == "failed" and "load" in broken["reason"]
    assert by_key["baseline/onnx_fp32/onnxruntime"]["status"] == "ok"


def test_pipeline_stage_entry_uses_the_config(onnx_run):
    from sleepedge.config.settings import load_config
    from sleepedge.firmware_bench import run_bench_stage

    cfg = load_config("tiny", ["bench.runtimes=onnxruntime", "bench.rounds=1", "bench.min_time_s=0",
                               "bench.reference=compressed/onnx_fp32/onnxruntime"])
    out = run_bench_stage(onnx_run, cfg)
    rows = json.loads((out / "results.json").read_text())
    assert {r["runtime"] for r in rows} == {"onnxruntime"} and all(len(r["round_p50_ms"]) == 1 for r in rows)
    assert next(r for r in rows if r["model"] == "compressed")["speedup_vs_ref"] == 1.0
