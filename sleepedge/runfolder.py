"""Run folders, stage manifests, atomic writes and checksums (standard library only).

A pipeline run is one folder ``RUN/`` with one sub-folder per stage (``train``, ``compress``,
``export``, ``bench``, ``check``). Each stage folder holds a ``manifest.json``: its inputs and outputs
with sha256, the resolved config, metrics, seed, split, dataset, package versions and git commit.
A stage reads its parent's manifest and refuses a checksum mismatch. The bench reads manifests on a
board with only numpy, so this module must not import torch, TensorFlow or numpy.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
SCHEMA = "sleepedge.manifest/1"


class StageExistsError(FileExistsError):
    """A finished stage folder is in the way and ``overwrite`` was not given."""


class ManifestError(ValueError):
    """A manifest is missing, malformed, or does not match the files on disk."""


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    A reader never sees a half-written file, and an existing file is replaced only when
    ``overwrite`` is true (otherwise ``FileExistsError`` names it).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: exists; refusing to overwrite (pass --overwrite to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str, overwrite: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def atomic_write_json(path: str | Path, obj: Any, overwrite: bool = False) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n", overwrite)


def atomic_copy(src: str | Path, dst: str | Path, overwrite: bool = False) -> Path:
    """Copy a file atomically (temporary file + rename)."""
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst}: exists; refusing to overwrite (pass --overwrite to replace it)")
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dst


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):  # numpy scalars and arrays, without importing numpy
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def prepare_stage_dir(run_dir: str | Path, stage: str, overwrite: bool = False) -> Path:
    """Create ``RUN/stage`` for writing.

    A folder with a finished manifest raises :class:`StageExistsError` unless ``overwrite``
    (then the old folder is removed). A folder without a manifest is an interrupted stage and is
    kept, so the stage can resume from what it left.
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
    from .envinfo import environment_info  # local: envinfo probes package versions

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
    if parent is not None:
        pm = Path(parent) / MANIFEST_NAME
        manifest["parent"] = {"stage": Path(parent).name, "manifest": file_entry(pm, stage_dir)}
    if extra:
        manifest.update(extra)
    return atomic_write_json(stage_dir / MANIFEST_NAME, manifest, overwrite=True)


def read_manifest(stage_dir: str | Path, verify: bool = True) -> dict[str, Any]:
    """Read a stage manifest; with ``verify`` check every listed output's sha256 on disk."""
    stage_dir = Path(stage_dir)
    mp = stage_dir / MANIFEST_NAME
    if not mp.is_file():
        raise ManifestError(f"{mp}: no manifest (has this stage run to completion?)")
    try:
        manifest = json.loads(mp.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{mp}: not valid JSON ({exc})") from exc
    if manifest.get("schema") != SCHEMA:
        raise ManifestError(f"{mp}: unknown schema {manifest.get('schema')!r} (expected {SCHEMA})")
    if verify:
        for name, entry in manifest.get("outputs", {}).items():
            p = resolve_entry(stage_dir, entry)
            if not p.is_file():
                raise ManifestError(f"{mp}: output {name!r} missing at {p}")
            if sha256_file(p) != entry["sha256"]:
                raise ManifestError(f"{mp}: output {name!r} ({p}) does not match its sha256; it changed after the stage ran")
    return manifest


def resolve_entry(stage_dir: str | Path, entry: dict[str, Any]) -> Path:
    """Absolute path of a manifest file entry."""
    p = Path(entry["path"])
    return p if p.is_absolute() else Path(stage_dir) / p


def output_path(stage_dir: str | Path, manifest: dict[str, Any], name: str) -> Path:
    """Path of the named output of a stage; ``ManifestError`` if the manifest lacks it."""
    try:
        return resolve_entry(stage_dir, manifest["outputs"][name])
    except KeyError:
        raise ManifestError(f"{Path(stage_dir) / MANIFEST_NAME}: no output named {name!r}") from None


def verified_file(stage_dir: str | Path, entry: dict[str, Any], what: str) -> Path:
    """Path of one manifest file entry, checked to exist and to match its recorded sha256."""
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
    if not mp.is_file():
        return {}
    return json.loads(mp.read_text("utf-8")).get("dataset") or {}


def dataset_title(dataset: dict[str, Any]) -> str:
    """Short label for titles: the dataset's ``label``, else its name, with SYNTHETIC spelled out."""
    label = dataset.get("label") or dataset.get("name") or ""
    if dataset.get("synthetic") and "SYNTHETIC" not in label:
        label = f"SYNTHETIC data ({label})" if label else "SYNTHETIC data"
    return label


def is_stage_done(run_dir: str | Path, stage: str) -> bool:
    return (Path(run_dir) / stage / MANIFEST_NAME).is_file()
