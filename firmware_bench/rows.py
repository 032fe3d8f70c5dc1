"""Bench rows (``RUN/bench/results.json``) from raw measurements: latency statistics, memory, accuracy,
agreement with the reference row, and ratios against it, all taken from the same run.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sleepedge.core.metrics import agreement, classification_metrics

from sleepedge.firmware_bench.measure import Measurement
from sleepedge.firmware_bench.provenance import essentials
from sleepedge.firmware_bench.settings import BenchSettings
from sleepedge.firmware_bench.timing import round_spread, summarize

log = logging.getLogger(__name__)


def build_rows(measurements: list[Measurement], y: np.ndarray, settings: BenchSettings,
               device: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per measurement, then ``agreement_ref`` and ``*_vs_ref`` ratios against the reference row
    and ``*_vs_yardstick`` ratios against the untrained paper-size DeepSleepNet (``settings.yardstick``)."""
    seq_len = int(y.shape[1])
    rows = [_row(m, y, seq_len, settings, device) for m in measurements]
    preds = {r["key"]: m.logits.argmax(-1) for r, m in zip(rows, measurements) if m.logits is not None}
    add_reference_fields(rows, preds, settings.reference)
    add_ratio_fields(rows, settings.yardstick, "yardstick")
    add_same_runtime_ratios(rows, settings.yardstick)
    return rows


def _row(m: Measurement, y: np.ndarray, seq_len: int, settings: BenchSettings, device: dict[str, Any]) -> dict[str, Any]:
    t = m.target
    row: dict[str, Any] = {
        "key": t.key, "model": t.model, "format": t.format, "runtime": t.runtime, "precision": t.precision,
        "runtime_version": (m.load.get("info") or {}).get("version") or device.get("runtimes", {}).get(t.runtime),
        "threads": settings.threads, "xnnpack": t.xnnpack, "file": t.file, "file_bytes": t.file_bytes,
        "params": t.params, "seq_len": seq_len, **_input_fields(m.load.get("info") or {}), "load_ms": m.load.get("load_ms"),
        "first_inference_ms": m.load.get("first_inference_ms"),
    }
    if t.is_stateful:
        row.update(stateful_latency_fields(m.rounds_ms, m.head_rounds_ms))
    elif t.is_pair:
        row.update(pair_latency_fields(m.rounds_ms, m.head_rounds_ms, seq_len))
    else:
        row.update(_latency_fields(m.rounds_ms, seq_len))
    row.update(_memory_fields(m))
    row["tflm_arena_bytes"] = t.tflm_arena_bytes if t.precision == "int8" else None
    row.update(_accuracy_fields(m.logits, y))
    row.update(_deployment_fields(t))
    row.update({"agreement_ref": None, "status": t.status if t.status != "pending" else "failed",
                "reason": t.reason, "device": device, "emulated": bool(device.get("emulated"))})
    if row["status"] == "ok" and row["latency_ms_p50"] is None:
        row["status"], row["reason"] = "failed", "no timed runs"
    return row


def _deployment_fields(t) -> dict[str, Any]:
    """What kind of model the row measures: window model or streaming pair, trained or the untrained reference."""
    e = t.export_row
    kind = "stateful" if t.is_stateful else "stream" if t.is_pair else "window"
    extra = {k: e.get(k) for k in STATEFUL_EXPORT_FIELDS} if t.is_stateful else {}
    return {"kind": kind, **extra, "untrained": t.untrained, "label": e.get("label"),
            "files": e.get("files"), "converter": e.get("converter"), "stream_ram_bytes": e.get("stream_ram_bytes"),
            "macs_per_epoch": e.get("macs_per_epoch"),
            "provenance": essentials(t.path)}  # the file's own: {dataset, synthetic, untrained}, None without one


STATEFUL_EXPORT_FIELDS = ("lookahead", "lag_s", "state_layers", "state_hidden", "state_dtype", "state_bytes",
                          "epoch_bytes", "stateful_ram_bytes", "tflm_arena_features_bytes", "tflm_arena_step_bytes",
                          "file_bytes_features", "file_bytes_step", "fits_boards")


