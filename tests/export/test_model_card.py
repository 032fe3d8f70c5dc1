"""Model cards beside every exported model, every figure read from the manifests."""
from __future__ import annotations

import json

from sleepedge.export.card import CARD_NAME, cards_from_export, model_card
from sleepedge.run.manifest import read_manifest


def test_a_card_beside_every_model_listed_in_the_manifest(stream_run):
    m = read_manifest(stream_run / "export")
    for model in ("baseline", "compressed", "deepsleepnet"):
        assert m["outputs"][f"{model}/model_card"]["path"] == f"{model}/{CARD_NAME}"
        assert (stream_run / "export" / model / CARD_NAME).is_file()


def test_cards_are_rebuilt_byte_for_byte_from_the_manifests(stream_run):
    for model, text in cards_from_export(stream_run / "export").items():
        assert (stream_run / "export" / model / CARD_NAME).read_text() == text, model


def test_card_figures_come_from_the_rows_and_the_train_manifest(stream_run):
    m = read_manifest(stream_run / "export")
    rows = m["metrics"]["rows"]
    train = read_manifest(stream_run / "train", verify=False)
    compress = read_manifest(stream_run / "compress", verify=False)
    card = model_card("compressed", rows, train, compress, m["env"])
    r = next(r for r in rows if r["model"] == "compressed" and r["format"] == "onnx_fp32")
    lo, hi = r["accuracy_ci"]
    assert f"Parameters: {r['params']:,}" in card and f"{r['macs_per_epoch'] / 1e6:.2f} M" in card
    assert f"{r['file_bytes'] / 1024:,.1f} KiB" in card
    assert f"{100 * r['accuracy']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]" in card
    assert "SYNTHETIC data (test)" in card and "test [1, 2, 3]" in card and "`s2-test`" in card
    assert "PyTorch fp32 (train/compress stage): accuracy 45.0" in card  # compress manifest's test_accuracy
    assert f"onnxruntime {m['env']['packages']['onnxruntime']}" in card
    # change a figure in the rows: the card follows (nothing in it is typed by hand)
    edited = json.loads(json.dumps(rows))
    for e in edited:
        if e["model"] == "compressed":
            e["params"], e["file_bytes"] = 123_456_789, 987_654_321
    other = model_card("compressed", edited, train, compress, m["env"])
    assert "Parameters: 123,456,789" in other and "964,506.2 KiB" in other and "123,456,789" not in card


def test_card_lists_known_limitations(stream_run):
    card = (stream_run / "export" / "compressed" / CARD_NAME).read_text()
    limits = card.split("## Known limitations", 1)[1]
    assert "SYNTHETIC EEG" in limits and "3 test subjects" in limits and "peephole" in limits


def test_card_tells_to_reset_the_fused_lstm_state_of_every_fused_keras_file():
    from sleepedge.export.card import _limitations

    rows = [{"format": "tflite_int8", "converter": "keras", "lstm": "fused", "status": "ok"},
            {"format": "stream_tflite_int8", "converter": "keras", "lstm": "fused", "status": "ok", "kind": "stream"},
            {"format": "tflite_int8_unrolled", "converter": "keras", "lstm": "unrolled", "status": "ok", "n_ops": 625},
            {"format": "tflite_int8_onnx2tf", "converter": "onnx2tf", "status": "ok"}]
    text = "\n".join(_limitations("m", rows, {}))
    assert "tflite_int8, stream_tflite_int8: the fused LSTM keeps its state in variable tensors" in text
    assert "tflite_int8_unrolled: LSTM unrolled (625 operators) for speed on x86 hosts" in text
    assert "tflite_int8_onnx2tf:" not in text
