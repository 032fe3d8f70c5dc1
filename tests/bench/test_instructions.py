"""Instructions per epoch under valgrind's callgrind (sleepedge.firmware_bench.instructions): a cost that repeats
across runs and machine load, and fails closed with one line when valgrind or the model is not usable.

valgrind must be installed (``apt-get install valgrind``): the tests that run it fail, not skip, without it.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sleepedge.core.errors import ConfigError, DataError
from sleepedge.firmware_bench.instructions import (
    epochs_per_call, input_shape, instructions_per_epoch, read_totals,
)

TOLERANCE = 0.005  # the goal: instructions per epoch repeat within 0.5 %
KEYS = {"instructions_per_epoch", "instructions_per_call", "epochs_per_call", "calls", "instructions_total_n",
        "instructions_total_0", "tool"}


def require_valgrind() -> None:
    if shutil.which("valgrind") is None:
        pytest.fail("valgrind is not installed (apt-get install valgrind); the instruction counts need it")


def crafted_model(path: Path, shape: list[int]) -> Path:
    """A well-formed TFLite flatbuffer with input ``shape`` whose one operator names an operator code the file
    does not have: it reads as a model, and the interpreter refuses it (a damaged file)."""
    import flatbuffers

    from sleepedge.firmware_bench.tflite_file import schema

    s = schema()
    tensor = s.TensorT()
    tensor.shape, tensor.type, tensor.buffer, tensor.name = shape, s.TensorType.INT8, 0, "x"
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 7, [0], [0]
    graph = s.SubGraphT()
    graph.tensors, graph.inputs, graph.outputs, graph.operators = [tensor], [0], [0], [op]
    model = s.ModelT()
    model.version, model.subgraphs, model.buffers, model.operatorCodes = 3, [graph], [s.BufferT()], []
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
    return path


def relative_gap(a: dict, b: dict) -> float:
    return abs(a["instructions_per_epoch"] - b["instructions_per_epoch"]) / a["instructions_per_epoch"]


# --- fast: shapes, parsing, and the refusals that come before valgrind runs ----------------------------------------

@pytest.mark.parametrize("shape, epochs", [((1, 10, 1, 3000), 10), ((1, 1, 1, 3000), 1), ((1, 20, 1, 64), 20)])
def test_epochs_per_call_from_the_input_shape(shape, epochs):
    """A window (1, L, 1, S) and a streaming head (1, L, 1, F) cover L epochs; a feature model one."""
    assert epochs_per_call(shape) == epochs


@pytest.mark.parametrize("shape", [(3000,), (1, 3000), (2, 10, 1, 3000), (1, 0, 1, 3000)])
def test_an_input_that_is_no_sleepedge_model_is_refused(shape):
    with pytest.raises(DataError, match="not a sleepedge model input"):
        epochs_per_call(shape)


def test_read_totals_reads_the_callgrind_total_and_names_the_model_when_there_is_none(tmp_path):
    out = tmp_path / "callgrind.out"
    out.write_text("# callgrind format\nevents: Ir\nfn=(1) main\n3 10\nsummary: 4321\ntotals: 4321\n")
    assert read_totals(out, Path("m.tflite")) == 4321
    out.write_text("# callgrind format\nevents: Ir\n")
    with pytest.raises(DataError, match=r"m\.tflite: no 'totals:' line"):
        read_totals(out, Path("m.tflite"))
    with pytest.raises(DataError, match=r"m\.tflite: callgrind wrote no output file"):
        read_totals(tmp_path / "missing.out", Path("m.tflite"))


def test_missing_valgrind_names_the_package_to_install(tmp_path, monkeypatch):
    model = crafted_model(tmp_path / "m.tflite", [1, 3, 1, 3000])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no valgrind anywhere on PATH
    with pytest.raises(DataError, match="valgrind is not on PATH.*apt-get install valgrind"):
        instructions_per_epoch(model)


def test_a_foreign_file_is_refused_naming_it_before_valgrind_starts(tmp_path):
    require_valgrind()
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(DataError, match=r"junk\.tflite: not a TFLite model"):
        instructions_per_epoch(junk)
    with pytest.raises(DataError, match=r"gone\.tflite: cannot read it"):
        instructions_per_epoch(tmp_path / "gone.tflite")


def test_a_model_of_another_input_shape_is_refused_naming_it(tmp_path):
    require_valgrind()
    model = crafted_model(tmp_path / "flat.tflite", [1, 3000])
    assert input_shape(model) == [1, 3000]
    with pytest.raises(DataError, match=r"flat\.tflite: input shape \[1, 3000\] is not a sleepedge model input"):
        instructions_per_epoch(model)


def test_bad_settings_are_config_errors(tmp_path):
    require_valgrind()
    model = crafted_model(tmp_path / "m.tflite", [1, 3, 1, 3000])
    with pytest.raises(ConfigError, match="calls must be"):
        instructions_per_epoch(model, calls=0)
    with pytest.raises(ConfigError, match="runtime 'onnxruntime'"):
        instructions_per_epoch(model, runtime="onnxruntime")


def test_a_run_past_the_time_limit_names_the_file(tmp_path):
    require_valgrind()
    model = crafted_model(tmp_path / "slow.tflite", [1, 3, 1, 3000])
    with pytest.raises(DataError, match=r"slow\.tflite: counting instructions under valgrind ran past its time limit"):
        instructions_per_epoch(model, timeout_s=0.5)  # Python alone needs seconds to start under valgrind


# --- under valgrind -------------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.whole_machine  # two valgrind runs side by side (and a busy loop): after the background builds
def test_a_damaged_model_that_fails_in_the_interpreter_names_the_file(tmp_path):
    """The file reads as a flatbuffer but the interpreter refuses it: the child's failure is one line."""
    require_valgrind()
    model = crafted_model(tmp_path / "damaged.tflite", [1, 3, 1, 3000])
    with pytest.raises(DataError,
                       match=r"damaged\.tflite: the model did not run under valgrind \(exit status 1: .*opcode"):
        instructions_per_epoch(model)


