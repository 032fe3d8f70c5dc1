"""check_budget on fixture run folders: pass, fail, fail closed, model selection, target kinds."""
import json

import pytest
from fixtures.check_runs import PI, bench_row, default_bench_rows, default_export_rows, export_row, make_run, tflite_bytes, \
    write_export

from sleepedge.check import check_budget, load_target, record_check_stage
from sleepedge.core.errors import BudgetError, DataError
from sleepedge.run.manifest import ManifestError, read_manifest


def _budget(tmp_path, text):
    p = tmp_path / "budget.toml"
    p.write_text(text)
    return p


def _row(result, limit, model="compressed"):
    (row,) = [r for r in result.rows if r.limit == limit and r.model == model]
    return row


def test_under_budget_passes(tmp_path, run_dir):
    b = _budget(tmp_path, 'extends = "nrf52840"\nmax_params = 250000\nmin_macro_f1 = 0.70\nmin_kappa = 0.65\n'
                          'max_int8_disagreement = 0.05\nmax_latency_ms_p50 = 10\nlatency_device = "x86_64"\n')
    r = check_budget(b, run_dir)
    assert r.models == ["compressed"] and r.passed and r.exit_code == 0
    assert [x.limit for x in r.rows] == ["max_tflite_bytes", "max_params", "max_arena_bytes", "max_latency_ms_p50",
                                         "min_macro_f1", "min_kappa", "max_int8_disagreement"]
    size = _row(r, "max_tflite_bytes")
    assert size.measured == 300_000 and size.headroom_pct == pytest.approx(100 * (1 - 300_000 / 2**20))
    assert _row(r, "max_int8_disagreement").measured == pytest.approx(0.03)
    assert _row(r, "max_latency_ms_p50").measured == 8.0


def test_over_budget_fails_and_names_the_limit(tmp_path, run_dir):
    r = check_budget(_budget(tmp_path, "max_params = 200000\nmax_tflite_bytes = 1000000\n"), run_dir)
    assert r.exit_code == 1 and [x.limit for x in r.failed] == ["max_params"]
    assert _row(r, "max_params").headroom_pct == pytest.approx(-20.0)


def test_accuracy_drop_against_the_baseline(tmp_path, run_dir):
    r = check_budget(_budget(tmp_path, "max_accuracy_drop_points = 1.5\nmax_macro_f1_drop_points = 2.5\n"), run_dir)
    assert _row(r, "max_accuracy_drop_points").measured == pytest.approx(2.0)  # 0.80 -> 0.78, int8 vs int8
    assert _row(r, "max_accuracy_drop_points").status == "FAIL"
    assert _row(r, "max_macro_f1_drop_points").status == "PASS"
    r = check_budget(_budget(tmp_path, 'max_accuracy_drop_points = 2.5\nbaseline_format = "onnx_fp32"\n'), run_dir)
    assert _row(r, "max_accuracy_drop_points").measured == pytest.approx(3.0)  # fp32 baseline 0.81


def test_missing_metrics_fail_closed_with_the_stage_to_run(tmp_path):
    run = make_run(tmp_path, bench_rows=None)
    b = _budget(tmp_path, 'max_tflite_bytes = 2000000\nmax_latency_ms_p50 = 50\nlatency_device = "x86_64"\n'
                          "max_rss_bytes = 1000000000\n")
    r = check_budget(b, run)
    assert r.exit_code == 1
    lat = _row(r, "max_latency_ms_p50")
    assert lat.measured is None and lat.status == "FAIL" and "run `sleepedge bench`" in lat.detail
    assert _row(r, "max_tflite_bytes").passed


def test_failed_export_row_and_missing_arena_fail_closed(tmp_path):
    rows = default_export_rows()
    rows[-1] = export_row("compressed", "tflite_int8", status="failed", reason="calibrator crashed", file_bytes=None)
    rows[2] = export_row("baseline", "tflite_int8", tflm_arena_bytes=None, tflm_status="failed: arena too small")
    run = make_run(tmp_path, export_rows=rows)
    r = check_budget(_budget(tmp_path, "max_tflite_bytes = 2000000\nmax_arena_bytes = 500000\n"), run, models=["all"])
    assert "export of compressed/tflite_int8 failed: calibrator crashed" in _row(r, "max_tflite_bytes").detail
    arena = _row(r, "max_arena_bytes", "baseline")
    assert arena.status == "FAIL" and "tflm_status: failed: arena too small" in arena.detail
    assert "export.tflm = true" in arena.detail


def test_no_export_stage_at_all(tmp_path):
    run = make_run(tmp_path, export_rows=None, bench_rows=None)
    r = check_budget(_budget(tmp_path, "max_params = 5\n"), run)
    assert r.models == ["compressed"]  # the compress stage ran, so the deployable model is the compressed one
    assert "no finished export stage; run `sleepedge export`" in r.rows[0].detail


