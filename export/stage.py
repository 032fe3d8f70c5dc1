"""The export stage: baseline and selected compressed checkpoints -> ``RUN/export/`` (files, rows, manifest)."""
from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.run.manifest import (
    MANIFEST_NAME, atomic_write_text, dataset_of, dataset_title, output_path, read_manifest, write_manifest,
)
from sleepedge.run.transaction import require_fresh, stage_transaction

from sleepedge.export.calibration import calibration_sample, clip_range
from sleepedge.export.card import CARD_NAME, model_card
from sleepedge.export.checkpoint_export import export_checkpoint, export_section
from sleepedge.export.reference import export_reference
from sleepedge.export.provenance import export_context
from sleepedge.export.report import formats_markdown

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
    """The ``subject`` of each sequence of a ``test.npz``; for files written before it was recorded, parsed from
    the ``record`` names (Sleep-EDF ``SC4ssN..``, synthetic ``SYNsssnn``; another name counts as its own
    subject, numbered after the parsed ones); None when the file has neither."""
    import re

    with np.load(path) as z:
        if "subject" in z.files:
            return z["subject"].astype(np.int64)
        if "record" not in z.files:
            return None
        records = [str(r) for r in z["record"]]
    pats = (re.compile(r"^SC4(\d\d)\d"), re.compile(r"^SYN(\d{3})\d\d"))
    parsed = [next((int(m.group(1)) for p in pats if (m := p.match(r))), None) for r in records]
    first_free = max([p for p in parsed if p is not None], default=-1) + 1
    others = {r: first_free + i for i, r in enumerate(dict.fromkeys(r for r, p in zip(records, parsed) if p is None))}
    return np.asarray([p if p is not None else others[r] for r, p in zip(records, parsed)], dtype=np.int64)


def load_records(path: str | Path) -> np.ndarray | None:
    """The ``record`` of each sequence of a ``test.npz`` (consecutive sequences of one night), or None."""
    with np.load(path) as z:
        return np.asarray(z["record"]).astype(str) if "record" in z.files else None


def log_missing_causal(models: dict[str, Path], formats: list[str]) -> None:
    """One log line when stateful formats are asked for and no model is causal (no row is written for them)."""
    from sleepedge.config.formats import FORMATS

    wanted = [f for f in formats if f in FORMATS and FORMATS[f].stateful]
    if wanted and "causal" not in models:
        log.info("%s: no causal model (compress.causal_lookaheads empty, or no compress stage): not exported",
                 ", ".join(wanted))


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
        if "causal" in (cm.get("outputs") or {}):  # the causal head distilled by the compress stage: stateful formats
            inputs["causal"] = output_path(comp_dir, cm, "causal")
    return inputs, parent


