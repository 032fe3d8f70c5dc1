"""Stateful export of a causal model, PyTorch and onnxruntime only (no TensorFlow): the step's ONNX file, its
``step_io``, nights from test sequences, which models get stateful formats, and the causal model of the compress
stage in the export stage."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sleepedge.config.formats import FORMATS
from sleepedge.config.settings import ExportConfig
from sleepedge.export import stateful_export as se
from sleepedge.models import DeepSleepNet, get_arch, save_checkpoint


@pytest.fixture(scope="module")
def causal():
    torch.manual_seed(3)
    return DeepSleepNet(get_arch("tiny").causal(lookahead=1)).eval()


def _nights(n_epochs=(13, 9), seed=0):
    """Test sequences of 3 epochs from two records (the first night's remainder left out, as make_sequences does)."""
    rng = np.random.default_rng(seed)
    xs, ys, recs = [], [], []
    for k, n in enumerate(n_epochs):
        m = n // 3
        xs.append(rng.standard_normal((m, 3, 1, 3000)).astype(np.float32) * 30)
        ys.append(rng.integers(0, 5, (m, 3)))
        recs += [f"SYN{k:03d}01"] * m
    return np.concatenate(xs), np.concatenate(ys), np.array(recs)


def test_nights_join_the_sequences_of_a_record_in_order():
    x, y, rec = _nights()
    nights = se.test_nights(x, y, rec, np.array([0] * 4 + [1] * 3))
    assert [n["record"] for n in nights] == ["SYN00001", "SYN00101"]
    assert [len(n["y"]) for n in nights] == [12, 9] and [n["subject"] for n in nights] == [0, 1]
    np.testing.assert_array_equal(nights[0]["x"][3:6, 0], x[1, :, 0])  # sequence 1 follows sequence 0
    assert all(list(n["starts"]) == [0] for n in nights)
    assert len(se.test_nights(x, y, None, None)) == len(x)  # no records: every sequence is a night


def test_step_onnx_equals_causal_step(causal, tmp_path):
    import onnxruntime as ort

    from sleepedge.models.causal import CausalStep

    path = se.export_step_onnx(causal, tmp_path / "step.onnx", 17, False)
    a, rng = causal.arch, np.random.default_rng(1)
    f = rng.standard_normal((1, a.cnn_features)).astype(np.float32)
    h, c = (rng.standard_normal((1, a.lstm_layers, a.lstm_hidden)).astype(np.float32) for _ in range(2))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"features": f, "h": h, "c": c})
    with torch.no_grad():
        want = CausalStep(causal)(*(torch.from_numpy(v) for v in (f, h, c)))
    io = se.onnx_step_io(path)
    for name, w in zip(se.STEP_OUTPUTS, want):
        np.testing.assert_allclose(got[io["outputs"][name]], w.numpy(), atol=1e-5)
    assert io == {"inputs": {"features": 0, "h": 1, "c": 2}, "outputs": {"logits": 0, "h_out": 1, "c_out": 2}}


@pytest.mark.parametrize("io, ok", [
    ({"inputs": {"c": 0, "features": 1, "h": 2}, "outputs": {"c_out": 0, "h_out": 1, "logits": 2}}, True),
    ({"inputs": {"c": 0, "features": 1}, "outputs": {"c_out": 0, "h_out": 1, "logits": 2}}, False),  # h missing
    ({"inputs": {"c": 0, "features": 0, "h": 2}, "outputs": {"c_out": 0, "h_out": 1, "logits": 2}}, False),  # twice 0
])
def test_step_io_must_name_every_tensor_once(io, ok):
    assert (se.check_step_io(io) is None) == ok


