import json

import pytest

from sleepedge.run.manifest import (
    ManifestError, StageExistsError, atomic_write_text, output_path, prepare_stage_dir, read_manifest, write_manifest,
)


def test_atomic_write_refuses_overwrite(tmp_path):
    p = atomic_write_text(tmp_path / "a.txt", "one")
    with pytest.raises(FileExistsError, match="a.txt"):
        atomic_write_text(p, "two")
    atomic_write_text(p, "two", overwrite=True)
    assert p.read_text() == "two"
    assert [x.name for x in tmp_path.iterdir()] == ["a.txt"]  # no temp files left behind


def test_manifest_round_trip_and_checksum(tmp_path):
    d = prepare_stage_dir(tmp_path, "train")
    out = atomic_write_text(d / "model.bin", "weights")
    write_manifest(d, "train", outputs={"model": out}, config={"x": 1}, metrics={"acc": 0.5}, seed=3)
    m = read_manifest(d)
    assert m["stage"] == "train" and m["seed"] == 3 and m["outputs"]["model"]["path"] == "model.bin"
    assert output_path(d, m, "model") == out
    assert "packages" in m["env"] and "machine" in m["env"]["device"]
    out.write_text("tampered")
    with pytest.raises(ManifestError, match="sha256"):
        read_manifest(d)


def test_finished_stage_not_overwritten(tmp_path):
    d = prepare_stage_dir(tmp_path, "train")
    write_manifest(d, "train", outputs={})
    with pytest.raises(StageExistsError, match="overwrite"):
        prepare_stage_dir(tmp_path, "train")
    assert prepare_stage_dir(tmp_path, "train", overwrite=True).is_dir()


def test_parent_manifest_recorded(tmp_path):
    p = prepare_stage_dir(tmp_path, "train")
    write_manifest(p, "train", outputs={})
    c = prepare_stage_dir(tmp_path, "compress")
    write_manifest(c, "compress", outputs={}, parent=p)
    m = json.loads((c / "manifest.json").read_text())
    assert m["parent"]["stage"] == "train" and len(m["parent"]["manifest"]["sha256"]) == 64


def test_malformed_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text("{nope")
    with pytest.raises(ManifestError, match="JSON"):
        read_manifest(tmp_path)
