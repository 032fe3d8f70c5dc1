"""One lock per run folder, so two sleepedge commands never write (or read half-written) one run.

A command that writes into a run folder holds an exclusive lock on ``RUN/.sleepedge.lock``; a
command that only reads it (``sleepedge check``) holds a shared one. A second command does not
wait: it refuses at once with :class:`RunLockedError`, naming the folder and the command holding it,
because a stage can run for hours and a silent wait looks like a hang.

``fcntl.flock`` is used (standard library, POSIX): the kernel drops the lock when its holder exits,
even on SIGKILL, so a crashed command never leaves a stale lock behind (the lock *file* stays; it
is only a handle). Locks are re-entrant within one process: the pipeline holds the run's lock and
calls the stages, which take it again. Standard library only (the bench runs on a board).
"""
from __future__ import annotations

import datetime as _dt
import errno
import logging
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking (documented)
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
LOCK_NAME = ".sleepedge.lock"


class RunLockedError(OSError):
    """Another sleepedge command holds the run folder's lock."""


@dataclass
class _Held:
    fd: int
    exclusive: bool
    count: int = 1


_HELD: dict[str, _Held] = {}


def lock_path(folder: str | Path, name: str | None = None) -> Path:
    """The lock file of a run folder, or (``name``) of the one entry ``name`` in an ordinary folder."""
    return Path(folder) / (LOCK_NAME if name is None else f".{name}.sleepedge.lock")


def _holder(path: Path) -> str:
    try:
        text = path.read_text("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" ({text})" if text else ""


def _open(path: Path, exclusive: bool) -> int | None:
    """An fd on the lock file (a writer creates it); ``None`` for a reader where none exists.

    A reader never creates the file, so checking a committed folder leaves no trace in it; where no
    writer has ever run there is nothing to wait for.
    """
    if exclusive:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as exc:
        log.debug("%s: no lock file to share (%s); reading without a lock", path, exc)
        return None


def _flock(fd: int, exclusive: bool) -> bool:
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            log.warning("the filesystem does not support locks (%s): running without the run folder's lock", exc)
            return True  # some network filesystems: better unlocked than unusable
        raise


def _refuse(folder: Path, path: Path, exclusive: bool) -> RunLockedError:
    what = "writing" if exclusive else "reading"
    return RunLockedError(f"{folder}: in use by another sleepedge command{_holder(path)}; {what} it now could mix "
                          "two runs' files. Wait until that command has finished, or use another folder")


def _note_holder(fd: int) -> None:
    """Write who holds the lock into the lock file (shown to the command that is refused)."""
    cmd = " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))[:300]
    when = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()}: {cmd}, since {when}\n".encode(), 0)


def _acquire(folder: Path, path: Path, exclusive: bool) -> str | None:
    key = str(path.resolve())
    held = _HELD.get(key)
    if held is not None:
        if exclusive and not held.exclusive:  # upgrade a shared lock this process holds
            if not _flock(held.fd, True):
                _flock(held.fd, False)  # flock may drop the shared lock when the upgrade fails
                raise _refuse(folder, path, True)
            held.exclusive = True
        held.count += 1
        return key
    fd = _open(path, exclusive)
    if fd is None:
        return None
    if not _flock(fd, exclusive):
        os.close(fd)
        raise _refuse(folder, path, exclusive)
    if exclusive:
        _note_holder(fd)
    _HELD[key] = _Held(fd, exclusive)
    return key


def _release(key: str | None) -> None:
    if key is None:
        return
    held = _HELD[key]
    held.count -= 1
    if held.count == 0:
        del _HELD[key]
        os.close(held.fd)  # closing the last fd drops the flock


def check_folder(folder: str | Path, what: str = "run folder") -> Path:
    """``folder`` as a Path, refusing a path that exists and is not a folder."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"not a folder (expected a {what})", str(folder))
    return folder


@contextmanager
def run_lock(folder: str | Path, shared: bool = False, create: bool = True, name: str | None = None) -> Iterator[Path]:
    """Hold the lock of ``folder`` for the ``with`` block (exclusive unless ``shared``).

    Parameters
    ----------
    folder
        The run folder (created when missing and ``create``; a regular file there is refused).
    shared
        A reader's lock: several readers may hold it at once, never together with a writer.
    create
        Create a missing folder (writers); a reader of a missing folder, or of one no writer ever
        locked (no lock file), gets no lock.
    name
        Lock only the entry ``name`` of ``folder`` (an output folder outside a run), not the whole folder.

    Raises
    ------
    RunLockedError
        Another process holds a conflicting lock (refused at once, never waited for).
    NotADirectoryError
        ``folder`` exists and is not a folder.
    """
    folder = check_folder(folder)
    if fcntl is None or (not folder.exists() and not create):
        yield folder
        return
    folder.mkdir(parents=True, exist_ok=True)
    key = _acquire(folder / name if name else folder, lock_path(folder, name), exclusive=not shared)
    try:
        yield folder
    finally:
        _release(key)


def holds_lock(folder: str | Path, exclusive: bool = True, name: str | None = None) -> bool:
    """Whether this process holds ``folder``'s lock (exclusively, when ``exclusive``)."""
    held = _HELD.get(str(lock_path(folder, name).resolve()))
    return held is not None and (held.exclusive or not exclusive)
