"""``sleepedge predict --mode online`` with a stateful pair: one epoch at a time, state reset at gaps, lag recorded."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from edf_fixtures import START, write_psg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # stateful_fixture: the hand-built ONNX pair
from stateful_fixture import write_export  # noqa: E402

N_EPOCHS, GAP = 12, (4, 7)


def _cli(argv):
    from sleepedge.commands.cli import main

    return main(["predict", *argv])


@pytest.fixture(scope="module")
def causal_export(tmp_path_factory):
    return write_export(tmp_path_factory.mktemp("export") / "export")


@pytest.fixture(scope="module")
def gap_edf(tmp_path_factory):
    eeg = (np.random.default_rng(3).standard_normal(N_EPOCHS * 3000) * 20).reshape(N_EPOCHS, 3000)
    eeg[GAP[0]:GAP[1]] = 0.0  # a flat stretch: the electrode off, or zeros filling a hole
    return write_psg(tmp_path_factory.mktemp("edf") / "gap.edf", START, N_EPOCHS * 30, eeg=eeg.ravel())


def _torch_stages(model, edf):
    from sleepedge.models.causal import night_features, night_logits
    from sleepedge.train.sleep_edf import read_recording

    x = read_recording(edf).x
    starts = [0, GAP[0], GAP[1]]
    return night_logits(model, night_features(model, x), starts).argmax(-1), starts


def test_online_stateful_records_resets_and_lag_and_equals_pytorch_per_segment(causal_export, gap_edf, tmp_path, capsys):
    export_dir, model = causal_export
    out = tmp_path / "hyp"
    assert _cli(["--model", str(export_dir / "causal"), str(gap_edf), "--out", str(out), "--no-png"]) == 0  # online by default
    said = capsys.readouterr().out
    assert "lags its epoch by 1 epoch(s) (30 s" in said and "at 2 gap boundary" in said
    summary = json.loads((out / "predict.json").read_text())
    assert (summary["kind"], summary["mode"], summary["lookahead"], summary["lag_s"]) == ("stateful", "online", 1, 30)
    night = summary["nights"][0]
    expected, starts = _torch_stages(model, gap_edf)
    assert night["resets"] == starts and night["gap_epochs"] == GAP[1] - GAP[0] and night["model_calls"] == 2 * N_EPOCHS
    lines = [ln for ln in (out / "gap.hypnogram.csv").read_text().splitlines() if not ln.startswith("# ")][1:]
    from sleepedge.core.metrics import STAGES

    assert [ln.split(",")[3] for ln in lines] == [STAGES[int(k)] for k in expected]


def test_without_the_gap_reset_the_state_leaks_into_the_gap(causal_export, gap_edf):
    """The reset matters: scoring the gap from the carried state differs from PyTorch's per-segment decisions."""
    from sleepedge.models.causal import night_features, night_logits
    from sleepedge.predict.model import load_model
    from sleepedge.predict.online import score_online
    from sleepedge.train.sleep_edf import read_recording

    export_dir, model = causal_export
    x = read_recording(gap_edf).x
    m = load_model([export_dir / "causal"])
    scores, info = score_online(m, x, gap_edf)
    feats = night_features(model, x)
    np.testing.assert_allclose(scores.logits, night_logits(model, feats, info["resets"]), atol=1e-4)
    assert not np.allclose(scores.logits, night_logits(model, feats, [0]), atol=1e-4)


def test_bad_acq_skip_annotation_is_a_gap(tmp_path, monkeypatch):
    import mne

    from sleepedge.predict import online

    class Raw:
        annotations = mne.Annotations([65.0, 200.0], [40.0, 5.0], ["BAD_ACQ_SKIP", "Sleep stage W"])

    monkeypatch.setattr(mne.io, "read_raw_edf", lambda *a, **k: Raw())
    x = np.random.default_rng(0).standard_normal((8, 3000)).astype(np.float32)
    assert np.flatnonzero(online.gap_mask(x, tmp_path / "x.edf")).tolist() == [2, 3]  # 65 s..105 s: epochs 2 and 3


def test_window_model_online_and_a_stateful_pair_asked_for_windows_are_refused(stream_run, causal_export, gap_edf, tmp_path, capsys):
    window = stream_run / "export" / "compressed" / "onnx_fp32.onnx"
    assert _cli(["--model", str(window), "--mode", "online", str(gap_edf), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(window) in err[0] and "stateful_tflite_int8" in err[0] and "window model" in err[0]
    export_dir, _ = causal_export
    assert _cli(["--model", str(export_dir / "causal"), "--mode", "window", str(gap_edf), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "features.onnx" in err[0] and "--mode online" in err[0]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
