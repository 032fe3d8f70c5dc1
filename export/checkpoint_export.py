"""Export one checkpoint to every format of the table and check each file: ``export_checkpoint`` -> rows."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.run.manifest import atomic_copy

from sleepedge.export.carray import write_c_array
from sleepedge.config.formats import FORMATS, ExportFormat, get_formats
from sleepedge.export.int8_convert import int8_job
from sleepedge.export.keras_convert import run_keras
from sleepedge.export.onnx_export import export_onnx, torch_logits
from sleepedge.export.provenance import export_context
from sleepedge.export.rows import check_file, fail, new_row, tflm_input
from sleepedge.export.stateful_export import export_stateful, test_nights
from sleepedge.export.stream_export import export_stream
from sleepedge.export.tflite_convert import Onnx2TfJob, run_onnx2tf
from sleepedge.export.tflm import measure_arena

log = logging.getLogger(__name__)


def export_section(cfg):
    """The ``ExportConfig`` of a full ``Config`` (or ``cfg`` itself when it already is one)."""
    return getattr(cfg, "export", cfg)


def check_arrays(x: np.ndarray, y: np.ndarray | None, epoch_samples: int, what: str) -> None:
    """``DataError`` unless ``x`` is (N, T, 1, epoch_samples) float and ``y`` (N, T)."""
    if x.ndim != 4 or x.shape[2] != 1 or x.shape[3] != epoch_samples or len(x) == 0:
        raise DataError(f"{what}: expected x of shape (N, T, 1, {epoch_samples}), got {x.shape}")
    if y is not None and np.shape(y) != x.shape[:2]:
        raise DataError(f"{what}: labels of shape {np.shape(y)} do not match x {x.shape[:2]}")


def pick_test(x: np.ndarray, y: np.ndarray, n: int, subjects: np.ndarray | None = None) -> tuple:
    """``(x, y, subjects)`` of ``n`` evenly spaced test sequences (all when ``n`` is 0 or too large)."""
    if n <= 0 or n >= len(x):
        return x, y, subjects
    idx = np.linspace(0, len(x) - 1, n).round().astype(int)
    return x[idx], y[idx], None if subjects is None else subjects[idx]


def model_info(model, seq_len: int) -> dict[str, Any]:
    from sleepedge.models import count_params, macs_per_epoch

    return {"params": count_params(model.arch), "macs_per_epoch": macs_per_epoch(model.arch),
            "arch": model.arch.to_dict(), "seq_len": seq_len}


def keras_jobs(model, work: Path, fmts: list[ExportFormat], calib_x: np.ndarray, seq_len: int,
               timeout_s: float, int8_attempts: int = 4) -> dict[str, Onnx2TfJob]:
    """The Keras-converter runs the window rows need: one child per LSTM mode (fused, unrolled) writes every
    output its rows request; an integer output is converted until fully integer, up to ``int8_attempts``
    times, as :mod:`.int8_convert` does."""
    jobs: dict[str, Onnx2TfJob] = {}
    for lstm in dict.fromkeys(f.lstm for f in fmts if f.converter == "keras" and not f.stream):
        tfl = [f for f in fmts if f.converter == "keras" and not f.stream and f.lstm == lstm]
        outputs = list(dict.fromkeys(f.onnx2tf_output for f in tfl))
        calib = calib_x if any(f.is_int8 for f in tfl) else None
        suffix = "" if lstm == "fused" else f"_{lstm}"
        job = run_keras(model, "window", seq_len, work / f"keras_window{suffix}", calib, outputs, timeout_s,
                        name=f"keras_window{suffix}", attempts=int8_attempts, lstm=lstm)
        jobs.update({f.name: job for f in tfl})
    return jobs


def onnx2tf_jobs(onnx_path: Path, work: Path, fmts: list[ExportFormat], calib_x: np.ndarray,
                 timeout_s: float, int8_attempts: int = 4) -> dict[str, Onnx2TfJob]:
    """Run the conversions the tflite rows need: ``{format name: job that made its file}``.

    onnx2tf converts once (fp32 and the SavedModel of the unrolled network); the integer formats are
    then quantised from that SavedModel by :mod:`.int8_convert` in a child process, so a crashing
    calibration never costs the fp32 row and every integer file is checked to be fully integer.
    """
    jobs: dict[str, Onnx2TfJob] = {}
    tfl = [f for f in fmts if f.converter == "onnx2tf" and not f.stream]
    if not tfl:
        return jobs
    base = run_onnx2tf(onnx_path, work / "onnx2tf_fp32", None, timeout_s)
    jobs.update({f.name: base for f in tfl if not f.is_int8})
    quant = [f for f in tfl if f.is_int8]
    if quant:
        job = int8_job(base, work / "onnx2tf_fp32" / "out", work / "int8_convert", calib_x,
                       [f.onnx2tf_output for f in quant], int8_attempts, timeout_s)
        jobs.update({f.name: job for f in quant})
    return jobs


def _tflite_row(row, fmt, job: Onnx2TfJob, model_dir: Path, root: Path, test, ref, tol, overwrite) -> dict:
    row["convert_s"] = round(job.seconds, 3)
    row["convert_job"] = job.name
    if getattr(job, "attempts", None) and fmt.onnx2tf_output in job.attempts:
        row["quantize_attempts"] = job.attempts[fmt.onnx2tf_output]
    src = job.files.get(fmt.onnx2tf_output)
    if not job.ok or src is None:
        return fail(row, job.reason or f"{fmt.converter} wrote no *_{fmt.onnx2tf_output}.tflite")
    dst = atomic_copy(src, model_dir / f"{fmt.name}{fmt.suffix}", overwrite=overwrite)
    return check_file(row, fmt, dst, root, test[0], test[1], ref, tol, subjects=test[2])


def _microcontroller_view(row: dict, path: Path, test_x: np.ndarray, ecfg, overwrite: bool) -> None:
    """TFLM arena, board fit and (int8 I/O model) the C array, added to an ok int8 row."""
    if ecfg.tflm:
        res = measure_arena(path, tflm_input(row, test_x), ecfg.tflm_max_arena, timeout_s=ecfg.timeout_s)
        row.update({k: v for k, v in res.items() if k != "tflm_output"})
    else:
        row["tflm_status"] = "skipped"
    if row["input_dtype"] == "int8" and ecfg.c_array:
        stem = "model_data" if row["format"] == "tflite_int8" else f"{row['format']}_data"
        cc, h = write_c_array(path, path.parent, stem=stem, overwrite=overwrite)
        row["c_source"], row["c_header"] = (p.relative_to(path.parent.parent).as_posix() for p in (cc, h))


def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, calib_x: np.ndarray, test_x: np.ndarray,
                      test_y: np.ndarray, cfg, model_name: str = "model", overwrite: bool = False,
                      test_subjects: np.ndarray | None = None, extra_info: dict[str, Any] | None = None,
                      test_records: np.ndarray | None = None) -> list[dict]:
    """Export ``checkpoint`` to every format of ``cfg.export.formats`` that applies to it and check each file:
    a causal checkpoint (``arch.bidirectional`` False) gets only the stateful formats; a bidirectional one every
    other format (a stateful pair needs a causal head: no row).

    Parameters
    ----------
    checkpoint : path
        A sleepedge checkpoint (``save_checkpoint``).
    out_dir : path
        The export folder; files go to ``out_dir/<model_name>/`` and rows name them relative to ``out_dir``.
    calib_x : ndarray, (N, T, 1, S) float32
        Real training sequences for int8 calibration (already sampled).
    test_x, test_y : ndarray
        Test sequences and their labels (``cfg.export.test_sequences`` of them are used; 0 = all).
    cfg : Config or ExportConfig
        Settings (formats, opset, tolerances, timeouts).
    model_name : str
        ``baseline``, ``compressed`` ...
    overwrite : bool
        Replace files already in ``out_dir/<model_name>/``.

    Returns
    -------
    list of dict
        One row per format (``status`` ``ok`` or ``failed`` with ``reason``).
    extra_info : dict, optional
        Added to every row (the export stage passes ``provenance``: :func:`sleepedge.export.provenance.export_context`).
    test_records : ndarray, optional
        The ``record`` of each test sequence: the stateful rows join consecutive sequences of one record into a
        night (without it every sequence is a night of its own).
    """
    from sleepedge.models import load_checkpoint

    model, payload = load_checkpoint(checkpoint)
    return export_model(model, out_dir, calib_x, test_x, test_y, cfg, model_name, overwrite, test_subjects=test_subjects,
                        extra_info=with_state_range(extra_info, model, payload), test_records=test_records)


def with_state_range(extra_info: dict[str, Any] | None, model, payload: dict[str, Any]) -> dict[str, Any] | None:
    """``extra_info`` plus ``state_range_train``: a causal head's state range over its training nights (checkpoint meta),
    which the stateful export's int16 calibration covers."""
    span = (payload.get("meta") or {}).get("state_range")
    if span and not model.arch.bidirectional:
        return {**(extra_info or {}), "state_range_train": span}
    return extra_info


