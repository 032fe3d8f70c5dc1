"""``--history`` / ``--plot-history``, the instruction count (a fake of the bench's callgrind measurement), the
per-layer pieces (layer names, costs from the architecture, TFLM allocation classes) and the lab tool of the
docs' comment."""
import builtins
import json
import sys
import types

import pytest
from fixtures.check_runs import make_run

import sleepedge.commands.cli
from sleepedge.check import check_budget
from sleepedge.check.arena import parse_allocations
from sleepedge.check.history import plot_history, read_history
from sleepedge.check.instructions import MODULE, clear_cache
from sleepedge.check.layers import keras_layer, layer_costs
from sleepedge.core.errors import DataError
from sleepedge.models import count_params, get_arch, macs_per_epoch


@pytest.fixture(autouse=True)
def only_check(monkeypatch):
    monkeypatch.setattr(sleepedge.commands.cli, "SUBCOMMANDS", {"check": "sleepedge.commands.check"})
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("GITHUB_SHA", "abc1234def")


def _main(*args):
    return sleepedge.commands.cli.main(["check", *map(str, args)])


def _budget(tmp_path, text):
    p = tmp_path / "budget.toml"
    p.write_text(text)
    return p


def test_history_appends_one_line_per_run_and_plots(tmp_path, run_dir):
    hist, png = tmp_path / "h.jsonl", tmp_path / "h.png"
    b = _budget(tmp_path, "max_params = 250000\nmax_tflite_bytes = 400000\n")
    assert _main("--budget", b, "--history", hist, run_dir) == 0
    assert _main("--budget", _budget(tmp_path, "max_params = 200000\n"), "--history", hist, run_dir) == 1
    recs = read_history(hist)
    assert [r["verdict"] for r in recs] == ["PASS", "FAIL"] and recs[0]["commit"] == "abc1234def"
    assert recs[0]["metrics"]["compressed"]["params"] == 240_000
    assert {"model": "compressed", "target": None, "limit": "max_params", "value": 250000, "status": "PASS"} in recs[0]["limits"]
    assert _main("--plot-history", hist, png) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _main("--plot-history", hist, png) == 2  # never silently overwritten
    assert _main("--plot-history", hist, png, "--overwrite") == 0


def test_plot_history_without_matplotlib_names_the_extra(tmp_path, run_dir, monkeypatch):
    hist = tmp_path / "h.jsonl"
    assert _main("--budget", _budget(tmp_path, "max_params = 250000\n"), "--history", hist, run_dir) == 0
    real = builtins.__import__

    def no_mpl(name, *a, **kw):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *a, **kw)
    monkeypatch.setattr(builtins, "__import__", no_mpl)
    with pytest.raises(DataError, match=r'needs matplotlib.*\[bench\] extra does not install.*sleepedge\[predict\]'):
        plot_history(hist, tmp_path / "x.png")


def test_bad_history_files_are_one_line_errors(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"schema": "sleepedge.check.history/1", "metrics": {}}\nnot json\n')
    assert _main("--plot-history", bad, tmp_path / "o.png") == 2
    assert f"{bad}:2: not a JSON line" in capsys.readouterr().err
    assert _main("--plot-history", tmp_path / "none.jsonl", tmp_path / "o.png") == 2


@pytest.fixture
def fake_callgrind(monkeypatch):
    """The bench's ``instructions_per_epoch`` (another module's work) replaced by a fake with its signature."""
    calls = []

    def instructions_per_epoch(path, runtime="tflite", calls_=3, **kw):
        calls.append(path)
        if fake.error:
            raise DataError(fake.error)
        return {"instructions_per_epoch": fake.value, "instructions_per_call": fake.value * 10,
                "epochs_per_call": 10, "calls": 3}
    fake = types.ModuleType(MODULE)
    fake.instructions_per_epoch, fake.value, fake.error, fake.calls = instructions_per_epoch, 2.5e6, None, calls
    monkeypatch.setitem(sys.modules, MODULE, fake)
    clear_cache()
    yield fake
    clear_cache()


