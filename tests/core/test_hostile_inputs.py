"""Bad input found by a hostile test suite: every case is one line naming the file or setting, exit 2.

``-`` as an output, a budget path that does not exist, ``data info --subjects``, merging results of different
runs, a plain run mixed with a k-fold run, the model-card helper's errors, executor numbers, and training
states or checkpoints that are not sleepedge's.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from fixtures.check_runs import make_run

from sleepedge.commands.cli import main
from sleepedge.core.errors import DataError


def _one_error_line(capsys, *needles: str) -> str:
    """The single stderr line of a refusal; it names every needle and is no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "error inside sleepedge" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# --- `-` means standard output (or is refused) -------------------------------------------------------------------

def test_check_json_dash_writes_json_to_stdout_and_no_file(tmp_path, monkeypatch, capsys):
    run = make_run(tmp_path / "r")
    budget = tmp_path / "budget.toml"
    budget.write_text("max_params = 200000\n")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--budget", str(budget), "--json", "-", str(run)]) == 1  # compressed: 240,000 params
    out, err = capsys.readouterr()
    data = json.loads(out)  # stdout is the JSON alone
    assert data["models"] == ["compressed"] and "max_params" in json.dumps(data)
    assert "budget check FAIL" in err  # the table went to stderr
    assert not (tmp_path / "-").exists()


def test_check_json_dash_with_github_keeps_stdout_json(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    run = make_run(tmp_path / "r")
    budget = tmp_path / "budget.toml"
    budget.write_text("max_params = 200000\n")
    assert main(["check", "--budget", str(budget), "--json", "-", "--github", str(run)]) == 1
    out, err = capsys.readouterr()
    json.loads(out)
    assert "::error" in err


def _bench_rows(params: int, file_bytes: int = 1000, machine: str = "x86_64") -> list[dict]:
    dev = {"machine": machine, "cpu": "cpu", "cores": 2, "os": "Linux", "python": "3.11", "emulated": False}
    return [{"model": "baseline", "format": "onnx_fp32", "runtime": "onnxruntime", "status": "ok", "device": dev,
             "params": params, "file_bytes": file_bytes, "seq_len": 3, "latency_ms_per_epoch_p50": 1.0,
             "speedup_vs_ref": 1.0, "peak_rss_bytes": 1 << 20, "accuracy": 0.5, "xnnpack": None, "threads": 1}]


def _write(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path


def test_bench_merge_out_dash_prints_the_table_and_writes_no_file(tmp_path, monkeypatch, capsys):
    a = _write(tmp_path / "a.json", _bench_rows(40_000))
    b = _write(tmp_path / "b.json", _bench_rows(40_000, machine="aarch64"))
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--merge", str(a), str(b), "--out", "-"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Bench results merged across devices") and "| baseline | onnx_fp32 |" in out
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--from-bundle", "b.tar", "--out", "-"], "--out -"),
    (["--run", "r", "--bundle", "-"], "--bundle -"),
])
def test_bench_dash_where_stdout_makes_no_sense_is_refused(argv, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["bench", *argv]) == 2
    _one_error_line(capsys, needle)
    assert not (tmp_path / "-").exists()


# --- check --budget: a path is a file, never a preset ---------------------------------------------------------------

@pytest.mark.parametrize("budget", ["./wearable", "budgets/nrf52840", "wearable.toml", ".nrf52840"])
def test_budget_that_looks_like_a_path_and_is_missing_is_a_missing_file(budget, tmp_path, monkeypatch, capsys):
    run = make_run(tmp_path / "r")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--budget", budget, str(run)]) == 2
    _one_error_line(capsys, budget, "not found")


def test_a_preset_name_is_still_a_preset():
    from sleepedge.check.load import load_budget

    assert load_budget("wearable").files[0].name == "wearable.toml"
    with pytest.raises(FileNotFoundError, match="./wearable"):
        load_budget("./wearable")


# --- data info --subjects ------------------------------------------------------------------------------------------