def export_model(model, out_dir: str | Path, calib_x: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, cfg,
                 model_name: str = "model", overwrite: bool = False, test_subjects: np.ndarray | None = None,
                 extra_info: dict[str, Any] | None = None, test_records: np.ndarray | None = None) -> list[dict]:
    """:func:`export_checkpoint` for a model in memory (e.g. the untrained reference); ``test_subjects`` gives
    the subject of each test sequence, for subject-level bootstrap confidence intervals in the rows;
    ``extra_info`` is added to every row (``untrained``, ``label``); ``test_records`` as there."""
    ecfg, root = export_section(cfg), Path(out_dir)
    fmts = applicable_formats(get_formats(list(ecfg.formats)), model, model_name)
    check_arrays(test_x, test_y, model.arch.epoch_samples, "test data")
    check_arrays(calib_x, None, model.arch.epoch_samples, "calibration data")
    if calib_x.shape[1] != test_x.shape[1]:
        raise DataError(f"calibration sequences have {calib_x.shape[1]} epochs, test sequences {test_x.shape[1]}")
    causal = not model.arch.bidirectional
    test = (test_x, test_y, test_subjects) if causal else pick_test(test_x, test_y, ecfg.test_sequences, test_subjects)
    ref = None if causal else torch_logits(model, test[0])  # a causal model is scored over whole nights instead
    info = {**model_info(model, int(test_x.shape[1])), "untrained": False, **(extra_info or {})}
    if "provenance" not in info:  # called without the export stage: what the calibration arrays say, dataset unknown
        info["provenance"] = export_context(None, calib_x, None, calib_x, None, source="calibration sequences given")
    model_dir, work = root / model_name, root / model_name / ".work"
    model_dir.mkdir(parents=True, exist_ok=True)
    nights = test_nights(test_x, test_y, test_records, test_subjects) if causal else None
    rows = _export_all(model, fmts, model_name, info, model_dir, work, root, calib_x, test, ref, ecfg, overwrite, nights)
    shutil.rmtree(work, ignore_errors=True)
    return rows


