"""A stage made from an older version of the stage before it is stale (standard library only).

Each manifest records its parent's manifest sha256 (``write_manifest(parent=...)``). A stage whose
parent manifest changed since, whose parent is missing, or whose parent is itself stale, is stale:
:func:`stale_reason` says why, and :func:`require_fresh` refuses it with the command that redoes it.
A check stage made before the bench finished is stale too. An unpacked bench bundle ships no parent
stages (and its recorded paths are the host's), so its stages are not checked against parents.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sleepedge.run.manifest import MANIFEST_NAME, ManifestError, sha256_file

STAGE_ORDER = ("train", "compress", "export", "bench", "check")
BUNDLE_MANIFEST = "bundle.json"


class StaleStageError(ManifestError):
    """A stage was made from another version of its parent stage."""


def _is_bundle(run_dir: Path) -> bool:
    return (run_dir / BUNDLE_MANIFEST).is_file()


def _parent_folder(stage_dir: Path, link: dict[str, Any]) -> Path | None:
    """The folder of a recorded parent: the sibling of that name, else the recorded path; None = not checkable.

    An unpacked bundle ships no parent stages (and recorded paths are the host's), so it is not checked.
    """
    name = str(link.get("stage") or "")
    sibling = stage_dir.parent / name
    if name and sibling.is_dir():
        return sibling
    if _is_bundle(stage_dir.parent):
        return None
    entry = link.get("manifest") if isinstance(link.get("manifest"), dict) else {}
    recorded = Path(str(entry.get("path", ""))).parent if entry.get("path") else None
    if recorded is not None and recorded.is_absolute() and recorded.is_dir():
        return recorded
    if stage_dir.name in STAGE_ORDER and name in STAGE_ORDER:
        return sibling  # a run folder whose parent stage is gone: stale
    return None


def read_json_manifest(stage_dir: Path) -> dict[str, Any]:
    """The manifest of ``stage_dir`` as a dict (no checksum verification); ``ManifestError`` if malformed."""
    mp = stage_dir / MANIFEST_NAME
    try:
        m = json.loads(mp.read_text("utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{mp}: no manifest (has this stage run to completion?)") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{mp}: not a readable JSON manifest ({exc})") from None
    if not isinstance(m, dict):
        raise ManifestError(f"{mp}: not a manifest (a JSON object is expected, found {type(m).__name__})")
    return m


def stale_reason(stage_dir: str | Path, _depth: int = 0) -> str | None:
    """Why a finished stage is stale (its parent changed, is missing or is stale itself), or None if fresh."""
    stage_dir = Path(stage_dir)
    m = read_json_manifest(stage_dir)
    link = m.get("parent")
    if stage_dir.name == "check" and isinstance(link, dict) and link.get("stage") == "export" \
            and (stage_dir.parent / "bench" / MANIFEST_NAME).is_file():
        return f"it was made before {stage_dir.parent / 'bench'} finished"
    if not isinstance(link, dict) or _depth > len(STAGE_ORDER):
        return None
    pdir = _parent_folder(stage_dir, link)
    if pdir is None:
        return None
    pm = pdir / MANIFEST_NAME
    if not pm.is_file():
        return f"its parent stage {pdir} is missing or unfinished"
    want = (link.get("manifest") or {}).get("sha256") if isinstance(link.get("manifest"), dict) else None
    if sha256_file(pm) != want:
        return f"it was made from another {pdir.name} ({pm} changed since)"
    up = stale_reason(pdir, _depth + 1)
    return f"its parent {pdir.name} is stale: {up}" if up else None


def redo_hint(stage_dir: Path) -> str:
    """The command that redoes a stage of a run folder."""
    run, name = stage_dir.parent, stage_dir.name
    return {"train": f"sleepedge train --out {run} --overwrite",
            "compress": f"sleepedge compress --out {run} --overwrite",
            "export": f"sleepedge export --run {run} --overwrite",
            "bench": f"sleepedge bench --run {run} --overwrite",
            "check": f"sleepedge pipeline --out {run} --stages check"}.get(name, f"redo {stage_dir} with --overwrite")


def require_fresh(stage_dir: str | Path) -> None:
    """Refuse a stale stage with :class:`StaleStageError` naming it, the reason and the command that redoes it."""
    stage_dir = Path(stage_dir)
    why = stale_reason(stage_dir)
    if why:
        raise StaleStageError(f"{stage_dir} is stale: {why}; redo it (`{redo_hint(stage_dir)}`) "
                              "or the stages before it")
