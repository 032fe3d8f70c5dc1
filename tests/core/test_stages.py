"""Stages are transactions: interrupted anywhere, the old stage is intact or the new one complete.

Also: a kept build folder resumes only with the same settings, a swap cut by a crash is repaired,
and a stage made from an older parent is stale (transitively).
"""
import json
import os
from pathlib import Path

import pytest

import sleepedge.run.transaction as st
from sleepedge.config.settings import ConfigError
from sleepedge.run.manifest import ManifestError, StageExistsError, atomic_write_text, read_manifest, write_manifest
from sleepedge.run.transaction import (
    StaleStageError, old_dir, partial_dir, recover_run, require_fresh, stage_transaction, stale_reason,
)


def finished(stage_dir: Path, text: str, parent: Path | None = None) -> Path:
    """A finished stage holding one output ``out.txt`` with ``text``."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    out = atomic_write_text(stage_dir / "out.txt", text, overwrite=True)
    write_manifest(stage_dir, stage_dir.name, outputs={"out": out}, parent=parent)
    return stage_dir


def build(stage_dir: Path, text: str, fail_at: str = "", overwrite: bool = True, resume_key=None) -> None:
    """Run one transaction that writes ``out.txt`` then the manifest, raising at ``fail_at``."""
    with stage_transaction(stage_dir, overwrite=overwrite, resume_key=resume_key) as tmp:
        if fail_at == "start":
            raise KeyboardInterrupt
        atomic_write_text(tmp / "out.txt", text)
        if fail_at == "outputs":
            raise KeyboardInterrupt
        write_manifest(tmp, stage_dir.name, outputs={"out": tmp / "out.txt"})
        if fail_at == "manifest":
            raise RuntimeError("failed after the manifest")


def state(stage_dir: Path) -> str:
    """The text of the stage's output after verifying the whole stage."""
    m = read_manifest(stage_dir)
    return (stage_dir / m["outputs"]["out"]["path"]).read_text()


@pytest.mark.parametrize("fail_at", ["start", "outputs", "manifest"])
def test_interrupted_build_leaves_the_old_stage_intact(tmp_path, fail_at):
    stage = finished(tmp_path / "export", "old")
    with pytest.raises((KeyboardInterrupt, RuntimeError)):
        build(stage, "new", fail_at=fail_at)
    assert state(stage) == "old"
    assert not partial_dir(stage).exists() and not old_dir(stage).exists()


def test_successful_build_replaces_the_stage(tmp_path):
    stage = finished(tmp_path / "export", "old")
    build(stage, "new")
    assert state(stage) == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".sleepedge.lock", "export"]


def test_finished_stage_needs_overwrite(tmp_path):
    stage = finished(tmp_path / "export", "old")
    with pytest.raises(StageExistsError, match="overwrite"):
        build(stage, "new", overwrite=False)
    assert state(stage) == "old"


def test_folder_that_is_not_a_stage_is_never_replaced(tmp_path):
    foreign = tmp_path / "models"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    with pytest.raises(StageExistsError, match="not a finished stage"):
        build(foreign, "new")
    assert (foreign / "mine.txt").read_text() == "keep me"


@pytest.mark.parametrize("crash_after_renames", [1, 2])
def test_swap_cut_by_a_crash_is_repaired(tmp_path, monkeypatch, crash_after_renames):
    """Kill the swap after its first rename (old moved away) or after both (old not yet deleted)."""
    stage = finished(tmp_path / "export", "old")
    real_rename, calls = os.rename, []

    def rename(a, b):
        real_rename(a, b)
        calls.append(b)
        if len(calls) == crash_after_renames:
            raise SystemExit("power cut")

    monkeypatch.setattr(st.os, "rename", rename)
    with pytest.raises(SystemExit):
        build(stage, "new")
    monkeypatch.undo()
    assert old_dir(stage).exists()
    recover_run(tmp_path)
    assert state(stage) == "new"  # the new stage was complete: the swap is finished, not undone
    assert not old_dir(stage).exists() and not partial_dir(stage).exists()