def test_pair_in_onnxruntime_follows_step_io_and_carries_the_state(causal, tmp_path):
    """The ONNX pair over a night (state carried, reset at a gap) gives PyTorch's decisions, and a step_io with
    two outputs swapped does not: the export's parity check verifies the mapping."""
    from sleepedge.models.causal import night_features, night_logits

    files = se.export_pair_onnx(causal, tmp_path, 17, False)
    rng = np.random.default_rng(2)
    night = {"x": rng.standard_normal((40, 1, 3000)).astype(np.float32) * 30, "starts": np.array([0, 25])}
    io = se.onnx_step_io(files["step"])
    logits, states = se.run_pair(*se.onnx_pair(files, io), [night], causal.arch)
    ref = night_logits(causal, night_features(causal, night["x"]), night["starts"])
    np.testing.assert_allclose(logits[0], ref, atol=1e-4)
    swapped = {**io, "outputs": {**io["outputs"], "h_out": io["outputs"]["c_out"], "c_out": io["outputs"]["h_out"]}}
    bad, _ = se.run_pair(*se.onnx_pair(files, swapped), [night], causal.arch)
    assert np.abs(bad[0] - ref).max() > 1e-3


def test_stateful_formats_only_for_a_causal_model(causal):
    from sleepedge.export.checkpoint_export import applicable_formats

    fmts = [FORMATS[n] for n in ("onnx_fp32", "stream_onnx_fp32", "stateful_onnx_fp32", "stateful_tflite_int8")]
    bi = DeepSleepNet(get_arch("tiny"))
    assert [f.name for f in applicable_formats(fmts, bi, "compressed")] == ["onnx_fp32", "stream_onnx_fp32"]
    assert [f.name for f in applicable_formats(fmts, causal, "causal")] == ["stateful_onnx_fp32", "stateful_tflite_int8"]
    assert {"stateful_onnx_fp32", "stateful_tflite_int8"} <= set(ExportConfig().formats)


def test_bidirectional_model_gets_no_stateful_row(tmp_path):
    from sleepedge.export.checkpoint_export import export_model

    x, y, rec = _nights()
    rows = export_model(DeepSleepNet(get_arch("tiny")).eval(), tmp_path, x, x, y,
                        ExportConfig(formats=["stateful_onnx_fp32"], reference_arch=""), "compressed", test_records=rec)
    assert rows == []


def _stage_run(tmp_path, causal):
    """A run folder with train and compress manifests; the compress one lists a ``causal`` output."""
    from sleepedge.run.manifest import write_manifest

    x, y, rec = _nights()
    train, comp = tmp_path / "train", tmp_path / "compress"
    train.mkdir()
    comp.mkdir()
    np.savez(train / "test.npz", x=x, y=y, record=rec, subject=np.array([0] * 4 + [1] * 3))
    np.savez(train / "calib.npz", x=x[:4], y=y[:4])
    bi = save_checkpoint(train / "model.pt", DeepSleepNet(get_arch("tiny")).eval())
    write_manifest(train, "train", outputs={"model": bi, "test": train / "test.npz", "calib": train / "calib.npz"})
    sel = save_checkpoint(comp / "selected.pt", DeepSleepNet(get_arch("tiny")).eval())
    write_manifest(comp, "compress", outputs={"selected": sel, "causal": save_checkpoint(comp / "causal.pt", causal)},
                   parent=train)
    return tmp_path


