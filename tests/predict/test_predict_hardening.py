"""``sleepedge predict`` fails closed and loses nothing (issue 19): a crashing model file, output names two inputs
share, a finished or busy --out, non-EEG channels, bad header ranges, --format on a file, a changed export file.
Every refusal is one line naming the file and the problem, exit 2."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from edf_fixtures import START, set_signal_header, write_psg

from sleepedge.run.manifest import read_manifest

TINY_TFLITE = Path(__file__).resolve().parents[1] / "check" / "data" / "tiny.tflite"


def _onnx(run):
    return str(run / "export" / "compressed" / "onnx_fp32.onnx")


def _cli(argv):
    from sleepedge.commands.cli import main

    return main(["predict", *argv])


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def _night(path, seed=1, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    eeg = np.random.default_rng(seed).standard_normal(6 * 3000) * 20
    return write_psg(path, START, 6 * 30, eeg=eeg, **kwargs)


@pytest.fixture
def good(tmp_path):
    return _night(tmp_path / "in" / "good.edf")


# --- model files -------------------------------------------------------------------------------------------------

def test_truncated_real_tflite_is_refused_in_a_child_not_a_crash(tflite_run_master, tmp_path):
    """The first 5,000 bytes of a real .tflite crash the interpreter (a bus error) when loaded in-process."""
    real = next((tflite_run_master / "export").rglob("*int8*.tflite"))
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(real.read_bytes()[:5000])
    edf = _night(tmp_path / "night.edf")
    code = ("import sys; from sleepedge.commands.cli import main; "
            f"sys.exit(main(['predict', '--model', {str(cut)!r}, {str(edf)!r}, '--out', {str(tmp_path / 'o')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, (r.returncode, r.stderr[-2000:])
    assert str(cut) in lines[0] and "cannot be loaded and run" in lines[0] and not (tmp_path / "o").exists()


def test_damaged_tflite_is_refused_by_the_child_before_loading_here(good, tmp_path, capsys, monkeypatch):
    from sleepedge.check import loadcheck

    cut = tmp_path / "cut.tflite"
    cut.write_bytes(TINY_TFLITE.read_bytes()[:700])
    checked = []
    real = loadcheck.verify_loads
    monkeypatch.setattr(loadcheck, "verify_loads", lambda p, *a, **k: checked.append(Path(p)) or real(p, *a, **k))
    assert _cli(["--model", str(cut), str(good), "--out", str(tmp_path / "o")]) == 2
    line = _one_line(capsys)
    assert checked == [cut] and str(cut) in line and "cannot be loaded and run by the tflite runtime" in line
    assert "the check counts" not in line  # worded for predict, not for the gate


def test_format_with_a_model_file_is_refused(stream_run, good, tmp_path, capsys):
    assert _cli(["--model", _onnx(stream_run), "--format", "tflite_int8", str(good), "--out", str(tmp_path / "o")]) == 2
    line = _one_line(capsys)
    assert _onnx(stream_run) in line and "--format applies to a model folder (RUN/export/<model>)" in line


def test_changed_file_of_an_export_model_folder_is_refused(stream_run, good, tmp_path, capsys):
    export = tmp_path / "run" / "export"
    shutil.copytree(stream_run / "export", export, ignore=shutil.ignore_patterns("deepsleepnet"))
    head = export / "compressed" / "stream_onnx_fp32" / "head.onnx"
    data = bytearray(head.read_bytes())
    data[-8:-4] = bytes(b ^ 0xFF for b in data[-8:-4])  # 4 bytes changed
    head.write_bytes(bytes(data))
    argv = ["--model", str(export / "compressed"), str(good), "--out", str(tmp_path / "o")]
    assert _cli([*argv, "--format", "onnx_fp32"]) == 0  # the window model's file is intact
    capsys.readouterr()
    assert _cli([*argv, "--format", "stream_onnx_fp32", "--out", str(tmp_path / "o2")]) == 2
    line = _one_line(capsys)
    assert str(head) in line and "sha256 mismatch" in line and not (tmp_path / "o2").exists()


# --- nothing lost: output names, a finished --out, a busy --out, partial refusals -------------------------------

def test_same_file_name_in_two_folders_is_refused_before_scoring(stream_run, tmp_path, capsys):
    a, b = _night(tmp_path / "a" / "night.edf"), _night(tmp_path / "b" / "night.edf", seed=2)
    out = tmp_path / "o"
    assert _cli(["--model", _onnx(stream_run), str(a), str(b), "--out", str(out), "--overwrite"]) == 2
    line = _one_line(capsys)
    assert str(a) in line and str(b) in line and "night.hypnogram" in line and not out.exists()


def test_names_differing_only_in_case_are_refused(stream_run, tmp_path, capsys):
    folder = tmp_path / "nights"
    a, b = _night(folder / "a.edf"), _night(folder / "a.EDF", seed=2)
    assert _cli(["--model", _onnx(stream_run), str(folder), "--out", str(tmp_path / "o")]) == 2
    line = _one_line(capsys)
    assert str(a) in line and str(b) in line and "a.hypnogram" in line and not (tmp_path / "o").exists()


def test_second_predict_into_a_finished_out_is_refused_and_overwrite_replaces_it(stream_run, good, tmp_path, capsys):
    out = tmp_path / "o"
    assert _cli(["--model", _onnx(stream_run), str(good), "--out", str(out), "--no-png"]) == 0
    manifest = read_manifest(out)  # verifies every output's sha256
    assert manifest["stage"] == "predict" and {"predict_json", "good/csv", "good/edf"} <= set(manifest["outputs"])
    before = (out / "predict.json").read_bytes()
    capsys.readouterr()
    other = _night(tmp_path / "other.edf", seed=3)
    assert _cli(["--model", _onnx(stream_run), str(other), "--out", str(out)]) == 2
    line = _one_line(capsys)
    assert str(out) in line and "already finished" in line and "--overwrite" in line
    assert (out / "predict.json").read_bytes() == before and not (out / "other.hypnogram.csv").exists()
    assert _cli(["--model", _onnx(stream_run), str(other), "--out", str(out), "--overwrite", "--no-png"]) == 0
    assert [n["recording"] for n in json.loads((out / "predict.json").read_text())["nights"]] == [str(other)]
    assert read_manifest(out)["stage"] == "predict" and not (tmp_path / ".o.partial").exists()


def test_folder_that_is_not_a_predict_folder_is_never_replaced(stream_run, good, tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert _cli(["--model", _onnx(stream_run), str(good), "--out", str(out), "--overwrite"]) == 2
    assert "is not a finished stage" in _one_line(capsys) and (out / "mine.txt").read_text() == "keep"


def test_a_second_writer_of_the_same_out_is_refused_at_once(stream_run, good, tmp_path, capsys):
    out = tmp_path / "o"
    hold = ("import sys, time; from sleepedge.run.locking import run_lock\n"
            f"with run_lock({str(tmp_path)!r}, name='o'):\n    print('held', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert _cli(["--model", _onnx(stream_run), str(good), "--out", str(out)]) == 2
        line = _one_line(capsys)
        assert str(out) in line and "in use by another sleepedge command" in line and f"pid {holder.pid}" in line
    finally:
        holder.kill()
        holder.wait()
    assert not out.exists()


def test_refused_nights_leave_the_scored_ones_committed(stream_run, good, tmp_path, capsys):
    bad = write_psg(good.parent / "bad.edf", START, 300, channel="ECG")
    out = tmp_path / "o"
    assert _cli(["--model", _onnx(stream_run), str(good.parent), "--out", str(out), "--no-png"]) == 2
    line = _one_line(capsys)
    assert "1 of 2 recording(s) refused" in line and str(bad) in line
    summary = json.loads((out / "predict.json").read_text())
    assert [n["recording"] for n in summary["nights"]] == [str(good)] and str(bad) in summary["refused"][0]
    assert "good/csv" in read_manifest(out)["outputs"]


# --- the channel and its header ---------------------------------------------------------------------------------

@pytest.mark.parametrize("channel,dimension,expect", [
    ("SAO2", b"%", "is recorded in '%', not a voltage"),
    ("ECG", b"mV", "is labelled as a ECG signal"),
    ("EDF Annotations", None, "is the EDF+ annotation channel"),
])
def test_non_eeg_channel_is_refused_unless_allowed(stream_run, tmp_path, capsys, channel, dimension, expect):
    from edfio import Edf, EdfAnnotation, EdfSignal, Patient, Recording

    rng = np.random.default_rng(0)
    sig = EdfSignal(rng.standard_normal(6 * 3000) * 20, 100, label="EEG Fpz-Cz" if dimension is None else channel,
                    physical_dimension=(dimension or b"uV").decode(), physical_range=(-200, 200))
    edf = tmp_path / "night.edf"
    Edf([sig], patient=Patient(name="X"), recording=Recording(startdate=START.date()), starttime=START.time(),
        annotations=[EdfAnnotation(0, 30, "Sleep stage W")]).write(edf)
    argv = ["--model", _onnx(stream_run), str(edf), "--channel", channel, "--no-png"]
    assert _cli([*argv, "--out", str(tmp_path / "o")]) == 2
    line = _one_line(capsys)
    assert str(edf) in line and repr(channel) in line and expect in line and not (tmp_path / "o").exists()
    allowed = _cli([*argv, "--out", str(tmp_path / "a"), "--allow-non-eeg"])
    capsys.readouterr()
    assert allowed == (2 if dimension is None else 0)  # the annotation channel is refused always


@pytest.mark.parametrize("field,value,expect", [
    ("digital_min", "40000", "'digital minimum' (40000) is not below 'digital maximum' (32767)"),
    ("digital_max", "-32768", "'digital minimum' (-32768) is not below 'digital maximum' (-32768)"),
    ("physical_max", "-200", "'physical minimum' and 'physical maximum' are both -200"),
])
def test_bad_header_ranges_are_refused_naming_file_channel_and_field(stream_run, good, tmp_path, capsys, field,
                                                                     value, expect):
    set_signal_header(good, 0, field, value)
    assert _cli(["--model", _onnx(stream_run), str(good), "--out", str(tmp_path / "o")]) == 2
    line = _one_line(capsys)
    assert str(good) in line and "'EEG Fpz-Cz'" in line and expect in line