def test_instructions_are_measured_only_when_a_limit_or_the_flag_asks(tmp_path, run_dir, fake_callgrind):
    result = check_budget(_budget(tmp_path, "max_params = 250000\n"), run_dir, details=True)
    assert fake_callgrind.calls == [] and result.metrics["compressed"]["instructions_per_epoch"]["value"] is None
    result = check_budget(_budget(tmp_path, "max_params = 250000\n"), run_dir, details=True, instructions=True)
    assert result.metrics["compressed"]["instructions_per_epoch"]["value"] == 2.5e6
    assert fake_callgrind.calls[0].name == "tflite_int8.tflite"
    ok = check_budget(_budget(tmp_path, "max_instructions_per_epoch = 3000000\n"), run_dir)
    over = check_budget(_budget(tmp_path, "max_instructions_per_epoch = 2000000\n"), run_dir)
    assert ok.rows[0].status == "PASS" and over.rows[0].status == "FAIL" and over.rows[0].measured == 2.5e6
    assert len(fake_callgrind.calls) == 1  # once per file content


def test_instructions_fail_closed_when_they_cannot_be_measured(tmp_path, run_dir, fake_callgrind, capsys):
    fake_callgrind.error = "counting instructions needs valgrind: apt-get install valgrind"
    assert _main("--budget", _budget(tmp_path, "max_instructions_per_epoch = 3000000\n"), run_dir) == 1
    assert "apt-get install valgrind" in capsys.readouterr().out
    fp32 = check_budget(_budget(tmp_path, 'format = "tflite_fp32"\nmax_instructions_per_epoch = 1\n'), run_dir)
    assert fp32.rows[0].status == "FAIL" and "int8 TFLite files only" in fp32.rows[0].detail


def test_instruction_growth_against_a_base(tmp_path, run_dir, fake_callgrind):
    base = make_run(tmp_path / "b")
    b = _budget(tmp_path, "[growth.instructions_per_epoch]\nmax_growth_percent = 10\n")
    same = check_budget(b, run_dir, against=base)
    assert [r.status for r in same.rows] == ["PASS"] and same.rows[0].measured == 0.0


def test_layer_costs_add_up_to_the_model_totals():
    for name in ("tiny", "quick", "paper"):
        arch = get_arch(name)
        costs = layer_costs(arch)
        assert sum(c["macs"] for c in costs.values()) == macs_per_epoch(arch)
        assert sum(c["params"] for c in costs.values()) == count_params(arch)
        assert "small.blocks.1.conv" in costs and "lstm" in costs and "head" in costs


@pytest.mark.parametrize("name, layer", [
    ("model/re_lu_1/Relu;model/batch_normalization_1/batchnorm/mul_1;model/conv1d_1/Conv1D/Squeeze;;model/conv1d_1/Conv1D",
     "conv1d_1"),
    ("model/max_pooling1d/MaxPool", "max_pooling1d"),
    ("model/add/add;model/re_lu_8/Relu;model/dense/Tensordot", "dense"),
    ("tfl.unidirectional_sequence_lstm", None),
    ("StatefulPartitionedCall:0_int8", None),
])
def test_operators_are_named_by_the_keras_layer_in_their_output(name, layer):
    assert keras_layer(name) == layer


def test_tflm_allocation_classes_are_parsed():
    text = ("[RecordingMicroAllocator] Arena allocation total 65184 bytes\n"
            "[RecordingMicroAllocator] Arena allocation head 55008 bytes\n"
            "[RecordingMicroAllocator] Arena allocation tail 10176 bytes\n"
            "[RecordingMicroAllocator] 'Persistent buffer data' used 3496 bytes with alignment overhead "
            "(requested 3428 bytes for 44 allocations)\n")
    assert parse_allocations(text) == {"total": 65184, "head": 55008, "tail": 10176,
                                       "classes": {"Persistent buffer data": 3496}}


def test_lab_tool_renders_the_comment_of_a_run_against_itself(run_dir, capsys):
    from sleepedge.lab.check_comment import main

    assert main(["--run", str(run_dir)]) == 0
    out = capsys.readouterr().out
    comment, budget = out.split("\n---\n")
    assert comment.startswith("<!-- sleepedge-check -->")
    assert "| compressed | file_bytes | 300,000 B | 300,000 B | 0 B | +0.0 % | = |" in comment
    assert "[growth.file_bytes]" in budget and "```toml" in budget