def _edf_names(folder: Path, records: list[str]) -> None:
    """Empty files with Sleep-EDF names: ``data info`` reads names only, never a signal."""
    folder.mkdir(parents=True)
    for rec in records:
        (folder / f"{rec}E0-PSG.edf").write_bytes(b"")
        (folder / f"{rec}EC-Hypnogram.edf").write_bytes(b"")


def test_data_info_subjects_lists_only_those_subjects(tmp_path, capsys):
    _edf_names(tmp_path / "edf", ["SC4001", "SC4002", "SC4011", "SC4121"])
    base = ["data", "info", "--data-dir", str(tmp_path / "edf"), "--cache-dir", str(tmp_path / "cache")]
    assert main(base + ["--subjects", "0"]) == 0  # subject 0 (SC400x), not "zero subjects"
    out = capsys.readouterr().out
    assert "SC4001E0" in out and "SC4002E0" in out and "SC4011E0" not in out and "SC4121E0" not in out
    assert "2 PSG files" in out
    assert main(base) == 0  # without --subjects: every night in the folder
    assert "4 PSG files" in capsys.readouterr().out


@pytest.mark.parametrize("subjects, needle", [("-1", "--subjects '-1'"), ("-3-2", "--subjects"), ("", "no subject"),
                                              ("90", "--subjects [90]")])
def test_data_info_bad_subjects_is_one_line(subjects, needle, tmp_path, capsys):
    assert main(["data", "info", "--data-dir", str(tmp_path), f"--subjects={subjects}"]) == 2
    _one_error_line(capsys, needle)


def test_data_subjects_with_the_synthetic_dataset_is_refused(capsys):
    assert main(["data", "info", "--dataset", "synthetic", "--subjects", "0"]) == 2
    _one_error_line(capsys, "--subjects '0'", "synthetic_subjects")


# --- bench --merge: one export per model name, no empty device -----------------------------------------------------

def test_merge_refuses_the_same_model_name_from_different_runs(tmp_path, capsys):
    small = _write(tmp_path / "small.json", _bench_rows(40_000))
    paper = _write(tmp_path / "paper.json", _bench_rows(1_560_000))
    assert main(["bench", "--merge", str(small), str(paper), "--out", str(tmp_path / "m.md")]) == 2
    _one_error_line(capsys, str(small), str(paper), "baseline", "params 40000 vs 1560000")
    assert not (tmp_path / "m.md").exists()


def test_merge_refuses_the_same_format_of_another_size(tmp_path, capsys):
    a = _write(tmp_path / "a.json", _bench_rows(40_000, file_bytes=1000))
    b = _write(tmp_path / "b.json", _bench_rows(40_000, file_bytes=2000))
    assert main(["bench", "--merge", str(a), str(b), "--out", "-"]) == 2
    _one_error_line(capsys, "baseline/onnx_fp32", "file_bytes")


def test_merge_refuses_an_empty_results_file(tmp_path, capsys):
    good = _write(tmp_path / "good.json", _bench_rows(40_000))
    empty = _write(tmp_path / "empty.json", [])
    assert main(["bench", "--merge", str(good), str(empty), "--out", str(tmp_path / "m.md")]) == 2
    _one_error_line(capsys, str(empty), "no bench rows")


# --- a plain run and a k-fold run never share a folder -------------------------------------------------------------

def test_folds_into_a_folder_holding_a_plain_run_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "train").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    assert main(["pipeline", "--preset", "tiny", "--out", str(run), "--folds", "2"]) == 2
    _one_error_line(capsys, str(run), "plain pipeline run", "train", "config.json")
    assert not (run / "folds").exists() and not (run / "kfold.json").exists()


def test_a_plain_run_into_a_k_fold_folder_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "folds" / "fold-00").mkdir(parents=True)
    (run / "kfold.json").write_text("{}")
    assert main(["pipeline", "--preset", "tiny", "--out", str(run), "--stages", "train"]) == 2
    _one_error_line(capsys, str(run), "k-fold run", "folds")
    assert not (run / "train").exists() and not (run / "config.json").exists()


