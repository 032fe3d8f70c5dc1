"""Streaming export for wearables: a per-epoch feature model and a sequence head, as ONNX and int8 TFLite.

Each ``stream_*`` format writes ``<model>/<format>/features<suffix>`` (one 30-s epoch ``(1, 1, 1, S)`` ->
CNN features ``(1, F)``) and ``<model>/<format>/head<suffix>`` (the cached features of the last ``L``
epochs ``(1, L, 1, F)`` -> logits ``(1, L, C)``); see :mod:`sleepedge.models.streaming`. The row checks
the pair as a device runs it: every test window goes through ``L`` feature calls and one head call
in the file's own runtime, and the logits are compared with the PyTorch window model (the pair must
give the window model's predictions on full windows). int8 rows add both TFLite Micro arenas, the
feature ring buffer (``L * F`` int8 bytes) and a C array per part.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from sleepedge.run.manifest import atomic_copy

from sleepedge.export.carray import write_pair_c_arrays
from sleepedge.config.formats import ExportFormat
from sleepedge.export.int8_convert import int8_job
from sleepedge.export.keras_convert import run_keras
from sleepedge.export.oplist import check_ops, list_ops
from sleepedge.export.onnx_export import export_onnx
from sleepedge.export.provenance import stamp_provenance
from sleepedge.export.rows import fail, finish_row
from sleepedge.export.tflite_convert import Onnx2TfJob, run_onnx2tf
from sleepedge.export.tflm import measure_pair_arenas
from sleepedge.export.validate import quantize, tflite_io

log = logging.getLogger(__name__)

PARTS = ("features", "head")


def stream_calibration(model, calib_x: np.ndarray) -> dict[str, np.ndarray]:
    """Calibration inputs of each part: the calibration epochs one by one, and their PyTorch features per window."""
    feats = part_features(model, calib_x)
    return {"features": calib_x.reshape(-1, 1, 1, calib_x.shape[-1]), "head": feats[:, :, None, :]}


def part_features(model, x: np.ndarray) -> np.ndarray:
    """PyTorch CNN features ``(N, T, F)`` of windows ``(N, T, 1, S)`` (eval mode, no grad)."""
    import torch

    model.eval()
    with torch.no_grad():
        return model.features(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


def export_stream(model, fmts: list[ExportFormat], rows: dict[str, dict], model_dir: Path, work: Path, root: Path,
                  calib_x: np.ndarray, test: tuple, ref: np.ndarray, ecfg, overwrite: bool) -> dict[str, dict]:
    """Export and check every streaming format of ``fmts``; returns their rows (also updated in ``rows``)."""
    from sleepedge.models.streaming import split_model

    seq_len, n_feat = int(test[0].shape[1]), int(model.arch.cnn_features)
    features, head = split_model(model)
    shapes = {"features": (1, 1, 1, model.arch.epoch_samples), "head": (1, seq_len, 1, n_feat)}
    onnx_dir = model_dir / "stream_onnx_fp32" if any(f.name == "stream_onnx_fp32" for f in fmts) else work / "stream_onnx"
    t0 = time.perf_counter()
    try:
        onnx = {p: export_onnx(m, onnx_dir / f"{p}.onnx", seq_len, ecfg.opset, overwrite=overwrite, input_shape=shapes[p],
                               output_name="features" if p == "features" else "logits")
                for p, m in (("features", features), ("head", head))}
    except Exception as exc:  # exporter failure: every streaming row fails with the reason
        return {f.name: fail(rows[f.name], f"ONNX export of the streaming pair failed: {type(exc).__name__}: {exc}")
                for f in fmts}
    onnx_s = time.perf_counter() - t0
    calib = stream_calibration(model, calib_x) if any(f.is_int8 for f in fmts) else {}
    for fmt in fmts:
        row = rows[fmt.name]
        row.update(kind="stream", stream_window=seq_len, n_features=n_feat)
        if fmt.converter == "torch.onnx":
            row["convert_s"] = round(onnx_s, 3)
            files = onnx
        else:
            files = _convert(model, fmt, row, onnx, calib, seq_len, model_dir, work, ecfg, overwrite)
            if files is None:
                continue
        _check_pair(row, fmt, files, root, test, ref, ecfg)
        if fmt.is_int8 and row["status"] == "ok":
            _microcontroller_view(row, files, model, test[0], ecfg, overwrite)
    return {f.name: rows[f.name] for f in fmts}


def _convert(model, fmt, row, onnx, calib, seq_len, model_dir, work, ecfg, overwrite) -> dict[str, Path] | None:
    """Convert both parts with the format's converter; the files copied into ``<model>/<format>/``, or None.

    The two conversions run side by side (each is a child process, mostly single-threaded): on 2 cores
    that halves the wall time the pair adds to an export.
    """
    def convert(part: str) -> Onnx2TfJob:
        cal = calib.get(part) if fmt.is_int8 else None
        wdir = work / f"{fmt.name}_{part}"
        if fmt.converter == "onnx2tf":  # fp32 SavedModel, then quantised until fully integer (int8_convert), as the window rows
            base = run_onnx2tf(onnx[part], wdir, None, ecfg.timeout_s, name=f"onnx2tf_{part}")
            if cal is None:
                return base
            return int8_job(base, wdir / "out", wdir / "int8_convert", cal, [fmt.onnx2tf_output], ecfg.int8_attempts,
                            ecfg.timeout_s, name=f"int8_convert_{part}")
        return run_keras(model, part, seq_len, wdir, cal, [fmt.onnx2tf_output], ecfg.timeout_s, name=f"keras_{part}",
                         attempts=ecfg.int8_attempts, lstm=fmt.lstm)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(PARTS)) as pool:
        jobs = dict(zip(PARTS, pool.map(convert, PARTS)))
    row["convert_s"] = round(time.perf_counter() - t0, 3)  # wall time of the two side-by-side conversions
    row["convert_s_parts"] = {p: round(j.seconds, 3) for p, j in jobs.items()}  # each one's own wall time
    row["convert_job"] = ", ".join(j.name for j in jobs.values())
    attempts = {p: j.attempts[fmt.onnx2tf_output] for p, j in jobs.items() if fmt.onnx2tf_output in (j.attempts or {})}
    if attempts:  # conversions each part needed to come out fully integer
        row["quantize_attempts"], row["quantize_attempts_parts"] = max(attempts.values()), attempts
    bad = [f"{p}: {j.reason or 'no ' + fmt.onnx2tf_output + ' file'}" for p, j in jobs.items()
           if not j.ok or fmt.onnx2tf_output not in j.files]
    if bad:
        fail(row, f"{fmt.converter} conversion of the streaming pair failed ({'; '.join(bad)})")
        return None
    return {p: atomic_copy(j.files[fmt.onnx2tf_output], model_dir / fmt.name / f"{p}{fmt.suffix}", overwrite=overwrite)
            for p, j in jobs.items()}


def _check_pair(row: dict, fmt: ExportFormat, files: dict[str, Path], root: Path, test: tuple, ref: np.ndarray,
                ecfg) -> dict:
    """Sizes, op lists and the pair's logits on every test window in its own runtime, against PyTorch."""
    from sleepedge.firmware_bench.runtimes import load_runner, resolve_tflite

    reason = stamp_provenance(row, files)  # into both files first: every figure below is of the final bytes
    if reason:
        return fail(row, reason)
    rel = {p: f.relative_to(root).as_posix() for p, f in files.items()}
    sizes = {p: f.stat().st_size for p, f in files.items()}
    row.update(file=None, files=rel, file_bytes=sum(sizes.values()),
               **{f"file_bytes_{p}": n for p, n in sizes.items()})
    tol = ecfg.parity_tol if fmt.runtime == "onnxruntime" else (None if fmt.is_int8 else ecfg.tflite_parity_tol)
    row["parity_tol"] = tol
    try:
        if fmt.runtime == "tflite":
            _tflite_checks(row, fmt, files)
            if row["flex_ops"]:
                return fail(row, f"Flex (SELECT_TF) ops present: {row['flex_ops']}")
        runtime = "onnxruntime" if fmt.runtime == "onnxruntime" else (resolve_tflite("tflite") or "ai-edge-litert")
        pair = load_runner(runtime, files["features"], 1, False, head_path=files["head"])
        logits = np.concatenate([pair.run(np.ascontiguousarray(w[None], dtype=np.float32)) for w in test[0]])
    except Exception as exc:  # a pair its runtime cannot run is a failed row, not a dead export
        return fail(row, f"{fmt.runtime} could not run the streaming pair: {type(exc).__name__}: {exc}")
    return finish_row(row, logits, test[1], ref, tol, test[2])


