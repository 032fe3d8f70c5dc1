"""Read the provenance an export wrote into a model file: ``read_provenance(path) -> dict | None``.

Every ``.tflite`` / ``.onnx`` file the export writes carries one JSON document (schema
``sleepedge.provenance/1``, written by :mod:`sleepedge.export.provenance`) in the format's own metadata:

* TFLite: a ``Metadata`` entry named ``sleepedge.provenance`` whose buffer holds the UTF-8 JSON (read
  with the schema's generated classes, :mod:`.tflite_file`: no interpreter, no TensorFlow);
* ONNX: ``metadata_props`` key ``sleepedge.provenance`` (read with the ``onnx`` package when installed,
  else with onnxruntime's ``get_modelmeta().custom_metadata_map``).

A file exported before sleepedge wrote it has none: ``None``. A damaged file or a provenance that is not a
JSON object of this schema is a :class:`~sleepedge.core.errors.DataError` naming the file. The bench rows and
``sleepedge check`` read the essentials (:func:`essentials`, :func:`provenance_notes`).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sleepedge.core.errors import DataError

log = logging.getLogger(__name__)

KEY = "sleepedge.provenance"  # TFLite metadata name and ONNX metadata_props key
SCHEMA = "sleepedge.provenance/1"
SUFFIXES = (".tflite", ".onnx")


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance document of a ``.tflite`` or ``.onnx`` model file, or None when it carries none.

    Raises
    ------
    DataError
        Not a ``.tflite``/``.onnx`` file, a damaged file, or provenance that is not valid JSON of the schema.
    """
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise DataError(f"{path}: not an exported model (expected .tflite or .onnx) to read provenance from")
    raw = _tflite_raw(path) if path.suffix == ".tflite" else _onnx_raw(path)
    return None if raw is None else parse(raw, path)


def parse(raw: bytes | str, path: Path) -> dict[str, Any]:
    """The provenance dict of the stored text; :class:`DataError` unless it is a JSON object of :data:`SCHEMA`."""
    try:
        doc = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: damaged provenance metadata {KEY!r} (not UTF-8 JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise DataError(f"{path}: provenance metadata {KEY!r} is not of schema {SCHEMA} (got {got!r})")
    return doc


def _tflite_raw(path: Path) -> bytes | None:
    from sleepedge.firmware_bench.tflite_file import metadata

    return metadata(path).get(KEY)  # DataError for a damaged flatbuffer


def _onnx_raw(path: Path) -> str | None:
    if not path.is_file():
        raise DataError(f"{path}: model file not found")
    try:
        import onnx
    except ImportError:  # a bench-only install: onnxruntime reads the same map
        return _onnxruntime_raw(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001  (protobuf DecodeError and friends on a damaged file)
        raise DataError(f"{path}: damaged ONNX file ({type(exc).__name__}: {exc})") from None
    return next((p.value for p in model.metadata_props if p.key == KEY), None)


def _onnxruntime_raw(path: Path) -> str | None:
    import onnxruntime as ort

    try:
        meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta()
    except Exception as exc:  # noqa: BLE001  (onnxruntime raises its own types for a damaged file)
        raise DataError(f"{path}: damaged ONNX file ({type(exc).__name__}: {exc})") from None
    return meta.custom_metadata_map.get(KEY)


def essentials(path: str | Path | None) -> dict[str, Any] | None:
    """``{dataset, synthetic, untrained}`` of a model file's provenance (bench rows); None without one.

    A damaged provenance is logged and gives None: the bench measures the file all the same.
    """
    if path is None or Path(path).suffix not in SUFFIXES:
        return None
    try:
        doc = read_provenance(path)
    except DataError as exc:
        log.warning("%s", exc)
        return None
    if doc is None:
        return None
    ds = doc.get("dataset") or {}
    return {"dataset": ds.get("name"), "synthetic": ds.get("synthetic"), "untrained": doc.get("untrained")}


def provenance_notes(models: list[str], files: dict[str, Path] | None, single: Path | None = None) -> list[str]:
    """Notes for ``sleepedge check``: each checked model trained on synthetic data, or untrained.

    ``files`` maps export output names (``<model>/<format>[/part]``) to files; ``single`` is a lone checked
    ``.tflite`` (its model is ``models[0]``). The first model file of each model that carries provenance speaks.
    """
    by_model = {m: [p for k, p in (files or {}).items() if k.split("/")[0] == m] for m in models}
    if single is not None and models:
        by_model[models[0]] = [Path(single)]
    notes = []
    for model, paths in by_model.items():
        info = next((e for e in map(essentials, sorted(paths)) if e), None)
        if info and info.get("untrained"):
            notes.append(f"model {model} is untrained (random weights, per its provenance): its accuracy means nothing")
        elif info and info.get("synthetic"):
            notes.append(f"model {model} was trained on SYNTHETIC data ({info.get('dataset')}, per its provenance): "
                         "its size and speed are real, its accuracy on real recordings is not measured")
    return notes