def stateful_latency_fields(feat_rounds: list[list[float]], step_rounds: list[list[float]]) -> dict[str, Any]:
    """Latency of a stateful pair: one epoch = one feature call + one step call (a decision every epoch).

    Every latency figure is per epoch (the pair's unit of work), so ``latency_ms_p50`` equals
    ``latency_ms_per_epoch_p50``; the parts are ``latency_ms_feature_p50`` and ``latency_ms_step_p50``.
    """
    keys = ("latency_ms_feature_p50", "latency_ms_step_p50", "latency_ms_p50", "latency_ms_p90", "latency_ms_p99",
            "latency_ms_mean", "latency_ms_std", "latency_ms_per_epoch_p50", "epochs_per_s", "timed_runs", "timed_s",
            "round_p50_ms", "round_spread_pct", "round_p50_ms_per_epoch")
    if not feat_rounds or not step_rounds or not all(feat_rounds) or not all(step_rounds):
        return dict.fromkeys(keys)
    f, s = summarize([v for r in feat_rounds for v in r]), summarize([v for r in step_rounds for v in r])
    per_round = [summarize(a)["p50"] + summarize(b)["p50"] for a, b in zip(feat_rounds, step_rounds)]
    return {
        "latency_ms_feature_p50": f["p50"], "latency_ms_step_p50": s["p50"], "latency_ms_p50": f["p50"] + s["p50"],
        "latency_ms_p90": f["p90"] + s["p90"], "latency_ms_p99": f["p99"] + s["p99"],
        "latency_ms_mean": f["mean"] + s["mean"], "latency_ms_std": None, "latency_ms_per_epoch_p50": f["p50"] + s["p50"],
        "epochs_per_s": 1000.0 / (f["mean"] + s["mean"]), "timed_runs": f["n"] + s["n"],
        "timed_s": (f["total_ms"] + s["total_ms"]) / 1000.0, "round_p50_ms": per_round,
        "round_spread_pct": round_spread(per_round), "round_p50_ms_per_epoch": per_round,
    }


def _input_fields(info: dict[str, Any]) -> dict[str, Any]:
    """Input tensor type (and int8 quantisation) as the runtime reports it for the loaded file."""
    return {"input_dtype": info.get("input_dtype"), "input_scale": info.get("input_scale"),
            "input_zero_point": info.get("input_zero_point")}


def _latency_fields(rounds_ms: list[list[float]], seq_len: int) -> dict[str, Any]:
    keys = ("latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "latency_ms_mean", "latency_ms_std",
            "latency_ms_per_epoch_p50", "epochs_per_s", "timed_runs", "timed_s", "round_p50_ms", "round_spread_pct")
    flat = [v for r in rounds_ms for v in r]
    if not flat:
        return dict.fromkeys(keys)
    s = summarize(flat)
    round_p50 = [summarize(r)["p50"] for r in rounds_ms]
    return {
        "latency_ms_p50": s["p50"], "latency_ms_p90": s["p90"], "latency_ms_p99": s["p99"],
        "latency_ms_mean": s["mean"], "latency_ms_std": s["std"], "latency_ms_per_epoch_p50": s["p50"] / seq_len,
        # throughput: epochs classified per second of timed inference (total, so outliers count)
        "epochs_per_s": seq_len * s["n"] / (s["total_ms"] / 1000.0), "timed_runs": s["n"],
        "timed_s": s["total_ms"] / 1000.0, "round_p50_ms": round_p50, "round_spread_pct": round_spread(round_p50),
        "round_p50_ms_per_epoch": [v / seq_len for v in round_p50],
    }