# --- executor numbers ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag, value", [("--gpus-per-task", "nan"), ("--gpus-per-task", "inf"), ("--gpus-per-task", "-1"),
                                         ("--gpus-per-task", "1.5"), ("--cpus-per-task", "nan"),
                                         ("--cpus-per-task", "-0.5"), ("--cpus-per-task", "1e300"),
                                         ("--ray-cpus", "-2"), ("--ray-cpus", "0"), ("--max-retries", "-1")])
def test_bad_executor_numbers_are_one_line(flag, value, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["pipeline", "--preset", "tiny", "--out", str(out), "--stages", "train", flag, value]) == 2
    _one_error_line(capsys, flag)
    assert not out.exists()


def test_good_executor_numbers_pass():
    from sleepedge.core.executor import ExecutorSpec, validate

    spec = ExecutorSpec(cpus_per_task=0.5, gpus_per_task=0.25, num_cpus=4, max_retries=0)
    assert validate(spec) is spec
    assert validate(ExecutorSpec(cpus_per_task=2.0, gpus_per_task=1.0)).cpus_per_task == 2.0


# --- python -m sleepedge.export.card ---------------------------------------------------------------------------------

def _card(*argv: str) -> int:
    from sleepedge.export.card import main as card_main

    return card_main(list(argv))


def test_card_unknown_model_names_the_known_ones(stream_run, capsys):
    assert _card(str(stream_run / "export"), "--model", "bogus") == 2
    line = _one_error_line(capsys, "'bogus'", "baseline", "compressed")
    assert line.startswith("sleepedge.export.card: error:")
    assert _card(str(stream_run / "export"), "--model", "compressed") == 0
    assert capsys.readouterr().out.startswith("# Model card: compressed")


def _export_dir(tmp_path: Path, manifest) -> Path:
    d = tmp_path / "export"
    d.mkdir()
    (d / "manifest.json").write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
    return d


@pytest.mark.parametrize("case, needle", [
    ("missing", "export manifest not found"),
    ("file", "not a folder"),
    ("broken-json", "not readable JSON"),
    ("no-rows", "no export rows"),
    ("no-arch", "lacks ['arch']"),
    ("bad-train", "not readable JSON"),
])
def test_card_bad_input_is_one_line_exit_2(case, needle, tmp_path, capsys):
    row = {"model": "m", "format": "onnx_fp32", "status": "ok", "params": 1, "macs_per_epoch": 1, "seq_len": 1,
           "converter": "torch.onnx", "arch": {}}
    if case == "missing":
        target = tmp_path / "nowhere"
    elif case == "file":
        target = tmp_path / "a-file"
        target.write_text("x")
    elif case == "broken-json":
        target = _export_dir(tmp_path, '{"metrics": ')
    elif case == "no-rows":
        target = _export_dir(tmp_path, {"metrics": {}})
    elif case == "no-arch":
        target = _export_dir(tmp_path, {"metrics": {"rows": [{k: v for k, v in row.items() if k != "arch"}]}})
    else:
        target = _export_dir(tmp_path, {"metrics": {"rows": [row]}})
        (tmp_path / "train").mkdir()
        (tmp_path / "train" / "manifest.json").write_text("{")
    assert _card(str(target)) == 2
    _one_error_line(capsys, str(target).split("/")[-1], needle)