def test_swap_cut_before_the_new_stage_was_complete_is_undone(tmp_path):
    stage = finished(tmp_path / "export", "old")
    os.rename(stage, old_dir(stage))  # the old stage moved away, the build folder has no manifest
    partial_dir(stage).mkdir()
    recover_run(tmp_path)
    assert state(stage) == "old"


def test_resumable_build_is_kept_and_resumed_with_the_same_settings(tmp_path):
    stage = tmp_path / "train"
    with pytest.raises(KeyboardInterrupt):
        with stage_transaction(stage, resume_key={"train": {"epochs": 3}}) as tmp:
            atomic_write_text(tmp / "train_state.pt", "epoch 2")
            raise KeyboardInterrupt
    assert (partial_dir(stage) / "train_state.pt").is_file() and not stage.exists()
    with pytest.raises(ConfigError, match="train.epochs"):
        with stage_transaction(stage, resume_key={"train": {"epochs": 9}}):
            pass
    with stage_transaction(stage, resume_key={"train": {"epochs": 3}}) as tmp:
        assert (tmp / "train_state.pt").read_text() == "epoch 2"
        write_manifest(tmp, "train", outputs={"state": tmp / "train_state.pt"})
    assert read_manifest(stage)["stage"] == "train" and not (stage / st.RESUME_KEY).exists()


def test_overwrite_discards_a_build_started_with_other_settings(tmp_path):
    stage = tmp_path / "train"
    with pytest.raises(KeyboardInterrupt):
        with stage_transaction(stage, resume_key={"epochs": 3}) as tmp:
            atomic_write_text(tmp / "train_state.pt", "epoch 2")
            raise KeyboardInterrupt
    with stage_transaction(stage, resume_key={"epochs": 9}, overwrite=True) as tmp:
        assert not (tmp / "train_state.pt").exists()
        write_manifest(tmp, "train", outputs={})


def test_a_stage_made_from_an_older_parent_is_stale_transitively(tmp_path):
    train = finished(tmp_path / "train", "t1")
    compress = finished(tmp_path / "compress", "c1", parent=train)
    export = finished(tmp_path / "export", "e1", parent=compress)
    assert stale_reason(export) is None
    require_fresh(export)
    finished(train, "t2")  # train redone: its manifest changed
    assert "another train" in stale_reason(compress)
    assert "compress is stale" in stale_reason(export)
    with pytest.raises(StaleStageError, match="sleepedge export --run"):
        require_fresh(export)


def test_a_missing_parent_makes_a_run_stage_stale_but_not_a_bundle_stage(tmp_path):
    compress = finished(tmp_path / "compress", "c")
    export = finished(tmp_path / "export", "e", parent=compress)
    m = json.loads((export / "manifest.json").read_text())
    m["parent"]["manifest"]["path"] = "/nonexistent/compress/manifest.json"
    (export / "manifest.json").write_text(json.dumps(m))
    import shutil

    shutil.rmtree(compress)
    assert "missing" in stale_reason(export)
    (tmp_path / "bundle.json").write_text("{}")  # an unpacked bundle ships no parent stages
    assert stale_reason(export) is None


def test_check_made_before_the_bench_finished_is_stale(tmp_path):
    export = finished(tmp_path / "export", "e")
    check = finished(tmp_path / "check", "c", parent=export)
    assert stale_reason(check) is None
    finished(tmp_path / "bench", "b", parent=export)
    assert "before" in stale_reason(check)


@pytest.mark.parametrize("text", ["[]", "{nope", "null"])
def test_malformed_manifest_is_a_manifest_error(tmp_path, text):
    d = tmp_path / "export"
    d.mkdir()
    (d / "manifest.json").write_text(text)
    with pytest.raises(ManifestError, match="manifest.json"):
        stale_reason(d)
    with pytest.raises(ManifestError, match="manifest.json"):
        read_manifest(d)


def test_the_current_folder_is_never_replaced_by_a_stage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageExistsError, match="current or root folder"):
        with stage_transaction("."):
            pass