def applicable_formats(fmts: list[ExportFormat], model, model_name: str) -> list[ExportFormat]:
    """The formats that apply to ``model``: only the stateful ones for a causal model, none of them for a
    bidirectional one (a stateful pair carries a unidirectional LSTM's state; no row, a log line)."""
    stateful = [f for f in fmts if f.stateful]
    if not model.arch.bidirectional:
        return stateful
    if stateful:
        log.info("%s: %s not applicable to a bidirectional model (no row)", model_name, ", ".join(f.name for f in stateful))
    return [f for f in fmts if not f.stateful]


def _export_all(model, fmts, name, info, model_dir, work, root, calib_x, test, ref, ecfg, overwrite,
                nights=None) -> list[dict]:
    rows = {f.name: new_row(name, f, info) for f in fmts}
    work.mkdir(parents=True, exist_ok=True)
    stateful = [f for f in fmts if f.stateful]
    if stateful:
        rows.update(export_stateful(model, stateful, rows, model_dir, work, root, calib_x, nights, ecfg, overwrite))
        fmts = [f for f in fmts if not f.stateful]
    stream = [f for f in fmts if f.stream]
    if stream:
        rows.update(export_stream(model, stream, rows, model_dir, work, root, calib_x, test, ref, ecfg, overwrite))
    fmts = [f for f in fmts if not f.stream]
    if not fmts:
        _int8_vs_fp32(rows)
        return list(rows.values())
    onnx_fmt = "onnx_fp32" in rows
    onnx_path = model_dir / "onnx_fp32.onnx" if onnx_fmt else work / "model.onnx"
    t0 = time.perf_counter()
    try:
        export_onnx(model, onnx_path, info["seq_len"], ecfg.opset, overwrite=overwrite)
    except Exception as exc:  # exporter failure: every row fails with the reason
        return [fail(r, f"ONNX export failed: {type(exc).__name__}: {exc}") for r in rows.values()]
    if onnx_fmt:
        rows["onnx_fp32"]["convert_s"] = round(time.perf_counter() - t0, 3)
        check_file(rows["onnx_fp32"], FORMATS["onnx_fp32"], onnx_path, root, test[0], test[1], ref, ecfg.parity_tol,
                   subjects=test[2])
    jobs = onnx2tf_jobs(onnx_path, work, fmts, calib_x, ecfg.timeout_s, ecfg.int8_attempts)
    jobs.update(keras_jobs(model, work, fmts, calib_x, info["seq_len"], ecfg.timeout_s, ecfg.int8_attempts))
    for fmt in fmts:
        if fmt.name not in jobs:
            continue
        tol = None if fmt.is_int8 else ecfg.tflite_parity_tol
        row = _tflite_row(rows[fmt.name], fmt, jobs[fmt.name], model_dir, root, test, ref, tol, overwrite)
        if fmt.is_int8 and row["status"] == "ok":
            _microcontroller_view(row, root / row["file"], test[0], ecfg, overwrite)
    _log_failed_jobs(jobs, model_dir)
    _int8_vs_fp32(rows)
    return list(rows.values())


