"""Run folders, stage manifests, atomic writes and checksums (standard library only).

A pipeline run is one folder ``RUN/`` with one sub-folder per stage (``train``, ``compress``,
``export``, ``bench``, ``check``). Each stage folder holds a ``manifest.json``: its inputs and outputs
with sha256, the resolved config, metrics, seed, split, dataset, package versions and git commit.
A stage reads its parent's manifest and refuses a checksum mismatch. The bench reads manifests on a
board with only numpy, so this module must not import torch, TensorFlow or numpy.

Stages are built and swapped in by :func:`sleepedge.run.transaction.stage_transaction` (which also decides
when a stage is stale); the atomic file writes live in :mod:`sleepedge.run.atomic` and are re-exported here.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

from sleepedge.core.errors import ManifestError, StageExistsError  # noqa: F401  (re-exported with the run-folder API)

from sleepedge.run.atomic import (  # noqa: F401  (re-exported: the run-folder API)
    atomic_copy, atomic_write_bytes, atomic_write_json, atomic_write_text, current_umask,
)

MANIFEST_NAME = "manifest.json"
SCHEMA = "sleepedge.manifest/1"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def prepare_stage_dir(run_dir: str | Path, stage: str, overwrite: bool = False) -> Path:
    """Create ``RUN/stage`` for writing in place (test fixtures and scripts only).

    NOT a transaction: with ``overwrite`` the finished stage is removed before anything new exists.
    Stages use :func:`sleepedge.run.transaction.stage_transaction`, which keeps the old stage until the new
    one is complete. A finished manifest raises :class:`StageExistsError` unless ``overwrite``.
    """
    d = Path(run_dir) / stage
    if (d / MANIFEST_NAME).exists():
        if not overwrite:
            raise StageExistsError(f"{d}: stage already finished (pass --overwrite to redo it)")
        shutil.rmtree(d)
    d.mkdir(parents=True, exist_ok=True)
    return d


def file_entry(path: str | Path, base: str | Path) -> dict[str, Any]:
    """``{"path": relative-to-base, "sha256", "bytes"}`` for a manifest."""
    path, base = Path(path), Path(base)
    try:
        rel = path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        rel = str(path.resolve())
    return {"path": rel, "sha256": sha256_file(path), "bytes": path.stat().st_size}


def write_manifest(
    stage_dir: str | Path,
    stage: str,
    *,
    outputs: dict[str, str | Path],
    inputs: dict[str, str | Path] | None = None,
    parent: str | Path | None = None,
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
    seed: int | None = None,
    split: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``stage_dir/manifest.json`` last, once every output exists (its presence marks the stage done)."""
    from sleepedge.core.envinfo import environment_info  # local: envinfo probes package versions

    stage_dir = Path(stage_dir)
    manifest: dict[str, Any] = {
        "schema": SCHEMA,
        "stage": stage,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "dataset": dataset or {},
        "inputs": {k: file_entry(v, stage_dir) for k, v in (inputs or {}).items()},
        "outputs": {k: file_entry(v, stage_dir) for k, v in outputs.items()},
        "parent": None,
        "config": config or {},
        "metrics": metrics or {},
        "seed": seed,
        "split": split,
        "env": environment_info(),
    }
    _refuse_outside(manifest["outputs"], stage_dir)
    if parent is not None:
        pm = Path(parent) / MANIFEST_NAME
        manifest["parent"] = {"stage": Path(parent).name, "manifest": file_entry(pm, stage_dir)}
    if extra:
        manifest.update(extra)
    return atomic_write_json(stage_dir / MANIFEST_NAME, manifest, overwrite=True)


def _refuse_outside(outputs: dict[str, dict[str, Any]], stage_dir: Path) -> None:
    """A stage writes its outputs inside its own folder; anything else is a bug or a bad name."""
    outside = [k for k, e in outputs.items() if not is_confined(e["path"], stage_dir)]
    if outside:
        raise ManifestError(f"{stage_dir}: output {outside[0]!r} lies outside the stage folder; not recorded")