def run_export_stage(run_dir: str | Path, cfg, overwrite: bool = False, compressed: bool | None = None) -> Path:
    """Export the run's baseline (``RUN/train/model.pt``), selected compressed model and, when the compress stage
    made one (manifest output ``causal``), the causal model (stateful formats only) into ``RUN/export/``.

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
    models = {k: v for k, v in inputs.items() if k in ("baseline", "compressed", "causal")}
    with stage_transaction(run_dir / "export", overwrite=overwrite) as out:  # built in RUN/.export.partial
        export_models(models, inputs["test"], inputs["calib"], out, cfg, parent, overwrite=True)
    return run_dir / "export"


def export_models(models: dict[str, Path], test_npz: Path, calib_npz: Path, out: Path, cfg,
                  parent: Path | None, overwrite: bool = False) -> Path:
    """Export each named checkpoint into ``out/<name>/`` and the untrained reference (``export.reference_arch``)
    into ``out/deepsleepnet/``, then write ``formats.md``, a model card per model and the manifest."""
    ecfg = export_section(cfg)
    test_x, test_y = load_sequences(test_npz)
    subjects, records = load_subjects(test_npz), load_records(test_npz)
    log_missing_causal(models, ecfg.formats)
    cx, cy = load_sequences(calib_npz)
    calib_x, clip_uv = clip_range(calibration_sample(cx, cy, ecfg.calib_sequences, seed=ecfg.calib_seed),
                                  ecfg.calib_clip_percentile)
    log.info("calibration: %d of %d training sequences (class-stratified), input range clipped at %s", len(calib_x), len(cx),
             f"+-{clip_uv:.0f} uV (percentile {ecfg.calib_clip_percentile:g} of |x|)" if clip_uv else "no bound (min/max)")
    rows: list[dict[str, Any]] = []
    info = {"provenance": export_context(parent, cx, cy, calib_x, clip_uv, source=Path(calib_npz).name)}  # in every file
    for name, ckpt in models.items():
        rows += export_checkpoint(ckpt, out, calib_x, test_x, test_y, cfg, name, overwrite=overwrite, test_subjects=subjects,
                                  extra_info=info, test_records=records)
    rows += export_reference(out, calib_x, test_x, test_y, cfg, overwrite=overwrite, extra_info=info)  # untrained
    for r in rows:
        if r["precision"] in ("int8", "int16x8"):
            r["calib_clip_uv"] = clip_uv
    dataset = dataset_of(parent) if parent is not None else {}
    title = f"Export formats: {dataset_title(dataset)}" if dataset_title(dataset) else "Export formats"
    md = atomic_write_text(out / "formats.md", formats_markdown(rows, title), overwrite=True)
    # The test sample stays a manifest *input* (RUN/train/test.npz, sha256 recorded): every output must lie
    # inside the export folder, because the bench packs the outputs into a board bundle.
    outputs: dict[str, Path] = {"formats_md": md, **row_outputs(rows, out)}
    if ecfg.model_card:
        outputs.update(write_cards(rows, out, parent))
    write_manifest(out, "export", outputs=outputs, inputs={**models, "test": test_npz, "calib": calib_npz},
                   parent=parent, config=cfg.to_dict() if hasattr(cfg, "to_dict") else {}, dataset=dataset,
                   metrics={"rows": rows, "calib_sequences_used": len(calib_x), "calib_clip_uv": clip_uv})
    return out


def row_outputs(rows: list[dict[str, Any]], out: Path) -> dict[str, Path]:
    """Manifest outputs of the rows: ``<model>/<format>`` (a streaming pair: ``/features`` and ``/head``), C arrays."""
    outputs: dict[str, Path] = {}
    for r in rows:
        if r["status"] == "ok" and r.get("files"):
            outputs.update({f"{r['model']}/{r['format']}/{part}": out / f for part, f in r["files"].items()})
        elif r["status"] == "ok":
            outputs[f"{r['model']}/{r['format']}"] = out / r["file"]
        if r.get("c_source"):
            key = r["model"] if r["format"] == "tflite_int8" else f"{r['model']}/{r['format']}"
            outputs[f"{key}/c_source"], outputs[f"{key}/c_header"] = out / r["c_source"], out / r["c_header"]
        for key, f in (r.get("c_files") or {}).items():
            outputs[f"{r['model']}/{r['format']}/{key}"] = out / f
    return outputs


def write_cards(rows: list[dict[str, Any]], out: Path, parent: Path | None) -> dict[str, Path]:
    """``<model>/MODEL_CARD.md`` for every model of the rows, from the rows and the parent manifests."""
    from sleepedge.core.envinfo import environment_info

    run = out.parent
    read = lambda stage: read_manifest(run / stage, verify=False) if (run / stage / MANIFEST_NAME).is_file() else {}  # noqa: E731
    train, compress = read("train"), read("compress")
    env = environment_info()
    return {f"{m}/model_card": atomic_write_text(out / m / CARD_NAME, model_card(m, rows, train, compress, env), overwrite=True)
            for m in dict.fromkeys(r["model"] for r in rows)}


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
