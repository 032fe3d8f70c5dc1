"""A converter that crashes becomes a failed row with its reason; the rest of the export goes on."""
from __future__ import annotations

import signal
import sys

import pytest

from sleepedge.core.errors import DataError
from sleepedge.export import tflite_convert
from sleepedge.export.checkpoint_export import export_checkpoint
from sleepedge.export.subprocess_run import describe_returncode, run_child

from fixtures.settings import export_cfg

SEGFAULT = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]


def test_describe_returncode():
    assert describe_returncode(-signal.SIGSEGV) == "killed by signal SIGSEGV"
    assert describe_returncode(3) == "exit status 3"


def test_run_child_reports_segfault_and_timeout(tmp_path):
    res = run_child(SEGFAULT, tmp_path, 60, "probe")
    assert not res.ok and res.reason == "probe killed by signal SIGSEGV"
    res = run_child([sys.executable, "-c", "import time; time.sleep(30)"], tmp_path, 1, "probe")
    assert not res.ok and "timed out" in res.reason


def _export_with_crashing(command, monkeypatch, out, checkpoint, sequences, formats: list[str]) -> dict[str, dict]:
    """Export ``formats`` with ``command`` (a ``(module, name)`` of a child's command builder) segfaulting."""
    monkeypatch.setattr(*command, lambda *a, **k: SEGFAULT)
    calib_x, test_x, test_y = sequences
    rows = export_checkpoint(checkpoint, out, calib_x, test_x, test_y, export_cfg(formats), "baseline")
    return {r["format"]: r for r in rows}


def test_crashing_conversion_becomes_failed_rows(tmp_path, monkeypatch, tiny_checkpoint, sequences):
    rows = _export_with_crashing((tflite_convert, "onnx2tf_command"), monkeypatch, tmp_path, tiny_checkpoint, sequences,
                                 ["onnx_fp32", "tflite_fp32_onnx2tf", "tflite_int8_onnx2tf"])
    assert rows["onnx_fp32"]["status"] == "ok"
    for name in ("tflite_fp32_onnx2tf", "tflite_int8_onnx2tf"):
        assert rows[name]["status"] == "failed"
        assert "SIGSEGV" in rows[name]["reason"] and rows[name]["file"] is None
    assert rows["tflite_fp32_onnx2tf"]["convert_job"] == "onnx2tf_fp32"
    assert not (tmp_path / "baseline" / ".work").exists()
    assert (tmp_path / "baseline" / "onnx2tf_fp32.log").is_file()  # the failed conversion's output is kept


def test_crashing_keras_conversion_becomes_failed_rows(tmp_path, monkeypatch, tiny_checkpoint, sequences):
    from sleepedge.export import keras_convert

    keras_rows = ["tflite_fp32", "tflite_int8", "tflite_int8_unrolled"]
    rows = _export_with_crashing((keras_convert, "keras_command"), monkeypatch, tmp_path, tiny_checkpoint, sequences,
                                 ["onnx_fp32", *keras_rows])
    assert rows["onnx_fp32"]["status"] == "ok"
    for name in keras_rows:
        assert rows[name]["status"] == "failed" and "SIGSEGV" in rows[name]["reason"] and rows[name]["file"] is None
    assert (tmp_path / "baseline" / "keras_window_unrolled.log").is_file()  # each failed child's output is kept


@pytest.mark.tensorflow  # the fp32 onnx2tf conversion runs for real
@pytest.mark.integration
def test_crashing_quantisation_costs_only_the_integer_rows(tmp_path, monkeypatch, tiny_checkpoint, sequences):
    from sleepedge.export import int8_convert

    rows = _export_with_crashing((int8_convert, "int8_command"), monkeypatch, tmp_path, tiny_checkpoint, sequences,
                                 ["onnx_fp32", "tflite_fp32_onnx2tf", "tflite_int8_onnx2tf"])
    assert rows["onnx_fp32"]["status"] == rows["tflite_fp32_onnx2tf"]["status"] == "ok"
    assert rows["tflite_int8_onnx2tf"]["status"] == "failed" and "SIGSEGV" in rows["tflite_int8_onnx2tf"]["reason"]
    assert (tmp_path / "baseline" / "int8_convert.log").is_file()


def test_mismatched_calibration_is_a_data_error(tmp_path, tiny_checkpoint, sequences):
    calib_x, test_x, test_y = sequences
    with pytest.raises(DataError, match="epochs"):
        export_checkpoint(tiny_checkpoint, tmp_path, calib_x[:, :3], test_x, test_y, export_cfg(["onnx_fp32"]), "m")
    with pytest.raises(DataError, match="labels"):
        export_checkpoint(tiny_checkpoint, tmp_path, calib_x, test_x, test_y[:, :2], export_cfg(["onnx_fp32"]), "m")


def test_int8_child_gets_absolute_paths(tmp_path, monkeypatch):
    """The quantising child runs inside its output folder: a relative path (``--out runs/x``) would point nowhere."""
    from pathlib import Path

    from sleepedge.export.int8_convert import int8_command

    monkeypatch.chdir(tmp_path)
    cmd = int8_command(Path("w/saved"), Path("w/calib.npy"), Path("w"), ["full_integer_quant"], 2)
    for flag in ("--saved-model", "--calib", "--out-dir"):
        value = Path(cmd[cmd.index(flag) + 1])
        assert value.is_absolute() and value.is_relative_to(tmp_path), (flag, value)
