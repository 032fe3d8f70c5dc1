"""Two commands on one run folder: the second refuses at once and clearly; nothing is half-written."""
import multiprocessing as mp
import subprocess
import sys

import pytest

from sleepedge.run.locking import RunLockedError, holds_lock, run_lock
from sleepedge.run.transaction import stage_transaction

CTX = mp.get_context("fork")


def _hold(folder, shared, ready, release):
    with run_lock(folder, shared=shared):
        ready.set()
        release.wait(60)


@pytest.fixture
def holder():
    """Start a process that holds a folder's lock until the test ends."""
    procs = []

    def start(folder, shared=False):
        ready, release = CTX.Event(), CTX.Event()
        p = CTX.Process(target=_hold, args=(folder, shared, ready, release))
        p.start()
        assert ready.wait(60)
        procs.append((p, release))
        return p

    yield start
    for p, release in procs:
        release.set()
        p.join(60)


def test_second_writer_is_refused_naming_the_holder(tmp_path, holder):
    run = tmp_path / "run"
    p = holder(run)
    with pytest.raises(RunLockedError, match=rf"{run}: in use by another sleepedge command \(pid {p.pid}"):
        with run_lock(run):
            pass
    with pytest.raises(RunLockedError):  # a reader too: it could see a stage being swapped
        with run_lock(run, shared=True):
            pass


def test_a_stage_is_not_built_while_another_command_holds_the_run(tmp_path, holder):
    run = tmp_path / "run"
    holder(run)
    with pytest.raises(RunLockedError):
        with stage_transaction(run / "export"):
            raise AssertionError("must not be reached")
    assert sorted(p.name for p in run.iterdir()) == [".sleepedge.lock"]  # nothing written


def test_readers_share_the_lock(tmp_path, holder):
    run = tmp_path / "run"
    with run_lock(run):  # a run some writer made (readers never create the lock file)
        pass
    holder(run, shared=True)
    with run_lock(run, shared=True):
        pass
    with pytest.raises(RunLockedError):
        with run_lock(run):
            pass


def test_lock_is_reentrant_in_one_process(tmp_path):
    with run_lock(tmp_path):
        with run_lock(tmp_path, shared=True):
            with stage_transaction(tmp_path / "bench") as tmp:
                from sleepedge.run.manifest import write_manifest

                write_manifest(tmp, "bench", outputs={})
        assert holds_lock(tmp_path)
    assert not holds_lock(tmp_path, exclusive=False)


def test_the_cli_refuses_a_run_in_use_with_one_line_and_exit_2(tmp_path, holder):
    run = tmp_path / "run"
    holder(run)
    r = subprocess.run([sys.executable, "-m", "sleepedge.commands.cli", "train", "--preset", "tiny", "--dataset", "synthetic",
                        "--out", str(run)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "in use by another sleepedge command" in lines[0] and str(run) in lines[0]


def test_a_regular_file_as_run_folder_is_refused(tmp_path):
    f = tmp_path / "run"
    f.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        with run_lock(f):
            pass


def test_a_filesystem_without_locks_runs_unlocked(tmp_path, monkeypatch, caplog):
    import errno

    import sleepedge.run.locking as locking

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(locking.fcntl, "flock", no_locks)
    with run_lock(tmp_path / "run"):
        pass
    assert "does not support locks" in caplog.text


def test_a_reader_leaves_no_lock_file_behind(tmp_path):
    with run_lock(tmp_path, shared=True):
        pass
    assert list(tmp_path.iterdir()) == []