def test_bench_rows_are_chosen_by_device_runtime_and_emulation(tmp_path):
    emulated_pi = dict(PI, emulated=True)
    bench = default_bench_rows() + [bench_row("compressed", "tflite_int8", emulated_pi, latency_ms_p50=900.0)]
    run = make_run(tmp_path, bench_rows=bench)
    r = check_budget(_budget(tmp_path, 'max_latency_ms_p50 = 500\nlatency_device = "aarch64"\n'), run)
    assert "only under emulation" in r.rows[0].detail and r.rows[0].status == "FAIL"
    r = check_budget(_budget(tmp_path, 'max_latency_ms_p50 = 500\nlatency_device = "aarch64"\nallow_emulated = true\n'), run)
    assert r.rows[0].measured == 900.0
    bench.append(bench_row("compressed", "tflite_int8", PI, latency_ms_p50=120.0))
    run = make_run(tmp_path / "b", bench_rows=bench)
    r = check_budget(_budget(tmp_path, 'max_latency_ms_p50 = 500\nlatency_device = "BCM2835"\n'), run)
    assert r.rows[0].measured == 120.0 and r.passed
    r = check_budget(_budget(tmp_path, 'max_latency_ms_p50 = 500\nlatency_device = "x86_64"\nlatency_threads = 4\n'), run)
    assert "no bench row for compressed tflite int8, 4 thread(s)" in r.rows[0].detail


def test_model_selection(tmp_path, run_dir):
    b = _budget(tmp_path, "max_params = 800000\n")
    assert check_budget(b, run_dir, models=["all"]).models == ["baseline", "compressed"]
    assert check_budget(b, run_dir, models=["baseline"]).models == ["baseline"]
    with pytest.raises(DataError, match="no model named 'tiny'"):
        check_budget(b, run_dir, models=["tiny"])
    baseline_only = make_run(tmp_path / "b", export_rows=default_export_rows(("baseline",)),
                             bench_rows=default_bench_rows(("baseline",)), compress=False)
    assert check_budget(b, baseline_only).models == ["baseline"]


def test_target_tables_make_rows_per_target(tmp_path, run_dir):
    b = _budget(tmp_path, 'max_params = 250000\n[target.watch]\nextends = "nrf52840"\n'
                          '[target.pi]\nextends = "rpi4"\n')
    r = check_budget(b, run_dir)
    assert r.targets == ["watch", "pi"]
    pi_latency = [x for x in r.rows if x.target == "pi" and x.limit == "max_latency_ms_p50"][0]
    assert pi_latency.status == "FAIL" and "measured only on x86_64" in pi_latency.detail
    assert check_budget(b, run_dir, targets=["watch"]).passed
    with pytest.raises(BudgetError, match=r"no \[target.wach\] table \(did you mean 'watch'"):
        check_budget(b, run_dir, targets=["wach"])


def test_export_folder_target(tmp_path, run_dir):
    r = check_budget(_budget(tmp_path, "max_tflite_bytes = 500000\n"), run_dir / "export")
    assert r.target_kind == "export" and r.models == ["compressed"] and r.passed


def test_single_tflite_file_size_only(tmp_path):
    f = tmp_path / "model.tflite"
    f.write_bytes(tflite_bytes(5000))
    b = _budget(tmp_path, "max_tflite_bytes = 4096\nmin_macro_f1 = 0.5\n")
    r = check_budget(b, f)
    assert r.models == ["model"] and r.rows[0].measured == 5000 and r.rows[0].status == "FAIL"
    assert r.rows[1].measured is None and "carries only its size" in r.rows[1].detail
    f.write_bytes(tflite_bytes(4000))
    assert check_budget(_budget(tmp_path, "max_tflite_bytes = 4096\n"), f).passed


def test_bad_targets(tmp_path, run_dir):
    bad = tmp_path / "notes.tflite"
    bad.write_bytes(b"hello world, not a flatbuffer")
    with pytest.raises(DataError, match="not a TFLite model"):
        load_target(bad)
    with pytest.raises(FileNotFoundError):
        load_target(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not a run folder"):
        load_target(tmp_path / "empty")
    (run_dir / "export" / "compressed" / "tflite_int8.tflite").write_bytes(tflite_bytes(2000))
    with pytest.raises(ManifestError, match="does not match its sha256"):
        load_target(run_dir)


def test_record_check_stage(tmp_path, run_dir):
    b = _budget(tmp_path, "max_params = 200000\n")
    result = record_check_stage(run_dir, b)
    assert result.verdict == "FAIL"
    m = read_manifest(run_dir / "check")
    assert m["stage"] == "check" and m["parent"]["stage"] == "bench"
    assert m["metrics"]["failed"] == ["compressed:max_params"] and m["metrics"]["verdict"] == "FAIL"
    saved = json.loads((run_dir / "check" / "check.json").read_text())
    assert saved["verdict"] == "FAIL" and saved["rows"][0]["limit"] == "max_params"
    with pytest.raises(FileExistsError):
        record_check_stage(run_dir, b)
    assert record_check_stage(run_dir, "nrf52840", overwrite=True).passed


def test_record_check_stage_parent_is_export_without_bench(tmp_path):
    run = make_run(tmp_path, bench_rows=None)
    record_check_stage(run, "nrf52840")
    assert read_manifest(run / "check")["parent"]["stage"] == "export"


def test_export_fixture_follows_the_manifest_format(tmp_path):
    d = write_export(tmp_path / "export", [export_row("baseline", "tflite_int8")])
    assert read_manifest(d)["outputs"]["baseline/tflite_int8"]["bytes"] == 800_000
