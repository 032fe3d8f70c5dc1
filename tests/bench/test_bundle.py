"""Bundle round trip: pack on the host, bench from the bundle, same results layout and predictions."""
from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from fixtures.settings import fast_settings

from sleepedge.core.errors import DataError
from sleepedge.firmware_bench import bench_from_bundle, make_bundle, run_bench, unpack_bundle
from sleepedge.run.manifest import ManifestError


def test_bundle_round_trip_gives_the_same_predictions(onnx_run, tmp_path):
    settings = fast_settings(rounds=1, test_sequences=2)
    tar = make_bundle(onnx_run, tmp_path / "b.tar", test_sequences=settings.test_sequences)
    with tarfile.open(tar) as t:
        names = set(t.getnames())
    assert {"bundle.json", "test.npz", "export/manifest.json", "export/baseline/model.onnx",
            "export/compressed/model.onnx"} <= names
    assert not any(n.endswith(".pt") for n in names), "no PyTorch checkpoints on the board"
    host = run_bench(onnx_run, settings)
    board = bench_from_bundle(tar, tmp_path / "board", settings)
    assert (tmp_path / "board" / "bench" / "results.json").is_file()
    assert [r["key"] for r in board] == [r["key"] for r in host]
    assert set(board[0]) == set(host[0])
    assert all(r["test_epochs"] == 2 * 3 for r in board)
    with np.load(onnx_run / "bench" / "predictions.npz") as a, np.load(tmp_path / "board" / "bench" / "predictions.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(FileExistsError):
        make_bundle(onnx_run, tar)


def test_tampered_bundle_is_refused(onnx_run, tmp_path):
    tar = make_bundle(onnx_run, tmp_path / "b.tar")
    out = unpack_bundle(tar, tmp_path / "board")
    (out / "export" / "baseline" / "model.onnx").write_bytes(b"changed")
    with pytest.raises(ManifestError, match="sha256"):
        run_bench(out, fast_settings(rounds=1))


def test_unsafe_member_and_non_bundle_are_refused(tmp_path):
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as t:
        for name in ("bundle.json", "export/manifest.json", "../outside.txt"):
            info = tarfile.TarInfo(name)
            data = json.dumps({"schema": "sleepedge.bench-bundle/1"}).encode()
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match="unsafe"):
        unpack_bundle(evil, tmp_path / "out")
    assert not (tmp_path / "outside.txt").exists()
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as t:
        t.add(evil, arcname="something.tar")
    with pytest.raises(DataError, match="not a sleepedge bench bundle"):
        unpack_bundle(plain, tmp_path / "out2")
