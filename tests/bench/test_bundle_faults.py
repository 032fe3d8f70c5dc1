"""Bundles stay confined and unpack safely: planted members, foreign paths, an interrupted unpack."""
from __future__ import annotations

import io
import json
import tarfile

import pytest

from sleepedge.core.errors import DataError
from sleepedge.firmware_bench import make_bundle, unpack_bundle
from sleepedge.firmware_bench.targets import locate_test_sample, read_export
from sleepedge.run.manifest import ManifestError


def _members(tar_path):
    with tarfile.open(tar_path) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}


def _tar(path, members):
    with tarfile.open(path, "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def members(onnx_run, tmp_path):
    return _members(make_bundle(onnx_run, tmp_path / "good.tar"))


def test_a_manifest_pointing_outside_the_bundle_is_refused(members, tmp_path):
    secret = tmp_path / "secret.onnx"
    secret.write_bytes(b"a file of the board, not of the bundle")
    m = json.loads(members["export/manifest.json"])
    entry = next(iter(m["outputs"].values()))
    del members[f"export/{entry['path']}"]  # a member no longer listed would be refused at unpacking
    entry["path"] = str(secret)
    members["export/manifest.json"] = json.dumps(m).encode()
    out = unpack_bundle(_tar(tmp_path / "evil.tar", members), tmp_path / "board")
    with pytest.raises(ManifestError, match="outside its stage folder"):
        read_export(out)


def test_a_test_sample_outside_the_bundle_is_refused(members, tmp_path):
    info = json.loads(members["bundle.json"])
    info["test"]["path"] = "../../elsewhere/test.npz"
    members["bundle.json"] = json.dumps(info).encode()
    out = unpack_bundle(_tar(tmp_path / "evil.tar", members), tmp_path / "board")
    with pytest.raises(ManifestError, match="outside the unpacked bundle"):
        locate_test_sample(out)


@pytest.mark.parametrize("planted", ["bench/manifest.json", ".sleepedge.lock", "train/manifest.json"])
def test_only_bundle_files_are_unpacked(members, tmp_path, planted):
    members[planted] = b"{}"
    with pytest.raises(DataError, match="unexpected member"):
        unpack_bundle(_tar(tmp_path / "evil.tar", members), tmp_path / "board")
    assert not (tmp_path / "board").exists()


def test_an_interrupted_unpack_is_redone(members, onnx_run, tmp_path):
    board = tmp_path / "board"
    (board / "export").mkdir(parents=True)
    (board / "export" / "manifest.json").write_bytes(members["export/manifest.json"][:10])  # cut short
    (board / "test.npz").write_bytes(members["test.npz"])  # bundle.json (written last) never came
    out = unpack_bundle(make_bundle(onnx_run, tmp_path / "b.tar"), board)
    read_export(out)
    locate_test_sample(out)
