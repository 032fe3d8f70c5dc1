"""Bench rows record the provenance essentials of the measured model file (firmware_bench.rows)."""
from __future__ import annotations

from sleepedge.firmware_bench.provenance import essentials


def test_essentials_of_an_exported_file_and_of_an_old_one(stream_run, onnx_run_master, tmp_path):
    export = stream_run / "export"
    assert essentials(export / "compressed" / "onnx_fp32.onnx") == {"dataset": "synthetic", "synthetic": True,
                                                                    "untrained": False}
    assert essentials(export / "deepsleepnet" / "onnx_fp32.onnx")["untrained"] is True
    assert essentials(onnx_run_master / "export" / "compressed" / "model.onnx") is None  # exported before provenance
    assert essentials(stream_run / "train" / "model.pt") is None  # a PyTorch row: no exported file
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    assert essentials(tmp_path / "junk.onnx") is None  # logged; the bench measures (and fails) the file itself


def test_bench_rows_carry_the_file_provenance(stream_run, tmp_path):
    import shutil

    from fixtures.settings import fast_settings

    from sleepedge.firmware_bench import run_bench

    run = shutil.copytree(stream_run, tmp_path / "run")
    rows = {r["model"]: r for r in run_bench(run, fast_settings(runtimes=["onnxruntime"])) if r["format"] == "onnx_fp32"}
    assert rows["compressed"]["provenance"] == {"dataset": "synthetic", "synthetic": True, "untrained": False}
    assert rows["deepsleepnet"]["provenance"]["untrained"] is True
