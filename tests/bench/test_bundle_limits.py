"""Unpacking a bundle is bounded: member count, member size, total size, members the bundle does not list, and
symbolic links inside --out are refused before anything is written; members stream to disk."""
from __future__ import annotations

import io
import json
import os
import tarfile
import tracemalloc
from pathlib import Path

import pytest

import sleepedge.firmware_bench.bundle as bundle
from sleepedge.commands.cli import main
from sleepedge.core.errors import DataError
from sleepedge.firmware_bench.bundle import BundleLimits, recorded_export_manifest, unpack_bundle

MODEL = "baseline/model.onnx"
SMALL = BundleLimits(total_bytes=10_000, members=8, member_bytes=4_000, json_bytes=2_000)


def _files(model: bytes = b"m" * 100, extra: dict[str, bytes] | None = None) -> dict[str, bytes]:
    """A minimal bundle (unpacking checks structure and limits; the bench checks the sha256 afterwards)."""
    manifest = {"stage": "export", "outputs": {"baseline/onnx_fp32": {"path": MODEL, "sha256": "0" * 64}}}
    return {"bundle.json": json.dumps({"schema": bundle.SCHEMA, "test": {"path": "test.npz"}}).encode(),
            "export/manifest.json": json.dumps(manifest).encode(), "test.npz": b"t" * 10,
            f"export/{MODEL}": model, **(extra or {})}


def _tar(path: Path, files: dict[str, bytes], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def test_a_listed_bundle_within_the_limits_unpacks(tmp_path):
    out = unpack_bundle(_tar(tmp_path / "b.tar", _files()), tmp_path / "board", SMALL)
    assert (out / "export" / MODEL).read_bytes() == b"m" * 100 and (out / "bundle.json").is_file()


def test_too_many_members_are_refused_at_the_limit(tmp_path):
    extra = {f"export/x{i}.bin": b"" for i in range(20)}
    with pytest.raises(DataError, match="more than 8 members"):
        unpack_bundle(_tar(tmp_path / "b.tar", _files(extra=extra)), tmp_path / "board", SMALL)
    assert not (tmp_path / "board").exists()


def test_a_member_over_the_member_limit_is_refused(tmp_path):
    with pytest.raises(DataError, match=f"'export/{MODEL}' claims 5,000 bytes"):
        unpack_bundle(_tar(tmp_path / "b.tar", _files(model=b"m" * 5_000)), tmp_path / "board", SMALL)
    assert not (tmp_path / "board").exists()


def test_members_over_the_total_limit_are_refused(tmp_path):
    files = _files(model=b"m" * 3_500, extra={"export/baseline/b.onnx": b"b" * 3_500, "export/c.onnx": b"c" * 3_500})
    with pytest.raises(DataError, match="more than 10,000 bytes"):
        unpack_bundle(_tar(tmp_path / "b.tar", files), tmp_path / "board", SMALL)
    assert not (tmp_path / "board").exists()


def test_a_header_claiming_a_huge_size_is_refused_at_its_header(tmp_path):
    """A 3 GiB member in an archive of a few KiB: refused from the header alone, nothing read or written."""
    raw = b""
    for name, data in _files().items():  # written block by block: the last header lies about its size
        info = tarfile.TarInfo(name)
        info.size = (3 << 30) if name == f"export/{MODEL}" else len(data)
        raw += info.tobuf(format=tarfile.GNU_FORMAT) + data + b"\0" * (-len(data) % 512)
    path = tmp_path / "b.tar"
    path.write_bytes(raw)
    assert path.stat().st_size < 10_000
    with pytest.raises(DataError, match="claims 3,221,225,472 bytes"):
        unpack_bundle(path, tmp_path / "board")  # the default limits (512 MiB per member)
    assert not (tmp_path / "board").exists()


def test_a_member_the_manifest_does_not_list_is_refused(tmp_path):
    files = _files(extra={"export/baseline/planted.so": b"x"})
    with pytest.raises(DataError, match="'export/baseline/planted.so' not listed"):
        unpack_bundle(_tar(tmp_path / "b.tar", files), tmp_path / "board", SMALL)
    assert not (tmp_path / "board").exists()


def test_a_large_json_member_is_not_read_into_memory(tmp_path):
    files = _files()
    files["export/manifest.json"] = files["export/manifest.json"] + b" " * 3_000
    with pytest.raises(DataError, match="export/manifest.json"):
        recorded_export_manifest(_tar(tmp_path / "b.tar", files), SMALL)


@pytest.mark.parametrize("link", ["export", "test.npz", "bench"])
def test_a_symlink_inside_out_is_refused_and_never_followed(link, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    board = tmp_path / "board"
    board.mkdir()
    os.symlink(elsewhere / ("t.npz" if link == "test.npz" else ""), board / link)
    with pytest.raises(FileExistsError, match="symbolic link"):
        unpack_bundle(_tar(tmp_path / "b.tar", _files()), board, SMALL)
    assert list(elsewhere.iterdir()) == []


def test_members_stream_to_disk(tmp_path):
    size = 16 << 20
    tar = _tar(tmp_path / "b.tar", _files(model=b"\0" * size))
    tracemalloc.start()
    try:
        unpack_bundle(tar, tmp_path / "board")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (tmp_path / "board" / "export" / MODEL).stat().st_size == size
    assert peak < size // 4  # never the whole member in memory


def test_the_cli_names_the_bundle_and_the_limit(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bundle, "MAX_MEMBERS", 3)
    tar = _tar(tmp_path / "b.tar", _files())
    assert main(["bench", "--from-bundle", str(tar), "--out", str(tmp_path / "board")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tar) in err and "more than 3 members" in err and "Traceback" not in err
    assert not (tmp_path / "board" / "export").exists()


def test_the_cli_refuses_a_symlink_in_out_before_locking_it(tmp_path, capsys):
    board = tmp_path / "board"
    board.mkdir()
    target = tmp_path / "victim"
    os.symlink(target, board / ".sleepedge.lock")
    assert main(["bench", "--from-bundle", str(_tar(tmp_path / "b.tar", _files())), "--out", str(board)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".sleepedge.lock" in err and "symbolic link" in err
    assert not target.exists()