@pytest.fixture(scope="module")
def int8_file(tflite_run_master) -> Path:
    """The tiny run's full-integer int8 TFLite model (a window of 3 epochs)."""
    return tflite_run_master / "export" / "compressed" / "model_int8.tflite"


@pytest.fixture(scope="module")
def first_count(int8_file) -> dict:
    require_valgrind()
    return instructions_per_epoch(int8_file, calls=3)


@pytest.mark.slow
@pytest.mark.whole_machine  # two valgrind runs side by side (and a busy loop): after the background builds
def test_the_count_has_its_fields(int8_file, first_count):
    assert set(first_count) == KEYS
    assert first_count["epochs_per_call"] == input_shape(int8_file)[1] == 3
    assert first_count["calls"] == 3 and first_count["tool"].startswith("valgrind-")
    assert first_count["instructions_total_n"] > first_count["instructions_total_0"] > 0
    per_call = (first_count["instructions_total_n"] - first_count["instructions_total_0"]) / 3
    assert first_count["instructions_per_call"] == pytest.approx(per_call)
    assert first_count["instructions_per_epoch"] == pytest.approx(per_call / 3)


@pytest.mark.slow
@pytest.mark.whole_machine  # two valgrind runs side by side (and a busy loop): after the background builds
def test_a_second_run_under_load_repeats_within_half_a_percent_and_tflite_micro_is_counted(int8_file, first_count):
    """The second run of the same file shares the 2 cores with a busy loop and with a TFLite Micro count of
    the same file (the load, and the TFLM measurement, at once). TFLite Micro runs reference kernels: it
    executes more instructions than TFLite's optimised ones (35x on the tiny DeepSleepNet)."""
    from concurrent.futures import ThreadPoolExecutor

    have_tflm = importlib.util.find_spec("tflite_micro") is not None
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        with ThreadPoolExecutor(2) as pool:
            tflm = pool.submit(instructions_per_epoch, int8_file, runtime="tflm", calls=2) if have_tflm else None
            loaded = instructions_per_epoch(int8_file, calls=3)
            tflm = tflm.result() if tflm else None
    finally:
        busy.kill()
        busy.wait()
    assert relative_gap(first_count, loaded) <= TOLERANCE, (first_count, loaded)
    if tflm is None:
        pytest.skip("tflite-micro is not installed: the TFLite Micro count was not taken")
    assert set(tflm) == KEYS and tflm["epochs_per_call"] == 3
    assert tflm["instructions_per_epoch"] > first_count["instructions_per_epoch"]
