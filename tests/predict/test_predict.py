"""``sleepedge predict`` on generated EDF recordings: stages, timestamps, outputs, short nights, agreement."""
from __future__ import annotations

import csv
import datetime as dt

import numpy as np
import pytest
from edf_fixtures import START, write_psg

from sleepedge.predict.model import load_model
from sleepedge.predict.run import predict_paths


def _files(run, model, fmt):
    from sleepedge.run.manifest import read_manifest

    r = next(r for r in read_manifest(run / "export")["metrics"]["rows"] if r["model"] == model and r["format"] == fmt)
    return [run / "export" / f for f in (r["files"].values() if r.get("files") else [r["file"]])]


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    d = tmp_path_factory.mktemp("edf")
    rng = np.random.default_rng(0)
    eeg = lambda n: (np.cumsum(rng.standard_normal(n * 3000)) * 0.3 + 10 * rng.standard_normal(n * 3000))  # noqa: E731
    return {"long": write_psg(d / "long.edf", START, 12 * 30, eeg=eeg(12)),  # windows at 0, 5, 7
            "short": write_psg(d / "short.edf", START, 3 * 30, eeg=eeg(3))}  # shorter than one 5-epoch window


def _csv(path):
    with open(path) as f:  # leading "# " lines: the model's provenance and the input check
        return list(csv.DictReader(line for line in f if not line.startswith("# ")))


@pytest.mark.parametrize("night,n", [("long", 12), ("short", 3)])
def test_one_stage_per_epoch_with_timestamps_window_and_pair_agree(stream_run, nights, tmp_path, night, n):
    out = {}
    for fmt in ("onnx_fp32", "stream_onnx_fp32"):
        model = load_model(_files(stream_run, "compressed", fmt))
        s = predict_paths(model, [nights[night]], tmp_path / fmt)
        rows = _csv(tmp_path / fmt / f"{night}.hypnogram.csv")
        assert s["nights"][0]["epochs"] == n and len(rows) == n
        assert [int(r["epoch"]) for r in rows] == list(range(n)) and [int(r["onset_s"]) for r in rows] == [30 * k for k in range(n)]
        assert rows[1]["onset_time"] == (START + dt.timedelta(seconds=30)).isoformat()
        assert all(abs(sum(float(r[f"p_{c}"]) for c in ("W", "N1", "N2", "N3", "REM")) - 1) < 1e-3 for r in rows)
        assert (tmp_path / fmt / f"{night}.hypnogram.png").stat().st_size > 1000
        out[fmt] = [r["stage"] for r in rows]
    assert out["onnx_fp32"] == out["stream_onnx_fp32"]  # the pair scores like the window model


def test_edf_annotations_read_back_with_the_training_reader(stream_run, nights, tmp_path):
    import mne

    from sleepedge.train.hypnogram import LABEL_NAMES, annotations_to_grid
    from sleepedge.train.sleep_edf import edf_start

    predict_paths(load_model(_files(stream_run, "baseline", "onnx_fp32")), [nights["long"]], tmp_path)
    edf = tmp_path / "long.hypnogram.edf"
    ann = mne.read_annotations(edf)
    grid = annotations_to_grid(ann.onset, ann.duration, list(ann.description), 12, source=str(edf))
    stages = [r["stage"] for r in _csv(tmp_path / "long.hypnogram.csv")]
    assert [LABEL_NAMES[k] for k in grid] == stages and edf_start(edf) == START.replace(tzinfo=dt.timezone.utc)


def test_against_pytorch_agrees_and_online_mode_decides_every_epoch(stream_run, nights, tmp_path):
    model = load_model(_files(stream_run, "compressed", "stream_onnx_fp32"))
    s = predict_paths(model, [nights["long"]], tmp_path / "w", against=stream_run / "compress" / "selected.pt")
    n = s["nights"][0]
    assert n["agreement_torch"] == 1.0 and n["epochs_differing"] == 0
    assert n["model_calls"] == 12 + 3  # a feature call per epoch, a head call per window
    o = predict_paths(model, [nights["long"]], tmp_path / "o", mode="online", lag=2)["nights"][0]
    assert o["model_calls"] == 2 * 12 and len(_csv(tmp_path / "o" / "long.hypnogram.csv")) == 12


def test_model_folder_picks_a_format_through_the_export_manifest(stream_run):
    m = load_model([stream_run / "export" / "compressed"])  # no int8 rows in this run: the ONNX pair
    assert m.kind == "pair" and m.seq_len == 5 and [p.name for p in m.files] == ["features.onnx", "head.onnx"]
    w = load_model([stream_run / "export" / "compressed"], fmt="onnx_fp32")
    assert w.kind == "window" and w.epoch_samples == 3000


def test_window_helpers_cover_every_epoch_once():
    from sleepedge.firmware_bench.stream import pad_index, window_starts, windowed_logits

    assert window_starts(12, 5) == [0, 5, 7] and window_starts(10, 5) == [0, 5] and window_starts(3, 5) == [0]
    assert pad_index(3, 5).tolist() == [0, 1, 2, 2, 1] and pad_index(1, 4).tolist() == [0, 0, 0, 0]
    calls = []
    logits = windowed_logits(12, 5, lambda idx: calls.append(idx.tolist()) or np.eye(5)[idx % 5])
    assert calls == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [7, 8, 9, 10, 11]] and logits.shape == (12, 5)


def test_online_loop_decides_each_epoch_from_the_row_lag_epochs_back():
    from sleepedge.firmware_bench.stream import online_logits

    feats = np.arange(8, dtype=np.float32)[:, None]  # feature of epoch t = t
    seen = []

    def head(f):  # logits row j = one-hot of the epoch the window holds at position j (mod 5 classes)
        seen.append(f[:, 0].astype(int).tolist())
        return np.eye(8)[f[:, 0].astype(int)]

    logits = online_logits(feats, 4, 1, head)
    assert len(seen) == 8 and seen[0] == [2, 1, 0, 0] and seen[5] == [2, 3, 4, 5]  # mirrored before the start
    assert logits.argmax(-1).tolist() == list(range(8))  # every epoch decided from its own row