def read_manifest(stage_dir: str | Path, verify: bool = True) -> dict[str, Any]:
    """Read a stage manifest; with ``verify`` check every listed output's sha256 on disk.

    Raises
    ------
    ManifestError
        No manifest, not a JSON object, an unknown schema, a malformed file entry, an output that lies
        outside the stage folder, or (``verify``) an output missing or changed since the stage ran.
    """
    stage_dir = Path(stage_dir)
    mp = stage_dir / MANIFEST_NAME
    if not mp.is_file():
        raise ManifestError(f"{mp}: no manifest (has this stage run to completion?)")
    try:
        manifest = json.loads(mp.read_text("utf-8"))
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ManifestError(f"{mp}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise ManifestError(f"{mp}: not a manifest (expected a JSON object, found {type(manifest).__name__})")
    if manifest.get("schema") != SCHEMA:
        raise ManifestError(f"{mp}: unknown schema {manifest.get('schema')!r} (expected {SCHEMA})")
    _check_entries(mp, manifest)
    if verify:
        for name, entry in manifest["outputs"].items():
            p = resolve_entry(stage_dir, entry)
            if not p.is_file():
                raise ManifestError(f"{mp}: output {name!r} missing at {p}")
            if sha256_file(p) != entry["sha256"]:
                raise ManifestError(f"{mp}: output {name!r} ({p}) does not match its sha256; it changed after the stage ran")
    return manifest


def _is_entry(entry: Any) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("path"), str) and bool(entry["path"])
            and isinstance(entry.get("sha256"), str) and len(entry["sha256"]) == 64)


def _check_entries(mp: Path, manifest: dict[str, Any]) -> None:
    """Every ``inputs``/``outputs`` entry is a file entry; every output lies inside the stage folder.

    Outputs are written inside the stage folder and recorded relative to it, so an absolute or ``..``
    path can only come from a tampered or foreign manifest (e.g. in a bundle from elsewhere): reading
    it would let the manifest point sleepedge at any file on the machine.
    """
    for section in ("inputs", "outputs"):
        entries = manifest.setdefault(section, {})
        if not isinstance(entries, dict):
            raise ManifestError(f"{mp}: {section} must be a JSON object of file entries")
        for name, entry in entries.items():
            if not _is_entry(entry):
                raise ManifestError(f"{mp}: {section} entry {name!r} is not a file entry with path and sha256")
            if section == "outputs" and not is_confined(entry["path"], mp.parent):
                raise ManifestError(f"{mp}: output {name!r} points outside its stage folder ({entry['path']!r})")
    parent = manifest.get("parent")
    if parent is not None and not (isinstance(parent, dict) and _is_entry(parent.get("manifest"))):
        raise ManifestError(f"{mp}: parent must be null or an object with a manifest file entry")


def is_confined(rel: str, base: str | Path) -> bool:
    """Whether ``rel`` is a relative path that stays inside ``base`` (no ``..``, no symlink leading out)."""
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or "\\" in rel or rel.startswith("~"):
        return False
    base = Path(base)
    try:
        (base / p).resolve().relative_to(base.resolve())
    except (ValueError, OSError):
        return False
    return True


def resolve_entry(stage_dir: str | Path, entry: dict[str, Any]) -> Path:
    """Absolute path of a manifest file entry."""
    p = Path(entry["path"])
    return p if p.is_absolute() else Path(stage_dir) / p


def output_path(stage_dir: str | Path, manifest: dict[str, Any], name: str) -> Path:
    """Path of the named output of a stage; ``ManifestError`` if the manifest lacks it."""
    try:
        return resolve_entry(stage_dir, manifest["outputs"][name])
    except (KeyError, TypeError):
        raise ManifestError(f"{Path(stage_dir) / MANIFEST_NAME}: no output named {name!r}") from None


def verified_file(stage_dir: str | Path, entry: dict[str, Any], what: str) -> Path:
    """Path of one manifest file entry, checked to exist and to match its recorded sha256."""
    if not _is_entry(entry):
        raise ManifestError(f"{stage_dir}: the entry of the {what} is not a file entry with path and sha256")
    path = resolve_entry(stage_dir, entry)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: {what} not found")
    if sha256_file(path) != entry["sha256"]:
        raise ManifestError(f"{path}: {what} changed since its manifest was written (sha256 mismatch)")
    return path


def dataset_of(stage_dir: str | Path) -> dict[str, Any]:
    """The ``dataset`` record of a stage's manifest (``{}`` when absent), without verifying checksums.

    Stages copy it from their parent so every table, figure and manifest can say SYNTHETIC or real.
    """
    mp = Path(stage_dir) / MANIFEST_NAME
    try:
        d = json.loads(mp.read_text("utf-8")).get("dataset")
    except (OSError, ValueError, AttributeError):
        return {}
    return d if isinstance(d, dict) else {}


def dataset_title(dataset: dict[str, Any]) -> str:
    """Short label for titles: the dataset's ``label``, else its name, with SYNTHETIC spelled out."""
    label = dataset.get("label") or dataset.get("name") or ""
    if dataset.get("synthetic") and "SYNTHETIC" not in label:
        label = f"SYNTHETIC data ({label})" if label else "SYNTHETIC data"
    return label
