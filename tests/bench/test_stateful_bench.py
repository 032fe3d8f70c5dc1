"""The stateful pair in the bench: one feature call + one step call per epoch, both parts timed, test nights
streamed with the state carried; and :class:`StatefulRunner` against PyTorch's causal model."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stateful_fixture import make_causal, night_with_gap, write_export, write_pair  # noqa: E402


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return write_pair(tmp_path_factory.mktemp("pair"))


def test_stateful_runner_on_onnx_equals_pytorch_over_a_night_with_a_gap(pair):
    from sleepedge.firmware_bench.stateful import load_stateful
    from sleepedge.models.causal import night_features, night_logits

    f, s, model = pair
    runner = load_stateful("onnxruntime", f, s)
    x, starts = night_with_gap()
    assert starts.tolist() == [0, 5, 8] and runner.lookahead == 1
    want = night_logits(model, night_features(model, x), starts)
    np.testing.assert_allclose(runner.night(x, starts), want, atol=1e-4)
    runner.reset()  # epoch() carries the state: its step outputs, shifted by the look-ahead, are the decisions
    steps = np.stack([runner.epoch(e) for e in x[:5]])
    np.testing.assert_allclose(steps[1:5], want[0:4], atol=1e-4)


def test_step_roles_come_from_the_provenance_when_names_differ(tmp_path):
    """Without the contract's names, the file's provenance step_io says which tensor is which."""
    import onnx

    from sleepedge.firmware_bench.stateful import load_stateful

    f, s, model = write_pair(tmp_path / "p")
    m = onnx.load(str(s))
    rename = {"h": "state_a", "c": "state_b", "h_out": "out_a", "c_out": "out_b"}
    for node in m.graph.node:
        node.input[:] = [rename.get(n, n) for n in node.input]
        node.output[:] = [rename.get(n, n) for n in node.output]
    for v in list(m.graph.input) + list(m.graph.output):
        v.name = rename.get(v.name, v.name)
    onnx.save(m, str(s))
    x, starts = night_with_gap(8, (3, 4))
    from sleepedge.models.causal import night_features, night_logits

    got = load_stateful("onnxruntime", f, s).night(x, starts)
    np.testing.assert_allclose(got, night_logits(model, night_features(model, x), starts), atol=1e-4)


def _run_folder(root: Path) -> Path:
    from sleepedge.run.manifest import write_manifest

    run = root / "run"
    write_export(run / "export")
    rng = np.random.default_rng(0)
    (run / "train").mkdir(parents=True)
    x = (20 * rng.standard_normal((3, 4, 1, 3000))).astype(np.float32)
    np.savez(run / "train" / "test.npz", x=x, y=rng.integers(0, 5, (3, 4)), record=np.array(["a", "a", "b"]))
    write_manifest(run / "train", "train", outputs={"test": run / "train" / "test.npz"})
    return run


def test_bench_row_times_both_parts_per_epoch_and_streams_test_nights(tmp_path):
    from sleepedge.firmware_bench import BenchSettings, run_bench
    from sleepedge.firmware_bench.report import results_markdown
    from sleepedge.models.causal import night_features, night_logits

    run = _run_folder(tmp_path)
    settings = BenchSettings(min_time_s=0.0, min_runs=2, rounds=1, warmup=0, runtimes=["onnxruntime"],
                             reference="causal/stateful_onnx_fp32/onnxruntime", yardstick="")
    (row,) = run_bench(run, settings)
    assert row["status"] == "ok", row["reason"]
    assert row["kind"] == "stateful" and row["lookahead"] == 1 and row["state_bytes"] == 2 * 2 * 16 * 4
    assert row["latency_ms_feature_p50"] > 0 and row["latency_ms_step_p50"] > 0
    assert row["latency_ms_per_epoch_p50"] == pytest.approx(row["latency_ms_feature_p50"] + row["latency_ms_step_p50"])
    assert row["latency_ms_p50"] == row["latency_ms_per_epoch_p50"] and row["speedup_vs_ref"] == pytest.approx(1.0)
    files = [run / "export" / p for p in row["files"].values()]
    assert row["file_bytes"] == sum(p.stat().st_size for p in files)
    # accuracy over the test nights streamed statefully: night "a" is sequences 0-1 as one recording
    logits = np.load(run / "bench" / "predictions.npz")["causal__stateful_onnx_fp32__onnxruntime"]
    with np.load(run / "train" / "test.npz") as d:
        x = d["x"]
    model = make_causal()
    night_a = night_logits(model, night_features(model, x[:2].reshape(8, 3000)))
    np.testing.assert_allclose(logits[:2].reshape(8, -1), night_a, atol=1e-4)
    assert "step ms" in results_markdown([row], settings.to_dict(), "t")


def test_stateful_goal_line_prints_the_measured_figures():
    from sleepedge.firmware_bench.report import stateful_goal_lines

    row = {"key": "causal/stateful_tflite_int8/ai-edge-litert/no-xnnpack", "kind": "stateful", "status": "ok",
           "format": "stateful_tflite_int8", "yardstick": "deepsleepnet/onnx_fp32/onnxruntime", "lookahead": 1,
           "lag_s": 30, "latency_ms_per_epoch_p50": 0.4, "latency_ms_feature_p50": 0.3, "latency_ms_step_p50": 0.1,
           "speedup_vs_yardstick": 41.5, "size_ratio_vs_yardstick": 250.0, "tflm_arena_bytes": 40 * 1024}
    text = "\n".join(stateful_goal_lines([row]))
    assert "speed 41.5x met" in text and "size 250.0x MISSED" in text and "arenas 40.0 KiB MISSED" in text
