"""What ``sleepedge check`` checks: a run folder, an export folder, or one .tflite file (stdlib only).

A run folder gives the export rows (``RUN/export/manifest.json`` -> ``metrics.rows``) and the bench
rows (``RUN/bench/results.json``); an export folder gives export rows only; a .tflite file gives
its size only. Manifests are read with their sha256 checks, so a file changed after its stage ran
is refused.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sleepedge.errors import DataError
from sleepedge.runfolder import MANIFEST_NAME, ManifestError, read_manifest

log = logging.getLogger(__name__)
TFLITE_IDENTIFIER = b"TFL3"  # FlatBuffers file identifier of the TFLite schema, bytes 4..8
RUN_STAGES = ("train", "compress", "export", "bench", "check")


@dataclass
class Target:
    """The measured material of one check target."""

    path: Path
    kind: str  # "run" | "export" | "tflite"
    export_rows: list[dict[str, Any]] | None = None  # None: no finished export stage
    bench_rows: list[dict[str, Any]] | None = None  # None: no bench results
    tflite_file: Path | None = None
    notes: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    deployable: str = "baseline"


def check_tflite_file(path: Path) -> None:
    """Refuse a file that is not a TFLite flatbuffer (identifier ``TFL3`` at bytes 4..8)."""
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) < 8 or head[4:8] != TFLITE_IDENTIFIER:
        raise DataError(f"{path}: not a TFLite model (no 'TFL3' flatbuffer identifier at bytes 4..8)")


def _rows(obj: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(obj, list) or not all(isinstance(r, dict) and isinstance(r.get("model"), str)
                                            and isinstance(r.get("format"), str) for r in obj):
        raise ManifestError(f"{where}: expected a list of rows, each with 'model' and 'format'")
    return obj


def read_export_rows(export_dir: Path) -> list[dict[str, Any]]:
    """``metrics.rows`` of a finished export stage (sha256-verified manifest)."""
    manifest = read_manifest(export_dir, verify=True)
    if manifest.get("stage") != "export":
        raise ManifestError(f"{export_dir / MANIFEST_NAME}: stage is {manifest.get('stage')!r}, not 'export'")
    return _rows(manifest.get("metrics", {}).get("rows"), f"{export_dir / MANIFEST_NAME} metrics.rows")


def read_bench_rows(bench_dir: Path, notes: list[str]) -> list[dict[str, Any]] | None:
    """``results.json`` of the bench stage, verified against its manifest when the stage finished."""
    results = bench_dir / "results.json"
    if not results.is_file():
        return None
    if (bench_dir / MANIFEST_NAME).is_file():
        read_manifest(bench_dir, verify=True)
    else:
        notes.append(f"{bench_dir}: bench stage has no manifest (unfinished); its results.json is read as is")
    try:
        data = json.loads(results.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{results}: not valid JSON ({exc})") from None
    return _rows(data, str(results))


def _model_names(rows: list[dict[str, Any]] | None, more: list[dict[str, Any]] | None = None) -> list[str]:
    names: list[str] = []
    for r in (rows or []) + (more or []):
        if r.get("untrained"):  # the paper-size yardstick (random weights) is never a deployable model
            continue
        if r["model"] not in names:
            names.append(r["model"])
    return names


def _load_run(path: Path) -> Target:
    t = Target(path, "run")
    export_dir = path / "export"
    if (export_dir / MANIFEST_NAME).is_file():
        t.export_rows = read_export_rows(export_dir)
    elif export_dir.is_dir():
        t.notes.append(f"{export_dir}: export stage did not finish (no manifest); its rows are not read")
    t.bench_rows = read_bench_rows(path / "bench", t.notes)
    t.models = _model_names(t.export_rows, t.bench_rows)
    compressed = "compressed" in t.models or (path / "compress" / MANIFEST_NAME).is_file()
    t.deployable = "compressed" if compressed else "baseline"
    return t


def load_target(path: str | Path) -> Target:
    """Classify and read a check target.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    DataError
        A file that is not a TFLite model, or a folder that is neither a run nor an export folder.
    ManifestError
        A manifest or results file that is malformed or does not match the files on disk.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: check target not found")
    if path.is_file():
        check_tflite_file(path)
        return Target(path, "tflite", tflite_file=path, models=[path.stem], deployable=path.stem)
    manifest = path / MANIFEST_NAME
    if manifest.is_file() and _stage_of(manifest) == "export":
        rows = read_export_rows(path)
        models = _model_names(rows)
        deployable = "compressed" if "compressed" in models else (models[0] if models else "baseline")
        return Target(path, "export", export_rows=rows, models=models, deployable=deployable)
    if any((path / s).is_dir() for s in RUN_STAGES):
        return _load_run(path)
    raise DataError(f"{path}: not a run folder (no {'/, '.join(RUN_STAGES)}/ inside), "
                    "an export folder (manifest.json of stage 'export') or a .tflite file")


def _stage_of(manifest: Path) -> Any:
    try:
        return json.loads(manifest.read_text("utf-8")).get("stage")
    except (json.JSONDecodeError, AttributeError):
        raise ManifestError(f"{manifest}: not a valid manifest") from None


def select_models(target: Target, requested: list[str] | None) -> list[str]:
    """Models to check: the deployable one by default, ``all``, or the names asked for."""
    if not requested:
        return [target.deployable]
    if "all" in requested:
        return target.models or [target.deployable]
    known = set(target.models) | {target.deployable}
    for name in requested:
        if name not in known:
            raise DataError(f"{target.path}: no model named {name!r} (models: {', '.join(sorted(known))})")
    return list(dict.fromkeys(requested))
