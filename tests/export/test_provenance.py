"""Every exported file carries its provenance in the format's own metadata (sleepedge.export.provenance), written
before the file is checked, measured, hashed or turned into a C array; read back without TensorFlow."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sleepedge.core.errors import DataError
from sleepedge.firmware_bench.provenance import KEY, SCHEMA, read_provenance
from sleepedge.run.manifest import read_manifest, sha256_file

PER_FILE = {"format", "precision", "part", "int8_input"}  # what differs between the files of one model


def _files(row: dict) -> list[str]:
    return list(row["files"].values()) if row.get("files") else [row["file"]]


def test_every_file_of_an_export_stage_carries_its_provenance(stream_run):
    export = stream_run / "export"
    manifest = read_manifest(export, verify=True)  # sha256 of the stamped files: stamped before hashing
    rows = [r for r in manifest["metrics"]["rows"] if r["status"] == "ok"]
    assert {r["model"] for r in rows} == {"baseline", "compressed", "deepsleepnet"}
    digests = {"parent_stage": "compress", "parent_manifest_sha256": sha256_file(stream_run / "compress" / "manifest.json"),
               "train_manifest_sha256": sha256_file(stream_run / "train" / "manifest.json")}
    for r in rows:
        docs = [read_provenance(export / f) for f in _files(r)]
        assert sum(Path(export / f).stat().st_size for f in _files(r)) == r["file_bytes"]
        assert docs[0] == r["provenance"]  # the row records what its (first) file holds
        for doc, part in zip(docs, ["features", "head"] if r.get("files") else [None]):
            assert doc["schema"] == SCHEMA and doc["part"] == part and doc["model"] == r["model"]
            assert doc["dataset"] == {"name": "synthetic", "synthetic": True, "label": "SYNTHETIC data (test)"}
            assert (doc["channel"], doc["sfreq_hz"], doc["epoch_s"], doc["epoch_samples"]) == ("EEG Fpz-Cz", 100.0, 30, 3000)
            assert doc["seq_len"] == r["seq_len"] and doc["params"] == r["params"] and doc["format"] == r["format"]
            assert doc["labels"] == ["W", "N1", "N2", "N3", "REM"] and doc["inputs_digest"] == digests
            assert doc["untrained"] is (r["model"] == "deepsleepnet")


def test_training_input_statistics_come_from_calib_npz(stream_run):
    from sleepedge.export.provenance import PERCENTILES

    with np.load(stream_run / "train" / "calib.npz") as z:
        x, y = z["x"], z["y"]
    row = read_manifest(stream_run / "export")["metrics"]["rows"][0]
    stats = row["provenance"]["input_stats"]
    assert stats["source"] == "calib.npz" and stats["epochs"] == x.shape[0] * x.shape[1]
    assert stats["abs_uv"] == pytest.approx(np.percentile(np.abs(x), PERCENTILES), rel=1e-4, abs=1e-3)
    assert stats["calibration"]["clip_uv"] == pytest.approx(read_manifest(stream_run / "export")["metrics"]["calib_clip_uv"])
    profiles = stats["spectrum"]["profiles_db"]
    assert set(profiles) == {"all"} | {["W", "N1", "N2", "N3", "REM"][k] for k in np.unique(y)}
    # the fixture's N3 is a 1.5-Hz rhythm, its W a 10-Hz one: the slowest band tells them apart
    assert profiles["N3"][0] > profiles["W"][0] + 6 and profiles["W"][3] > profiles["N3"][3] + 6


def test_old_file_without_provenance_reads_none(onnx_run_master):
    assert read_provenance(onnx_run_master / "export" / "compressed" / "model.onnx") is None


def test_damaged_onnx_provenance_is_a_data_error(stream_run, tmp_path):
    import onnx

    bad = tmp_path / "bad.onnx"
    model = onnx.load(str(stream_run / "export" / "compressed" / "stream_onnx_fp32" / "head.onnx"))
    next(p for p in model.metadata_props if p.key == KEY).value = '{"schema": "sleepedge.provenance/1", '
    bad.write_bytes(model.SerializeToString())
    with pytest.raises(DataError, match="bad.onnx: damaged provenance"):
        read_provenance(bad)
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07junk")
    with pytest.raises(DataError, match="junk.onnx"):
        read_provenance(tmp_path / "junk.onnx")


# --- TFLite: the one converted export of the session (tiny_export), no conversion of its own ---------------------

def test_tflite_and_onnx_of_one_export_carry_the_same_provenance(tiny_export):
    out, rows = tiny_export
    ok = {f: r for f, r in rows.items() if r["status"] == "ok"}
    assert {"onnx_fp32", "tflite_int8", "stream_tflite_int8"} <= set(ok)
    docs = {(f, p): read_provenance(out / p) for f, r in ok.items() for p in _files(r)}
    shared = [{k: v for k, v in d.items() if k not in PER_FILE} for d in docs.values()]
    assert all(s == shared[0] for s in shared), "provenance differs between the files of one export"
    for (fmt, path), doc in docs.items():
        r = ok[fmt]
        assert doc["format"] == fmt and doc["precision"] == r["precision"]
        if path.endswith(".tflite") and r["input_dtype"] == "int8" and doc["part"] != "head":
            assert (doc["int8_input"]["scale"], doc["int8_input"]["zero_point"]) == (r["input_scale"], r["input_zero_point"])
            assert doc["int8_input"]["dtype"] == "int8" and doc["int8_input"]["unit"] == "uV"
        elif r["input_dtype"] == "float32":
            assert doc["int8_input"] is None


def test_c_array_holds_the_stamped_file(tiny_export):
    from sleepedge.export.carray import read_c_array

    out, rows = tiny_export
    row = rows["tflite_int8"]
    assert row["status"] == "ok" and row["tflm_status"] == "ok"
    model = out / row["file"]
    assert read_c_array(out / row["c_source"]) == model.read_bytes() and row["file_bytes"] == model.stat().st_size


def test_tflite_provenance_reads_back_without_tensorflow(tiny_export):
    out, rows = tiny_export
    path = out / rows["tflite_int8"]["file"]
    code = ("import json, sys; from sleepedge.firmware_bench.provenance import read_provenance; "
            f"d = read_provenance({str(path)!r}); "
            "print(json.dumps([d['model'], d['format'], 'tensorflow' in sys.modules]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert json.loads(r.stdout.strip().splitlines()[-1]) == ["baseline", "tflite_int8", False], r.stderr[-2000:]


def _without_provenance(data: bytes) -> bytes:
    """The flatbuffer with the provenance entry dropped: a file as exported before sleepedge wrote it."""
    import flatbuffers

    from sleepedge.firmware_bench.tflite_file import schema

    fb = schema()
    model = fb.ModelT.InitFromObj(fb.Model.GetRootAs(data, 0))
    model.metadata = [m for m in model.metadata if m.name != KEY.encode()]
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_tflite_without_or_with_damaged_provenance(tiny_export, tmp_path):
    from sleepedge.export.provenance import tflite_with_metadata

    out, rows = tiny_export
    data = (out / rows["tflite_int8"]["file"]).read_bytes()
    old = tmp_path / "old.tflite"
    old.write_bytes(_without_provenance(data))
    assert read_provenance(old) is None
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(tflite_with_metadata(data, KEY, b"\xff{not json"))
    with pytest.raises(DataError, match="bad.tflite: damaged provenance"):
        read_provenance(bad)
    bad.write_bytes(tflite_with_metadata(data, KEY, b'{"schema": "other/9"}'))
    with pytest.raises(DataError, match="not of schema sleepedge.provenance/1"):
        read_provenance(bad)
    (tmp_path / "cut.tflite").write_bytes(data[:200])
    with pytest.raises(DataError, match="cut.tflite"):
        read_provenance(tmp_path / "cut.tflite")
