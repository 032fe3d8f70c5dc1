"""``sleepedge predict`` refuses bad input with one line naming the file (exit 2) and imports no torch/TensorFlow."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from edf_fixtures import START, write_psg


def _model(run):
    return str(run / "export" / "compressed" / "onnx_fp32.onnx")


def _cli(argv):
    from sleepedge.commands.cli import main

    return main(["predict", *argv])


@pytest.fixture
def good(tmp_path):
    return write_psg(tmp_path / "good.edf", START, 6 * 30, eeg=np.random.default_rng(1).standard_normal(6 * 3000) * 20)


@pytest.mark.parametrize("problem,expect", [
    ("channel", "no channel 'EEG Fpz-Cz'"), ("rate", "expected 100 Hz"), ("truncated", "truncated EDF"),
    ("garbage", "not a readable EDF file"), ("missing", "file not found"), ("nan", "NaN"),
])
def test_bad_recording_one_line_exit_2(stream_run, tmp_path, capsys, problem, expect):
    from edf_fixtures import set_signal_header

    bad = tmp_path / "bad.edf"
    if problem == "channel":
        write_psg(bad, START, 300, channel="EEG Fp1-Cz")
    elif problem == "rate":
        write_psg(bad, START, 300, sfreq=200.0)
    elif problem in ("truncated", "garbage", "nan"):
        write_psg(bad, START, 300)
        if problem == "truncated":
            bad.write_bytes(bad.read_bytes()[:-20000])
        elif problem == "garbage":
            bad.write_bytes(b"0" * 300)
        else:
            set_signal_header(bad, 0, "physical_max", "nan")
    assert _cli(["--model", _model(stream_run), str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and expect in err[0], err


def test_bad_model_and_lone_feature_model_are_refused(stream_run, good, tmp_path, capsys):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    assert _cli(["--model", str(junk), str(good), "--out", str(tmp_path / "o")]) == 2
    assert str(junk) in capsys.readouterr().err
    feats = stream_run / "export" / "compressed" / "stream_onnx_fp32" / "features.onnx"
    assert _cli(["--model", str(feats), str(good), "--out", str(tmp_path / "o")]) == 2
    assert "pass its head as a second --model" in capsys.readouterr().err


def test_folder_scores_the_good_nights_and_reports_the_refused(stream_run, good, tmp_path, capsys):
    write_psg(good.parent / "other.edf", START, 300, channel="EEG Fp1-Cz")
    (good.parent / "SC4001EC-Hypnogram.edf").write_bytes(b"skipped by name")
    out = tmp_path / "out"
    assert _cli(["--model", _model(stream_run), str(good.parent), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "1 of 2 recording(s) refused" in err and "other.edf" in err
    summary = json.loads((out / "predict.json").read_text())
    assert [n["epochs"] for n in summary["nights"]] == [6] and (out / "good.hypnogram.csv").is_file()


def test_predict_imports_no_torch_or_tensorflow(stream_run, good, tmp_path):
    code = (f"import sys; from sleepedge.commands.predict import main; "
            f"rc = main(['--model', {_model(stream_run)!r}, {str(good)!r}, '--out', {str(tmp_path / 'o')!r}]); "
            "print(rc, sorted(m for m in ('torch', 'tensorflow', 'keras', 'tf_keras') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.stdout.strip().splitlines()[-1] == "0 []", r.stderr[-2000:]


def test_help_lists_predict():
    from sleepedge.commands.cli import build_parser

    assert "predict" in build_parser().format_help()