def test_card_to_a_closed_pipe_exits_quietly(stream_run):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte (as with `| head -c1` after its byte)
    try:
        proc = subprocess.run([sys.executable, "-m", "sleepedge.export.card", str(stream_run / "export")],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


# --- training states and checkpoints from disk ------------------------------------------------------------------------

def _toy(n_seq: int = 4, seq: int = 2, seed: int = 0):
    from sleepedge.train.sequences import SequenceData

    rng = np.random.default_rng(seed)
    x = rng.normal(0, 20, (n_seq, seq, 1, 3000)).astype(np.float32)
    return SequenceData(x, rng.integers(0, 5, (n_seq, seq)).astype(np.int64), [f"r{i}" for i in range(n_seq)])


def _fit(state: Path, epochs: int = 1):
    from sleepedge.config.settings import TrainConfig
    from sleepedge.models import DeepSleepNet, get_arch
    from sleepedge.train.loop import fit

    torch.manual_seed(0)
    cfg = TrainConfig(epochs=epochs, batch_size=4, lr=1e-3, patience=10, threads=1, seed=0)
    return fit(DeepSleepNet(get_arch("tiny")), _toy(), _toy(seed=1), cfg, state_path=state)


class Planted:
    """A pickle that runs code when unpickled (``weights_only=True`` must refuse it, never run it)."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.fixture(scope="module")
def real_state(tmp_path_factory) -> bytes:
    state = tmp_path_factory.mktemp("state") / "train_state.pt"
    _fit(state, epochs=1)
    return state.read_bytes()


def _damaged(kind: str, real: bytes, marker: Path) -> bytes:
    if kind == "random":
        return np.random.default_rng(0).bytes(4096)
    if kind == "truncated":
        return real[: len(real) // 2]
    if kind == "pickle":
        return pickle.dumps(Planted(str(marker)))
    if kind == "torch-pickle":
        buf = io.BytesIO()
        torch.save({"model": Planted(str(marker))}, buf)
        return buf.getvalue()
    if kind == "tensor":  # loads under weights_only, but is no state
        buf = io.BytesIO()
        torch.save(torch.zeros(3), buf)
        return buf.getvalue()
    return b""


KINDS = ["random", "truncated", "pickle", "torch-pickle", "tensor", "empty"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_training_state_is_a_data_error_naming_it(kind, real_state, tmp_path):
    state, marker = tmp_path / "train_state.pt", tmp_path / "planted"
    state.write_bytes(_damaged(kind, real_state, marker))
    with pytest.raises(DataError) as exc:
        _fit(state)
    text = str(exc.value)
    assert str(state) in text and "not a sleepedge training state" in text and "delete it to start over" in text
    assert "weights_only" not in text and "False" not in text  # torch's advice is never repeated
    assert not marker.exists()  # the planted code never ran: weights_only stayed on


def test_a_real_training_state_still_resumes(real_state, tmp_path):
    state = tmp_path / "train_state.pt"
    state.write_bytes(real_state)
    assert len(_fit(state, epochs=2).history) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_checkpoint_is_a_data_error_naming_it(kind, real_state, tmp_path):
    from sleepedge.models import load_checkpoint

    path, marker = tmp_path / "model.pt", tmp_path / "planted"
    path.write_bytes(_damaged(kind, real_state, marker))
    with pytest.raises(DataError) as exc:
        load_checkpoint(path)
    assert str(path) in str(exc.value) and "weights_only" not in str(exc.value)
    assert not marker.exists()


def test_a_damaged_resume_state_through_the_cli_is_one_line(tmp_path, capsys):
    """``sleepedge train`` resuming an interrupted stage from a random ``train_state.pt``: one line naming it, exit 2."""
    from sleepedge.config.settings import load_config
    from sleepedge.run.manifest import atomic_write_json
    from sleepedge.run.transaction import RESUME_KEY
    from sleepedge.train.stage import resume_key

    out = tmp_path / "run"
    partial = out / ".train.partial"
    atomic_write_json(partial / RESUME_KEY, resume_key(load_config("tiny")))  # an interrupted train of the same settings
    (partial / "train_state.pt").write_bytes(np.random.default_rng(0).bytes(512))
    assert main(["train", "--preset", "tiny", "--out", str(out)]) == 2
    _one_error_line(capsys, str(partial / "train_state.pt"), "not a sleepedge training state", "delete it")
    assert not (out / "train").exists()