def _log_failed_jobs(jobs: dict[str, Onnx2TfJob], model_dir: Path) -> None:
    """Keep the full onnx2tf output of a failed conversion beside the files (``<job>.log``)."""
    for job in {j.name: j for j in jobs.values()}.values():
        log_name = {"int8_convert": "int8_convert.log"}.get(job.name, "keras.log" if job.name.startswith("keras") else "onnx2tf.log")
        log_file = model_dir / ".work" / job.name / log_name
        if not job.ok and log_file.is_file():
            atomic_copy(log_file, model_dir / f"{job.name}.log", overwrite=True)


def _int8_vs_fp32(rows: dict[str, dict]) -> None:
    """Add ``accuracy_delta_vs_fp32`` / ``macro_f1_delta_vs_fp32`` (int8 minus fp32) to ok int8 rows.

    The fp32 reference is the TFLite fp32 row of the same converter when it is ok, else the ONNX row (for a
    streaming or stateful pair: the ONNX pair of the same kind). With both rows' per-subject
    confusion matrices the deltas get paired subject-bootstrap CIs (``*_delta_vs_fp32_ci``, points).
    """
    from sleepedge.core.stats import cms_from_json, paired_delta_ci

    ok = lambda n: rows[n] if rows.get(n, {}).get("status") == "ok" else None  # noqa: E731
    onnx, stream, stateful = ok("onnx_fp32"), ok("stream_onnx_fp32"), ok("stateful_onnx_fp32")
    tflite_fp32 = {FORMATS[n].converter: r for n, r in rows.items()  # the fp32 TFLite file of each converter
                   if FORMATS[n].precision == "fp32" and FORMATS[n].runtime == "tflite" and not FORMATS[n].stream
                   and r["status"] == "ok"}
    for r in rows.values():
        fmt = FORMATS[r["format"]]
        ref = stream if fmt.stream else (stateful if fmt.stateful else tflite_fp32.get(fmt.converter, onnx))
        if (ref is not None and r["precision"] in ("int8", "int16x8") and r["status"] == "ok"
                and r.get("accuracy") is not None and ref.get("accuracy") is not None):
            r["fp32_reference"] = ref["format"]
            r["accuracy_delta_vs_fp32"] = r["accuracy"] - ref["accuracy"]
            r["macro_f1_delta_vs_fp32"] = r["macro_f1"] - ref["macro_f1"]
            if r.get("subject_confusion") and ref.get("subject_confusion"):  # paired over the test subjects, in points
                d = paired_delta_ci(cms_from_json(ref["subject_confusion"]), cms_from_json(r["subject_confusion"]))
                r["accuracy_delta_vs_fp32_ci"] = [d["accuracy"]["lo"], d["accuracy"]["hi"]]
                r["macro_f1_delta_vs_fp32_ci"] = [d["macro_f1"]["lo"], d["macro_f1"]["hi"]]