def test_export_stage_exports_the_causal_model_of_the_compress_stage(causal, tmp_path):
    from sleepedge.export.stage import export_models, stage_inputs
    from sleepedge.firmware_bench.provenance import read_provenance

    run = _stage_run(tmp_path, causal)
    inputs, parent = stage_inputs(run, None)
    assert inputs["causal"] == run / "compress" / "causal.pt" and parent == run / "compress"
    cfg = ExportConfig(formats=["onnx_fp32", "stateful_onnx_fp32"], reference_arch="", calib_sequences=4)
    out = export_models({"causal": inputs["causal"]}, inputs["test"], inputs["calib"], run / "export", cfg, parent)
    rows = json.loads((out / "manifest.json").read_text())["metrics"]["rows"]
    assert [(r["model"], r["format"]) for r in rows] == [("causal", "stateful_onnx_fp32")]  # no window row for it
    r = rows[0]
    assert r["status"] == "ok", r["reason"]
    assert r["agreement_torch"] == 1.0 and r["parity_max_abs"] < 1e-4 and r["test_nights"] == 2 and r["test_epochs"] == 21
    assert (r["kind"], r["lookahead"], r["lag_s"], r["state_dtype"]) == ("stateful", 1, 30, "float32")
    assert r["state_bytes"] == 2 * 1 * 16 * 4 and r["epoch_bytes"] == 3000 * 4 and r["state_max_abs_error"] < 1e-4
    assert set(r["files"]) == {"features", "step"} and r["files"]["step"] == "causal/stateful_onnx_fp32/step.onnx"
    doc = read_provenance(out / r["files"]["step"])
    assert doc["stateful"]["step_io"] == r["step_io"] and doc["stateful"]["lookahead"] == 1
    assert "causal/stateful_onnx_fp32/step" in json.loads((out / "manifest.json").read_text())["outputs"]


def test_step_calibration_covers_the_state_range_of_the_training_nights(causal):
    calib_x = np.random.default_rng(1).standard_normal((2, 3, 1, 3000)).astype(np.float32) * 30
    plain = se.stateful_calibration(causal, calib_x)["step"]
    wide = se.stateful_calibration(causal, calib_x, {"h": 0.9, "c": 150.0})["step"]
    assert len(wide["c"]) == len(plain["c"]) + 2 and np.abs(plain["c"]).max() < 150.0
    assert wide["c"].max() == 150.0 and wide["c"].min() == -150.0 and np.abs(wide["h"][-2:]).max() == pytest.approx(0.9)
    assert np.array_equal(wide["features"][-1], plain["features"][0])  # a real feature vector beside the extreme state


def test_the_training_state_range_travels_from_the_checkpoint_into_the_rows(causal, tmp_path, monkeypatch):
    from sleepedge.export import checkpoint_export as ce

    seen = {}
    monkeypatch.setattr(ce, "export_model", lambda *a, **k: seen.update(k) or [])
    ckpt = save_checkpoint(tmp_path / "c.pt", causal, meta={"state_range": {"h": 0.5, "c": 12.0}})
    x = np.zeros((1, 3, 1, 3000), np.float32)
    ce.export_checkpoint(ckpt, tmp_path / "out", x, x, np.zeros((1, 3), np.int64), ExportConfig(formats=["stateful_onnx_fp32"]))
    assert seen["extra_info"]["state_range_train"] == {"h": 0.5, "c": 12.0}


def test_formats_md_states_the_drift_and_the_tflite_micro_night_of_a_stateful_pair():
    from sleepedge.export.report import stateful_lines

    row = {"kind": "stateful", "status": "ok", "model": "causal", "format": "stateful_tflite_int8", "lookahead": 1,
           "lag_s": 30, "state_layers": 2, "state_hidden": 16, "state_dtype": "int16", "state_bytes": 128,
           "test_epochs": 3240, "agreement_torch": 0.9934, "state_max_abs_error": 6.3, "state_error_first_hour": 0.197,
           "state_error_last_hour": 0.248, "tflm_arena_features_bytes": 15376, "tflm_arena_step_bytes": 11168,
           "stateful_ram_bytes": 29672, "fits_boards": ["nRF52840"], "tflm_night_epochs": 540,
           "tflm_night_agreement_torch": 0.99444}
    line = stateful_lines([row])[0]
    assert "first hour 0.197, last hour 0.248" in line and "540 epochs" in line and "99.44 %" in line
    failed = stateful_lines([{**row, "tflm_night_epochs": None, "tflm_night_reason": "TFLite Micro exit status -11"}])[0]
    assert "FAILED: TFLite Micro exit status -11" in failed
