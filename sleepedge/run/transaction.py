"""Stages are transactions: built beside their folder, swapped in when complete (standard library only).

``stage_transaction(RUN/export)`` hands its caller an empty build folder ``RUN/.export.partial`` and,
when the ``with`` block ends without an exception and the build wrote its ``manifest.json``, swaps it
in for ``RUN/export``. The old stage is never touched before the new one is complete, so an interrupt
or a failure at any point leaves either the old stage intact or the new one complete. The swap is two
renames (``export`` -> ``.export.old``, ``.export.partial`` -> ``export``: POSIX has no atomic exchange
of two folders in the standard library); a crash between them is repaired by :func:`recover_stage`,
which every transaction and every lock of the run folder runs first.

A resumable stage (train, compress) passes ``resume_key`` (the settings its partial state depends on):
its build folder survives an interrupt or a failure, and a rerun with the same key picks it up, while
a rerun with another key is refused (or, with ``overwrite``, starts over).

Staleness (a stage made from an older parent) lives in :mod:`sleepedge.run.staleness` and is re-exported.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sleepedge.core.errors import ConfigError
from sleepedge.run.locking import run_lock
from sleepedge.run.manifest import MANIFEST_NAME, ManifestError, StageExistsError, atomic_write_json
from sleepedge.run.staleness import (  # noqa: F401  (re-exported: one import for the stage API)
    STAGE_ORDER, StaleStageError, read_json_manifest, redo_hint, require_fresh, stale_reason,
)

log = logging.getLogger(__name__)

RESUME_KEY = ".resume.json"


def partial_dir(stage_dir: str | Path) -> Path:
    """``RUN/.NAME.partial``: where a stage is built (and a resumable one keeps its partial state)."""
    stage_dir = Path(stage_dir)
    return stage_dir.parent / f".{stage_dir.name}.partial"


def old_dir(stage_dir: str | Path) -> Path:
    """``RUN/.NAME.old``: the replaced stage, only during a swap."""
    stage_dir = Path(stage_dir)
    return stage_dir.parent / f".{stage_dir.name}.old"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def recover_stage(stage_dir: str | Path) -> str:
    """Finish or undo a swap that a crash interrupted; returns what was done ("" = nothing to do).

    The caller must hold the run folder's exclusive lock.
    """
    final, partial, old = Path(stage_dir), partial_dir(stage_dir), old_dir(stage_dir)
    if not old.is_dir():
        return ""
    if final.exists():
        what = f"{final}: removed the replaced stage left by an interrupted swap"
    elif (partial / MANIFEST_NAME).is_file():
        os.rename(partial, final)
        what = f"{final}: completed a swap that was interrupted (the new stage is in place)"
    else:
        os.rename(old, final)
        what = f"{final}: undid a swap that was interrupted (the old stage is back)"
    shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(final.parent)
    log.warning("%s", what)
    return what


def recover_run(run_dir: str | Path) -> list[str]:
    """:func:`recover_stage` for every interrupted swap in ``run_dir`` (caller holds the exclusive lock)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    names = [p.name[1:-len(".old")] for p in run_dir.glob(".*.old") if p.is_dir()]
    return [w for n in names if (w := recover_stage(run_dir / n))]


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def differing_keys(old: Any, new: Any) -> list[str]:
    """Dotted names of the leaves that differ between two nested dicts."""
    a, b = _flat(old), _flat(new)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def _read_key(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _prepare_partial(final: Path, resume_key: Any, overwrite: bool) -> Path:
    """An empty build folder, or the kept one of an interrupted resumable build with the same key."""
    partial = partial_dir(final)
    if partial.exists() and not partial.is_dir():
        partial.unlink()
    if partial.is_dir():
        old_key = _read_key(partial / RESUME_KEY)
        key = json.loads(json.dumps(resume_key, default=str)) if resume_key is not None else None
        if key is not None and old_key == key:
            (partial / MANIFEST_NAME).unlink(missing_ok=True)  # never finished until swapped in
            log.info("%s: resuming the unfinished stage in %s", final, partial)
            return partial
        progress = [q.name for q in partial.iterdir() if q.name not in (RESUME_KEY, MANIFEST_NAME)]
        if key is not None and old_key is not None and progress and not overwrite:
            diff = ", ".join(differing_keys(old_key, key)) or "the inputs"
            raise ConfigError(f"{partial}: the unfinished {final.name} stage there was started with other settings "
                              f"(differs in {diff}); rerun with the same settings to resume it, or pass --overwrite "
                              "to start it over")
        log.info("%s: discarding the unfinished build in %s", final, partial)
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    if resume_key is not None:
        atomic_write_json(partial / RESUME_KEY, resume_key, overwrite=True)
    return partial


def refuse_finished(stage_dir: str | Path, overwrite: bool) -> None:
    """Refuse early (before any heavy work) what :func:`stage_transaction` would refuse for ``stage_dir``."""
    _check_final(Path(stage_dir), overwrite)


def _check_final(final: Path, overwrite: bool) -> None:
    if final.exists() and not final.is_dir():
        raise NotADirectoryError(20, "not a folder (a stage folder is expected here)", str(final))
    if (final / MANIFEST_NAME).is_file():
        if not overwrite:
            try:
                why = stale_reason(final)
            except ManifestError as exc:
                why = str(exc)
            state = f"finished but stale ({why})" if why else "already finished"
            raise StageExistsError(f"{final}: stage {state}; pass --overwrite to redo it (the finished "
                                   "stage is kept until the new one is complete)")
    elif final.is_dir() and any(final.iterdir()):
        raise StageExistsError(f"{final}: exists, is not empty and is not a finished stage (no {MANIFEST_NAME}); "
                               "move it away or choose another folder (nothing in it is touched)")


def commit(partial: Path, final: Path) -> Path:
    """Swap the complete build folder ``partial`` in for ``final`` (see the module docstring)."""
    if not (partial / MANIFEST_NAME).is_file():
        raise ManifestError(f"{partial}: the {final.name} stage ended without writing {MANIFEST_NAME}; not swapped in")
    (partial / RESUME_KEY).unlink(missing_ok=True)
    old = old_dir(final)
    if final.exists():
        os.rename(final, old)
    os.rename(partial, final)
    _fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)
    return final


