"""What to bench: one target per (exported model file x runtime [x XNNPACK]), read from a run folder.

Inputs are the export stage's manifest (``metrics.rows`` and outputs named ``<model>/<format>``) and
the test sample: ``RUN/train/test.npz`` through the train manifest, or ``test.npz`` listed in a
bundle's ``bundle.json``. Standard library + numpy only.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.run.manifest import ManifestError, is_confined, output_path, read_manifest, verified_file
from sleepedge.run.transaction import require_fresh

from sleepedge.firmware_bench.runtimes import ONNXRUNTIME, TFLITE_RUNTIMES, TORCH, is_installed, resolve_tflite
from sleepedge.firmware_bench.settings import BenchSettings

log = logging.getLogger(__name__)

BUNDLE_MANIFEST = "bundle.json"
TORCH_CHECKPOINTS = {"baseline": ("train", "model"), "compressed": ("compress", "selected"),
                     "causal": ("compress", "causal")}
STREAM_PREFIX = "stream_"  # formats of a streaming pair: outputs <model>/<format>/features and .../head
STATEFUL_PREFIX = "stateful_"  # a stateful pair: outputs <model>/<format>/features and .../step


@dataclass
class Target:
    """One bench row to measure (or to report as skipped/failed with a reason)."""

    model: str
    format: str
    runtime: str
    xnnpack: bool | None = None
    path: Path | None = None
    file: str | None = None
    file_bytes: int | None = None
    params: int | None = None
    tflm_arena_bytes: int | None = None
    status: str = "pending"
    reason: str = ""
    export_row: dict[str, Any] = field(default_factory=dict)
    head_path: Path | None = None  # a streaming pair: ``path`` is the feature model, this the head (stateful: step)

    @property
    def is_pair(self) -> bool:
        return self.format.startswith(STREAM_PREFIX)

    @property
    def is_stateful(self) -> bool:
        """A stateful pair (feature model + one-step head carrying the LSTM state; docs/streaming.md)."""
        return self.format.startswith(STATEFUL_PREFIX)

    @property
    def untrained(self) -> bool:
        """The untrained reference (paper-size DeepSleepNet, random weights): no accuracy, no test predictions."""
        return bool(self.export_row.get("untrained"))

    @property
    def precision(self) -> str:
        """The export row's ``precision`` (``fp32``/``int8``), else the format's suffix (``tflite_int8`` -> int8)."""
        if self.export_row.get("precision"):
            return str(self.export_row["precision"])
        return self.format.split("_")[1] if "_" in self.format else "fp32"

    @property
    def key(self) -> str:
        """``model/format/runtime`` plus ``/xnnpack`` or ``/no-xnnpack`` for TFLite rows."""
        parts = [self.model, self.format, self.runtime]
        if self.xnnpack is not None:
            parts.append("xnnpack" if self.xnnpack else "no-xnnpack")
        return "/".join(parts)


def read_export(run_dir: Path) -> tuple[Path, dict[str, Any]]:
    """The export folder and its verified manifest (checksums of every output checked; refused when stale)."""
    export_dir = Path(run_dir) / "export"
    manifest, rows = read_export_manifest(export_dir)
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise ManifestError(f"{export_dir / 'manifest.json'}: metrics.rows is missing, empty or not a list of rows")
    return export_dir, manifest


def read_export_manifest(export_dir: Path) -> tuple[dict[str, Any], Any]:
    """The verified manifest of a finished, fresh export folder and its ``metrics.rows`` as found.

    Checksums of every output are checked, a manifest of another stage or a stale export is refused.
    The rows are not validated (None when absent): each reader checks them for what it needs.
    """
    manifest = read_manifest(export_dir, verify=True)
    if manifest.get("stage") != "export":
        raise ManifestError(f"{export_dir / 'manifest.json'}: stage is {manifest.get('stage')!r}, not 'export'")
    require_fresh(export_dir)
    metrics = manifest.get("metrics")
    return manifest, metrics.get("rows") if isinstance(metrics, dict) else None


def locate_test_sample(run_dir: Path) -> Path:
    """``RUN/train``'s ``test`` output, else the ``test`` entry of ``RUN/bundle.json`` (sha256 checked)."""
    run_dir = Path(run_dir)
    if (run_dir / "train" / "manifest.json").is_file():
        base = run_dir / "train"
        manifest = read_manifest(base, verify=False)
        output_path(base, manifest, "test")  # a clear ManifestError when the output is not listed
        entry = manifest["outputs"]["test"]
    elif (run_dir / BUNDLE_MANIFEST).is_file():
        base, entry = run_dir, _bundle_test_entry(run_dir / BUNDLE_MANIFEST)
    else:
        raise ManifestError(f"{run_dir}: neither train/manifest.json nor {BUNDLE_MANIFEST}: where is the test sample?")
    return verified_file(base, entry, "test sample")


def _bundle_test_entry(path: Path) -> dict[str, Any]:
    """The ``test`` entry of a bundle.json; it must name a file inside the unpacked bundle."""
    try:
        entry = json.loads(path.read_text("utf-8")).get("test")
    except (OSError, ValueError, AttributeError) as exc:
        raise ManifestError(f"{path}: not a readable bundle manifest ({exc})") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
        raise ManifestError(f"{path}: no 'test' file entry")
    if not is_confined(entry["path"], path.parent):
        raise ManifestError(f"{path}: the test sample {entry['path']!r} lies outside the unpacked bundle")
    return entry


