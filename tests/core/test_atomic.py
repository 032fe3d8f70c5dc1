"""Atomic writes: the umask decides the mode, and a new file is never silently replaced by a racing writer."""
import os
import stat
from pathlib import Path

import pytest

from sleepedge.run.atomic import atomic_copy, atomic_write_bytes, atomic_write_json, current_umask


@pytest.fixture
def umask():
    """Set the umask for one test and restore it after."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda m: os.umask(m)
    os.umask(saved)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_mode_the_umask_allows(tmp_path, umask, mask, mode):
    umask(mask)
    assert current_umask() == mask
    a = atomic_write_bytes(tmp_path / "a.bin", b"x")
    b = atomic_copy(a, tmp_path / "b.bin")
    c = atomic_write_json(tmp_path / "c.json", {"k": 1})
    for p in (a, b, c):
        assert stat.S_IMODE(p.stat().st_mode) == mode, p


def test_a_file_created_meanwhile_is_not_replaced(tmp_path, monkeypatch):
    """The exists() check passes, then another writer creates the file: the second write must refuse."""
    target = tmp_path / "result.json"
    target.write_text("first writer's result")
    monkeypatch.setattr(Path, "exists", lambda self: False)  # as if the file appeared after the check
    with pytest.raises(FileExistsError, match="result.json"):
        atomic_write_json(target, {"second": True})
    monkeypatch.undo()
    assert target.read_text() == "first writer's result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]  # no temporary file left


def test_overwrite_replaces_in_one_step(tmp_path):
    p = atomic_write_bytes(tmp_path / "m.bin", b"old")
    atomic_write_bytes(p, b"new", overwrite=True)
    assert p.read_bytes() == b"new" and len(list(tmp_path.iterdir())) == 1