def pair_latency_fields(feat_rounds: list[list[float]], head_rounds: list[list[float]], seq_len: int) -> dict[str, Any]:
    """Latency of a streaming pair: per epoch = one feature call + one head call (a decision every epoch).

    ``latency_ms_p50`` is the cost of one window of ``seq_len`` epochs scored like a window model
    (``seq_len`` feature calls and one head call), so per-window figures stay comparable too.
    """
    keys = ("latency_ms_feature_p50", "latency_ms_head_p50", "latency_ms_p50", "latency_ms_p90", "latency_ms_p99",
            "latency_ms_mean", "latency_ms_std", "latency_ms_per_epoch_p50", "epochs_per_s", "timed_runs", "timed_s",
            "round_p50_ms", "round_spread_pct", "round_p50_ms_per_epoch")
    if not feat_rounds or not head_rounds or not all(feat_rounds) or not all(head_rounds):
        return dict.fromkeys(keys)
    f, h = summarize([v for r in feat_rounds for v in r]), summarize([v for r in head_rounds for v in r])
    per_epoch_rounds = [summarize(a)["p50"] + summarize(b)["p50"] for a, b in zip(feat_rounds, head_rounds)]
    window = lambda fv, hv: seq_len * fv + hv  # noqa: E731
    return {
        "latency_ms_feature_p50": f["p50"], "latency_ms_head_p50": h["p50"],
        "latency_ms_p50": window(f["p50"], h["p50"]), "latency_ms_p90": window(f["p90"], h["p90"]),
        "latency_ms_p99": window(f["p99"], h["p99"]), "latency_ms_mean": window(f["mean"], h["mean"]),
        "latency_ms_std": None, "latency_ms_per_epoch_p50": f["p50"] + h["p50"],
        "epochs_per_s": 1000.0 / (f["mean"] + h["mean"]), "timed_runs": f["n"] + h["n"],
        "timed_s": (f["total_ms"] + h["total_ms"]) / 1000.0,
        "round_p50_ms": [window(summarize(a)["p50"], summarize(b)["p50"]) for a, b in zip(feat_rounds, head_rounds)],
        "round_spread_pct": round_spread(per_epoch_rounds), "round_p50_ms_per_epoch": per_epoch_rounds,
    }


def _memory_fields(m: Measurement) -> dict[str, Any]:
    peak, before = m.memory.get("peak_rss_bytes"), m.load.get("rss_before_load_bytes")
    return {
        "peak_rss_bytes": peak, "rss_before_load_bytes": before,
        "rss_after_load_bytes": m.load.get("rss_after_load_bytes"),
        # what loading and running the model added on top of the interpreter + runtime library
        "rss_increase_bytes": peak - before if peak is not None and before is not None else None,
    }


def _accuracy_fields(logits: np.ndarray | None, y: np.ndarray) -> dict[str, Any]:
    """Test-set scores (None without predictions, e.g. for the untrained reference)."""
    if logits is None:
        return {"accuracy": None, "macro_f1": None, "kappa": None, "test_epochs": None}
    if logits.shape[:2] != y.shape:
        raise ValueError(f"logits of shape {logits.shape} do not match labels {y.shape}")
    m = classification_metrics(y, logits.argmax(-1), n_classes=max(5, logits.shape[-1]))
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "kappa": m["kappa"], "test_epochs": int(y.size)}


def find_reference(rows: list[dict[str, Any]], spec: str) -> dict[str, Any] | None:
    """The row whose key is ``spec`` or starts with ``spec + "/"`` (first match), or None."""
    for r in rows:
        if r["key"] == spec or r["key"].startswith(spec + "/"):
            return r
    return None


def add_reference_fields(rows: list[dict[str, Any]], preds: dict[str, np.ndarray], spec: str) -> None:
    """Agreement with the reference row's predictions and speed/size/memory ratios (>1 = better than the reference)."""
    ref = find_reference(rows, spec)
    usable = ref is not None and ref["status"] == "ok"
    if not usable:
        log.warning("reference row %r %s: no ratios", spec, "not measured" if ref else "not found")
    for r in rows:
        r["reference"] = spec
        for k in ("speedup_vs_ref", "speedup_vs_ref_min", "speedup_vs_ref_max", "size_ratio_vs_ref",
                  "memory_ratio_vs_ref", "rss_increase_ratio_vs_ref"):
            r[k] = None
        if not usable or r["status"] != "ok":
            continue
        if r["key"] in preds and ref["key"] in preds:
            r["agreement_ref"] = agreement(preds[r["key"]], preds[ref["key"]])
        r.update(_ratios(ref, r, "ref"))


def add_ratio_fields(rows: list[dict[str, Any]], spec: str, suffix: str) -> None:
    """``speedup_vs_<suffix>`` (+ paired min/max), ``size_ratio_vs_<suffix>``, ``memory_ratio_vs_<suffix>`` and
    ``rss_increase_ratio_vs_<suffix>`` of every ok row against the row ``spec`` (None when it was not measured)."""
    ref = find_reference(rows, spec) if spec else None
    usable = ref is not None and ref["status"] == "ok"
    if spec and not usable:
        log.warning("%s row %r %s: no ratios against it", suffix, spec, "not measured" if ref else "not in this bench")
    for r in rows:
        r[suffix] = spec if usable else None
        r.update(dict.fromkeys(_ratio_keys(suffix)))
        if usable and r["status"] == "ok":
            r.update(_ratios(ref, r, suffix))