def load_test_sample(path: Path, limit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``x`` float32 ``(N, T, 1, 3000)`` and ``y`` int64 ``(N, T)``, the first ``limit`` sequences (0 = all)."""
    try:
        with np.load(path) as data:
            x, y = data["x"], data["y"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{path}: not a test sample with arrays x and y ({exc})") from exc
    if x.ndim != 4 or y.shape != x.shape[:2] or x.shape[0] == 0:
        raise DataError(f"{path}: expected x (N, T, 1, S) and y (N, T); got x {x.shape}, y {y.shape}")
    if limit > 0:
        x, y = x[:limit], y[:limit]
    return np.ascontiguousarray(x, dtype=np.float32), y.astype(np.int64)


def load_test_groups(path: Path, limit: int = 0) -> np.ndarray | None:
    """One night id (int) per test sequence from the sample's ``record`` array, or None without one: a stateful
    pair streams each night's consecutive sequences as one recording."""
    try:
        with np.load(path) as data:
            record = data["record"] if "record" in data.files else None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable test sample ({exc})") from exc
    if record is None:
        return None
    record = record[:limit] if limit > 0 else record
    return np.unique(np.asarray(record).astype(str), return_inverse=True)[1].astype(np.int64)


def build_targets(run_dir: Path, export_dir: Path, manifest: dict[str, Any], settings: BenchSettings,
                  with_torch: bool = True) -> list[Target]:
    """Targets for every export row x selected runtime, then the PyTorch reference rows."""
    targets: list[Target] = []
    for row in manifest["metrics"]["rows"]:
        for runtime, xnnpack in _runtimes_for(row.get("format", ""), settings):
            targets.append(_export_target(export_dir, manifest, row, runtime, xnnpack))
    if with_torch and TORCH in settings.runtimes:
        targets += _torch_targets(Path(run_dir), export_dir, manifest)
    return targets


def _runtimes_for(fmt: str, settings: BenchSettings) -> list[tuple[str, bool | None]]:
    fmt = fmt.removeprefix(STREAM_PREFIX).removeprefix(STATEFUL_PREFIX)
    if fmt.startswith("onnx"):
        return [(ONNXRUNTIME, None)] if ONNXRUNTIME in settings.runtimes else []
    if fmt.startswith("tflite"):
        names = [r for r in settings.runtimes if r == "tflite" or r in TFLITE_RUNTIMES]
        resolved = list(dict.fromkeys(resolve_tflite(n) or "tflite" for n in names))
        return [(r, x) for r in resolved for x in settings.xnnpack]
    log.info("format %r has no bench runtime; not benched", fmt)
    return []


def _export_target(export_dir: Path, manifest: dict[str, Any], row: dict[str, Any], runtime: str,
                   xnnpack: bool | None) -> Target:
    t = Target(model=row.get("model", "?"), format=row.get("format", "?"), runtime=runtime,
               xnnpack=xnnpack if runtime != ONNXRUNTIME else None, file=row.get("file"),
               file_bytes=row.get("file_bytes"), params=row.get("params"),
               tflm_arena_bytes=row.get("tflm_arena_bytes"), export_row=row)
    if row.get("status") != "ok":
        t.status, t.reason = "skipped", f"export {row.get('status', 'failed')}: {row.get('reason', '')}".strip()
        return t
    if runtime == "tflite":
        t.status, t.reason = "skipped", "no TFLite interpreter installed (pip install ai-edge-litert or tflite-runtime)"
        return t
    try:
        if t.is_pair or t.is_stateful:
            t.path = output_path(export_dir, manifest, f"{t.model}/{t.format}/features")
            t.head_path = output_path(export_dir, manifest, f"{t.model}/{t.format}/{'step' if t.is_stateful else 'head'}")
        else:
            t.path = output_path(export_dir, manifest, f"{t.model}/{t.format}")
    except ManifestError as exc:
        t.status, t.reason = "failed", str(exc)
        return t
    t.file_bytes = t.path.stat().st_size + (t.head_path.stat().st_size if t.head_path else 0)
    if not is_installed(runtime):
        t.status, t.reason = "skipped", f"{runtime} is not installed"
    return t


def _torch_targets(run_dir: Path, export_dir: Path, manifest: dict[str, Any]) -> list[Target]:
    """One ``torch_fp32`` row per exported model, from the checkpoint the export read (its sha256 checked)."""
    rows = manifest["metrics"]["rows"]
    out = []
    for model in dict.fromkeys(r.get("model") for r in rows if not r.get("untrained")):
        params = next((r.get("params") for r in rows if r.get("model") == model and r.get("params")), None)
        t = Target(model=model, format="torch_fp32", runtime=TORCH, params=params)
        if not is_installed(TORCH):
            t.status, t.reason = "skipped", "torch is not installed (the reference row needs it)"
        else:
            try:
                t.path = _checkpoint_path(run_dir, export_dir, manifest, model)
                t.file, t.file_bytes = str(t.path), t.path.stat().st_size
            except (ManifestError, FileNotFoundError) as exc:
                t.status, t.reason = "skipped", str(exc)
        out.append(t)
    return out


def _checkpoint_path(run_dir: Path, export_dir: Path, manifest: dict[str, Any], model: str) -> Path:
    """The export manifest's input named ``model``, else the train/compress stage output; sha256 verified."""
    if model in manifest.get("inputs", {}):
        stage_dir, entry = export_dir, manifest["inputs"][model]
    elif model in TORCH_CHECKPOINTS and (run_dir / TORCH_CHECKPOINTS[model][0] / "manifest.json").is_file():
        stage, name = TORCH_CHECKPOINTS[model]
        stage_dir = run_dir / stage
        entry = read_manifest(stage_dir, verify=False)["outputs"].get(name)
        if entry is None:
            raise ManifestError(f"{stage_dir / 'manifest.json'}: no output named {name!r}")
    else:
        raise ManifestError(f"no PyTorch checkpoint recorded for model {model!r} in {run_dir}")
    return verified_file(stage_dir, entry, f"checkpoint of model {model!r}")
