"""Atomic file writes that honour the umask and never replace a file by accident (standard library only).

Every file sleepedge writes goes through these functions: a reader never sees a half-written file,
an existing file is replaced only when asked, and of two processes racing to create one new file
exactly one succeeds (the other is told the file exists). ``sleepedge.run.manifest`` re-exports them.
"""
from __future__ import annotations

import errno
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO


def current_umask() -> int:
    """The process umask, read without changing it where Linux exposes it (``/proc/self/status``).

    ``os.umask`` can only be read by setting it, which races with other threads; /proc avoids that.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_beside(path: Path) -> tuple[int, str]:
    """A temporary file in ``path``'s folder, with the mode a plain ``open()`` would give (0666 & ~umask).

    ``tempfile.mkstemp`` creates 0600 files; renamed into place they would stay private whatever the umask.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
    except OSError:  # pragma: no cover - a filesystem without modes
        pass
    return fd, tmp


def _refuse_existing(path: Path) -> FileExistsError:
    return FileExistsError(f"{path}: exists; refusing to overwrite (pass --overwrite to replace it)")


def _publish(tmp: str, path: Path, overwrite: bool) -> None:
    """Move the finished temporary file to ``path``.

    With ``overwrite`` an atomic ``os.replace``. Without it ``os.link``, which fails if ``path`` exists,
    so of two writers racing for one new file exactly one succeeds and the other is told it exists
    (checking ``exists()`` first and then renaming would let the second silently replace the first).
    """
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _refuse_existing(path) from None
    except OSError as exc:  # a filesystem without hard links: exclusive create, then copy
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        with open(path, "xb") as dst, open(tmp, "rb") as src:
            shutil.copyfileobj(src, dst)
    os.unlink(tmp)


def atomic_write_bytes(path: str | Path, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder, then publish it in one step.

    A reader never sees a half-written file, and an existing file is replaced only when ``overwrite`` is
    true (otherwise ``FileExistsError`` names it, also when another process created it meanwhile).
    The file gets the mode the umask allows, as with ``open()``.
    """
    return atomic_write_stream(path, io.BytesIO(data), overwrite)


def atomic_write_text(path: str | Path, text: str, overwrite: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def atomic_write_json(path: str | Path, obj: Any, overwrite: bool = False) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n", overwrite)


def atomic_copy(src: str | Path, dst: str | Path, overwrite: bool = False) -> Path:
    """Copy a file atomically (temporary file + rename), with the umask's mode."""
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise _refuse_existing(dst)
    with open(src, "rb") as s:
        return atomic_write_stream(dst, s, overwrite)


def atomic_write_stream(path: str | Path, src: BinaryIO, overwrite: bool = False) -> Path:
    """As :func:`atomic_write_bytes`, copying the binary file object ``src`` in chunks (never all in memory)."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise _refuse_existing(path)
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(src, f)
            f.flush()
            os.fsync(f.fileno())
        _publish(tmp, path, overwrite)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):  # numpy scalars and arrays, without importing numpy
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
