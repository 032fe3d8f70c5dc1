"""What ``sleepedge check`` checks: a run folder, an export folder, or one .tflite file (stdlib only at import; the export manifest is read by the bench's reader).

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

from sleepedge.core.errors import DataError
from sleepedge.run.manifest import MANIFEST_NAME, ManifestError, read_manifest, resolve_entry
from sleepedge.run.transaction import reading_run, require_fresh

from sleepedge.check.loadcheck import verify_loads

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
    export_files: dict[str, Path] = field(default_factory=dict)  # "<model>/<format>" -> sha256-verified file


def check_tflite_file(path: Path) -> None:
    """Refuse a file that is not a TFLite flatbuffer (identifier ``TFL3`` at bytes 4..8).

    A quick first check with a clear message; :func:`verify_loads` then proves that the file runs.
    """
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) < 8 or head[4:8] != TFLITE_IDENTIFIER:
        raise DataError(f"{path}: not a TFLite model (no 'TFL3' flatbuffer identifier at bytes 4..8)")


def _rows(obj: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(obj, list) or not all(isinstance(r, dict) and isinstance(r.get("model"), str)
                                            and isinstance(r.get("format"), str) for r in obj):
        raise ManifestError(f"{where}: expected a list of rows, each with 'model' and 'format'")
    return obj


def _read_export_rows(export_dir: Path) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    """``metrics.rows`` of a finished, fresh export stage and its output files (sha256-verified)."""
    from sleepedge.firmware_bench.targets import read_export_manifest  # the bench's reader; numpy only when used

    manifest, rows = read_export_manifest(export_dir)
    files = {name: resolve_entry(export_dir, e) for name, e in manifest["outputs"].items()}
    return _rows(rows, f"{export_dir / MANIFEST_NAME} metrics.rows"), files


def read_bench_rows(bench_dir: Path, notes: list[str]) -> list[dict[str, Any]] | None:
    """``results.json`` of a finished, fresh bench stage (verified against its manifest), else None.

    A bench folder without a manifest is not a result (an interrupted bench of an older sleepedge):
    its rows are not read, so the limits that need them fail closed.
    """
    if not (bench_dir / MANIFEST_NAME).is_file():
        if bench_dir.is_dir():
            notes.append(f"{bench_dir}: bench stage did not finish (no manifest); its results are not read")
        return None
    manifest = read_manifest(bench_dir, verify=True)
    require_fresh(bench_dir)
    results = bench_dir / "results.json"
    entry = next((e for e in manifest["outputs"].values() if e["path"] == "results.json"), None)
    if entry is None:
        raise ManifestError(f"{bench_dir / MANIFEST_NAME}: lists no results.json output")
    try:
        data = json.loads(results.read_text("utf-8"))
    except (ValueError, OSError) as exc:
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
        t.export_rows, t.export_files = _read_export_rows(export_dir)
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
        verify_loads(path)  # its size counts only if it runs
        return Target(path, "tflite", tflite_file=path, models=[path.stem], deployable=path.stem)
    if not path.is_dir():
        raise DataError(f"{path}: not a file or folder")
    manifest = path / MANIFEST_NAME
    if manifest.is_file() and _stage_of(manifest) == "export":
        with reading_run(path.parent if path.name in RUN_STAGES else path):
            rows, files = _read_export_rows(path)
        models = _model_names(rows)
        deployable = "compressed" if "compressed" in models else (models[0] if models else "baseline")
        return Target(path, "export", export_rows=rows, models=models, deployable=deployable, export_files=files)
    if any((path / s).is_dir() for s in RUN_STAGES):
        with reading_run(path):
            return _load_run(path)
    raise DataError(f"{path}: not a run folder (no {'/, '.join(RUN_STAGES)}/ inside), "
                    "an export folder (manifest.json of stage 'export') or a .tflite file")


def _stage_of(manifest: Path) -> Any:
    try:
        return json.loads(manifest.read_text("utf-8")).get("stage")
    except (ValueError, OSError, AttributeError):
        raise ManifestError(f"{manifest}: not a valid manifest (a JSON object is expected)") from None


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
