"""The export stage: baseline and selected compressed checkpoints -> ``RUN/export/`` (files, rows, manifest)."""
from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.errors import DataError
from sleepedge.runfolder import (
    MANIFEST_NAME, atomic_write_text, dataset_of, dataset_title, output_path, read_manifest, write_manifest,
)
from sleepedge.stages import require_fresh, stage_transaction

from .calibration import calibration_sample, clip_range
from .checkpoint_export import export_checkpoint, export_section
from .report import formats_markdown

log = logging.getLogger(__name__)


def load_sequences(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` from a ``test.npz`` / ``calib.npz`` (keys ``x`` (N, T, 1, S) float32 and ``y`` (N, T))."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: sequence file not found")
    try:
        with np.load(path) as z:
            missing = {"x", "y"} - set(z.files)
            if missing:
                raise DataError(f"{path}: lacks array(s) {sorted(missing)} (has {z.files})")
            return z["x"].astype(np.float32, copy=False), z["y"].astype(np.int64, copy=False)
    except DataError:
        raise
    except (OSError, ValueError, EOFError, AttributeError, zipfile.BadZipFile) as exc:  # not an npz of arrays
        raise DataError(f"{path}: not a .npz file of arrays x and y ({type(exc).__name__}: {exc})") from None


def load_subjects(path: str | Path) -> np.ndarray | None:
    """The ``subject`` of each sequence of a ``test.npz`` (None for files written before it was recorded)."""
    with np.load(path) as z:
        return z["subject"].astype(np.int64) if "subject" in z.files else None


def stage_inputs(run_dir: Path, compressed: bool | None) -> tuple[dict[str, Path], Path]:
    """Checkpoints and data of a run (verified against their manifests) and the parent stage folder."""
    train_dir = run_dir / "train"
    tm = read_manifest(train_dir)
    inputs = {"baseline": output_path(train_dir, tm, "model"), "test": output_path(train_dir, tm, "test"),
              "calib": output_path(train_dir, tm, "calib")}
    comp_dir, parent = run_dir / "compress", train_dir
    if compressed or (compressed is None and (comp_dir / MANIFEST_NAME).is_file()):
        cm = read_manifest(comp_dir)
        require_fresh(comp_dir)  # made from this train stage, not an older one
        inputs["compressed"], parent = output_path(comp_dir, cm, "selected"), comp_dir
    return inputs, parent


def run_export_stage(run_dir: str | Path, cfg, overwrite: bool = False, compressed: bool | None = None) -> Path:
    """Export the run's baseline (``RUN/train/model.pt``) and selected compressed model into ``RUN/export/``.

    Parameters
    ----------
    run_dir : path
        The run folder.
    cfg : Config
        Resolved configuration (``cfg.export`` drives the export).
    overwrite : bool
        Redo a finished export stage.
    compressed : bool or None
        Export ``RUN/compress``'s ``selected`` model: None = when the compress stage is done.

    Returns
    -------
    Path
        ``RUN/export``.
    """
    run_dir = Path(run_dir)
    inputs, parent = stage_inputs(run_dir, compressed)
    models = {k: v for k, v in inputs.items() if k in ("baseline", "compressed")}
    with stage_transaction(run_dir / "export", overwrite=overwrite) as out:  # built in RUN/.export.partial
        export_models(models, inputs["test"], inputs["calib"], out, cfg, parent, overwrite=True)
    return run_dir / "export"


def export_models(models: dict[str, Path], test_npz: Path, calib_npz: Path, out: Path, cfg,
                  parent: Path | None, overwrite: bool = False) -> Path:
    """Export each named checkpoint into ``out/<name>/``, then write ``formats.md`` and the manifest."""
    ecfg = export_section(cfg)
    test_x, test_y = load_sequences(test_npz)
    cx, cy = load_sequences(calib_npz)
    calib_x, clip_uv = clip_range(calibration_sample(cx, cy, ecfg.calib_sequences, seed=ecfg.calib_seed),
                                  ecfg.calib_clip_percentile)
    log.info("calibration: %d of %d training sequences (class-stratified), input range clipped at %s", len(calib_x), len(cx),
             f"+-{clip_uv:.0f} uV (percentile {ecfg.calib_clip_percentile:g} of |x|)" if clip_uv else "no bound (min/max)")
    rows: list[dict[str, Any]] = []
    for name, ckpt in models.items():
        rows += export_checkpoint(ckpt, out, calib_x, test_x, test_y, cfg, name, overwrite=overwrite,
                                  test_subjects=load_subjects(test_npz))
    for r in rows:
        if r["precision"] in ("int8", "int16x8"):
            r["calib_clip_uv"] = clip_uv
    dataset = dataset_of(parent) if parent is not None else {}
    title = f"Export formats: {dataset_title(dataset)}" if dataset_title(dataset) else "Export formats"
    md = atomic_write_text(out / "formats.md", formats_markdown(rows, title), overwrite=True)
    # The test sample stays a manifest *input* (RUN/train/test.npz, sha256 recorded): every output must lie
    # inside the export folder, because the bench packs the outputs into a board bundle.
    outputs: dict[str, Path] = {"formats_md": md}
    for r in rows:
        if r["status"] == "ok":
            outputs[f"{r['model']}/{r['format']}"] = out / r["file"]
        if r.get("c_source"):
            outputs[f"{r['model']}/c_source"], outputs[f"{r['model']}/c_header"] = out / r["c_source"], out / r["c_header"]
    write_manifest(out, "export", outputs=outputs, inputs={**models, "test": test_npz, "calib": calib_npz},
                   parent=parent, config=cfg.to_dict() if hasattr(cfg, "to_dict") else {}, dataset=dataset,
                   metrics={"rows": rows, "calib_sequences_used": len(calib_x), "calib_clip_uv": clip_uv})
    return out


def export_single(checkpoint: str | Path, data_dir: str | Path, out_dir: str | Path, cfg,
                  model_name: str = "model", overwrite: bool = False) -> Path:
    """Export one checkpoint with the test/calibration sequences of a train folder (``data_dir``).

    ``data_dir`` with a manifest is verified and becomes the parent; without one, its ``test.npz``
    and ``calib.npz`` are read as they are. ``out_dir`` must be new, empty or a finished export
    (replaced only with ``overwrite``, and only once the new export is complete).
    """
    data_dir, out = Path(data_dir), Path(out_dir)
    parent = data_dir if (data_dir / MANIFEST_NAME).is_file() else None
    if parent is not None:
        m = read_manifest(data_dir)
        test, calib = output_path(data_dir, m, "test"), output_path(data_dir, m, "calib")
    else:
        test, calib = data_dir / "test.npz", data_dir / "calib.npz"
    with stage_transaction(out, overwrite=overwrite) as tmp:  # built beside ``out``, swapped in when complete
        export_models({model_name: Path(checkpoint)}, test, calib, tmp, cfg, parent, overwrite=True)
    return out
