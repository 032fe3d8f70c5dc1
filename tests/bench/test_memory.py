"""Memory figures: in-process RSS readings, and per-model worker subprocesses giving plausible numbers."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sleepedge.firmware_bench.client import WorkerClient
from sleepedge.firmware_bench.memory import current_rss_bytes, peak_rss_bytes

MIB = 1 << 20


def test_rss_tracks_an_allocation():
    before = current_rss_bytes()
    block = np.ones(64 * MIB // 8)  # 64 MiB, touched
    after = current_rss_bytes()
    assert after - before > 48 * MIB
    assert peak_rss_bytes() >= after
    del block


def _big_onnx(path: Path, seq_len: int) -> Path:
    """x (1, T, 1, 3000) @ W (3000, 4000): a 46 MiB weight."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((3000, 4000)).astype(np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])], "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq_len, 1, 3000])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, seq_len, 1, 4000])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime 1.23 reads (onnx 1.19 writes IR 12 by default)
    onnx.save(model, path)
    return path


def _worker_memory(model: Path, window: Path) -> dict:
    with WorkerClient(model.name, timeout_s=120) as c:
        load = c.request("load", runtime="onnxruntime", path=str(model), threads=1, xnnpack=None, window=str(window))
        c.request("time", warmup=1, min_time_s=0.0, min_runs=2)
        mem = c.request("memory")
    return {**load, **mem}


def test_worker_memory_is_plausible_and_per_process(onnx_run_master, tmp_path):
    window = tmp_path / "window.npy"
    np.save(window, np.zeros((1, 3, 1, 3000), np.float32))
    small = _worker_memory(onnx_run_master / "export" / "compressed" / "model.onnx", window)
    big = _worker_memory(_big_onnx(tmp_path / "big.onnx", 3), window)
    for m in (small, big):
        assert 10 * MIB < m["rss_before_load_bytes"] < m["peak_rss_bytes"] < 2048 * MIB
        assert m["peak_rss_bytes"] >= m["rss_after_load_bytes"] and m["peak_rss_bytes"] >= m["rss_bytes"]
    small_inc = small["peak_rss_bytes"] - small["rss_before_load_bytes"]
    big_inc = big["peak_rss_bytes"] - big["rss_before_load_bytes"]
    assert small_inc < 40 * MIB
    assert big_inc - small_inc > 40 * MIB, "the 46 MiB weight does not show in its own worker's RSS"
    assert small["pid"] != big["pid"]