SAME_RUNTIME = "dsn_runtime"


def add_same_runtime_ratios(rows: list[dict[str, Any]], spec: str) -> None:
    """``*_vs_dsn_runtime`` ratios: every ok row against the yardstick model's fp32 window row measured by the
    same runtime with the same XNNPACK setting (e.g. compressed int8 TFLite against DeepSleepNet fp32 TFLite).

    The ``bench.yardstick`` row is DeepSleepNet in its fastest runtime here (onnxruntime); a deployment that
    ships ``.tflite`` files replaces a DeepSleepNet run by the TFLite interpreter, so both comparisons are
    reported side by side (docs/yardstick.md). ``dsn_runtime`` names the row used, or None when the bench has
    no such row (``export.reference_formats`` decides which DeepSleepNet files exist).
    """
    model = spec.split("/")[0] if spec else ""
    refs: dict[tuple[str, bool], dict[str, Any]] = {}
    for r in rows:  # several fp32 files of the yardstick in one runtime: the fastest one (the harder comparison)
        if (model and r["model"] == model and r["status"] == "ok" and r.get("precision") == "fp32"
                and r.get("kind") == "window" and r.get("latency_ms_per_epoch_p50") is not None):
            k = (r["runtime"], bool(r.get("xnnpack")))
            if k not in refs or r["latency_ms_per_epoch_p50"] < refs[k]["latency_ms_per_epoch_p50"]:
                refs[k] = r
    for r in rows:
        ref = refs.get((r["runtime"], bool(r.get("xnnpack"))))
        r[SAME_RUNTIME] = ref["key"] if ref is not None and r["status"] == "ok" else None
        r.update(dict.fromkeys(_ratio_keys(SAME_RUNTIME)))
        if r[SAME_RUNTIME]:
            r.update(_ratios(ref, r, SAME_RUNTIME))


def _ratio_keys(suffix: str) -> tuple[str, ...]:
    return (f"speedup_vs_{suffix}", f"speedup_vs_{suffix}_min", f"speedup_vs_{suffix}_max", f"size_ratio_vs_{suffix}",
            f"memory_ratio_vs_{suffix}", f"rss_increase_ratio_vs_{suffix}")


def _ratios(ref: dict[str, Any], r: dict[str, Any], suffix: str) -> dict[str, Any]:
    """Reference / row ratios (> 1 = better than the reference). Speed compares latency per 30-s epoch, so a
    window model and a streaming pair compare on the same footing (see docs/streaming.md)."""
    per_epoch = ref.get("latency_ms_per_epoch_p50") is not None and r.get("latency_ms_per_epoch_p50") is not None
    key, rounds = ("latency_ms_per_epoch_p50", "round_p50_ms_per_epoch") if per_epoch else ("latency_ms_p50", "round_p50_ms")
    out = {f"speedup_vs_{suffix}": _ratio(ref.get(key), r.get(key))}
    paired = [_ratio(a, b) for a, b in zip(ref.get(rounds) or [], r.get(rounds) or [])]
    paired = [p for p in paired if p is not None]
    if paired:  # per-round ratios: each round timed the reference and this row back to back
        out[f"speedup_vs_{suffix}_min"], out[f"speedup_vs_{suffix}_max"] = min(paired), max(paired)
    out[f"size_ratio_vs_{suffix}"] = _ratio(ref["file_bytes"], r["file_bytes"])
    out[f"memory_ratio_vs_{suffix}"] = _ratio(ref["peak_rss_bytes"], r["peak_rss_bytes"])
    out[f"rss_increase_ratio_vs_{suffix}"] = _ratio(ref["rss_increase_bytes"], r["rss_increase_bytes"])
    return out


def _ratio(ref: float | None, value: float | None) -> float | None:
    if ref is None or value is None or value <= 0:
        return None
    return float(ref) / float(value)