def _tflite_checks(row: dict, fmt: ExportFormat, files: dict[str, Path]) -> None:
    """Operators of both parts (summed, and per part) and the quantisation of both inputs."""
    verdicts = {p: check_ops(list_ops(f), fmt.is_int8) for p, f in files.items()}
    for key in ("flex_ops", "float_ops", "custom_ops", "op_counts"):
        row[key] = dict(sum((Counter(v[key]) for v in verdicts.values()), Counter()))
    row["n_ops"] = sum(v["n_ops"] for v in verdicts.values())
    row.update({f"n_ops_{p}": v["n_ops"] for p, v in verdicts.items()})
    row.update(tflite_io(files["features"]))
    row["head_io"] = tflite_io(files["head"])


def _microcontroller_view(row: dict, files: dict[str, Path], model, test_x: np.ndarray, ecfg, overwrite: bool) -> None:
    """TFLite Micro arena of each part, the feature ring buffer, board fit and C arrays of an ok int8 pair."""
    head_io = row["head_io"]
    epoch = test_x[:1, :1].astype(np.float32)
    feats = part_features(model, test_x[:1])[:, :, None, :]
    inputs = {"features": quantize(epoch, row["input_scale"], row["input_zero_point"]),
              "head": quantize(feats, head_io["input_scale"], head_io["input_zero_point"])}
    buffer = int(row["stream_window"] * row["n_features"])  # int8 features of the last L epochs
    row["feature_buffer_bytes"] = buffer
    if ecfg.tflm:
        measure_pair_arenas(row, {p: files[p] for p in PARTS}, inputs, ecfg, "stream_ram_bytes", buffer)
    else:
        row["tflm_status"] = "skipped"
    if row["input_dtype"] == "int8" and ecfg.c_array:
        write_pair_c_arrays(row, files, overwrite)