@contextmanager
def stage_transaction(stage_dir: str | Path, *, overwrite: bool = False, resume_key: Any = None) -> Iterator[Path]:
    """Build a stage in ``.NAME.partial`` and swap it in for ``stage_dir`` when the block succeeds.

    Parameters
    ----------
    stage_dir
        The stage folder, e.g. ``RUN/export`` (its parent is locked for the whole block).
    overwrite
        Replace a finished stage (it stays in place until the new one is complete).
    resume_key
        JSON-able settings of a resumable stage: its build folder is kept after a failure and reused
        by a later call with an equal key. ``None``: every call starts from an empty build folder.

    Yields
    ------
    Path
        The build folder; write every output and then ``manifest.json`` into it.

    Raises
    ------
    StageExistsError
        A finished stage is there and ``overwrite`` is false, or a non-stage folder is in the way.
    ConfigError
        A kept build folder was started with another ``resume_key`` (and ``overwrite`` is false).
    """
    final = _final_path(stage_dir)
    in_run = final.name in STAGE_ORDER  # RUN/<stage>: lock the run; any other folder: lock just that entry
    with run_lock(final.parent, name=None if in_run else final.name):
        recover_stage(final)
        _check_final(final, overwrite)
        partial = _prepare_partial(final, resume_key, overwrite)
        try:
            yield partial
        except BaseException:
            if resume_key is None:
                shutil.rmtree(partial, ignore_errors=True)
            raise
        _swap_in(partial, final)


def _final_path(stage_dir: str | Path) -> Path:
    """The absolute stage folder; refused when it names the current or root folder."""
    final = Path(os.path.abspath(stage_dir))  # "." or "x/.." name no folder to build beside
    if not final.name or final == Path.cwd():
        raise StageExistsError(f"{stage_dir}: a stage cannot be built in place of the current or root folder; "
                               "name a new folder")
    return final


def _swap_in(partial: Path, final: Path) -> None:
    """Commit the complete build folder, first removing an empty ``final`` folder in the way."""
    if final.is_dir() and not (final / MANIFEST_NAME).is_file():
        final.rmdir()  # an empty folder (checked in _check_final) is in the way of the rename
    commit(partial, final)
    log.info("%s: stage complete", final)


@contextmanager
def reading_run(run_dir: str | Path) -> Iterator[Path]:
    """A reader's shared lock on a run folder, after repairing a swap a crash interrupted (if any)."""
    run_dir = Path(run_dir)
    if run_dir.is_dir() and any(p.is_dir() for p in run_dir.glob(".*.old")):
        try:
            with run_lock(run_dir):
                recover_run(run_dir)
        except OSError as exc:  # read-only folder, or a writer holds it (the shared lock below refuses then)
            log.debug("%s: could not repair an interrupted swap (%s)", run_dir, exc)
    with run_lock(run_dir, shared=True, create=False):
        yield run_dir
