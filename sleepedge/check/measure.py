"""The measured value behind each limit, or why it was not measured (which stage would measure it).

Size, parameters, arena and accuracy come from the export row of the checked format (``format``,
default ``tflite_int8``); the accuracy drops compare it with the baseline model's row of
``baseline_format``; int8 disagreement is ``1 - agreement_torch`` of the ``tflite_int8`` row;
latency and RSS come from the bench rows of the named runtime, precision, threads and device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleepedge.check.loadcheck import verify_loads
from sleepedge.check.schema import STATEFUL_FORMATS
from sleepedge.check.target import Target

EXPORT_HINT = "run `sleepedge export`"
BENCH_HINT = "run `sleepedge bench`"
EXPORT_FIELDS = {  # limit -> (export row field, how to get it measured)
    "max_tflite_bytes": ("file_bytes", EXPORT_HINT),
    "max_params": ("params", EXPORT_HINT),
    "max_arena_bytes": ("tflm_arena_bytes", "run `sleepedge export` with export.tflm = true"),
    "min_accuracy": ("accuracy", EXPORT_HINT),
    "min_macro_f1": ("macro_f1", EXPORT_HINT),
    "min_kappa": ("kappa", EXPORT_HINT),
}
DROP_FIELDS = {"max_accuracy_drop_points": "accuracy", "max_macro_f1_drop_points": "macro_f1"}
BENCH_FIELDS = {"max_latency_ms_p50": "latency_ms_p50", "max_rss_bytes": "peak_rss_bytes",
                "max_rss_increase_bytes": "rss_increase_bytes"}


@dataclass
class Measured:
    """A measured value with where it came from, or ``value=None`` and the reason it is missing."""

    value: float | None
    detail: str


def _missing(why: str, hint: str) -> Measured:
    return Measured(None, f"not measured: {why}; {hint}")


def _number(row: dict[str, Any], key: str) -> float | None:
    v = row.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return v


def export_row(t: Target, model: str, fmt: str) -> tuple[dict[str, Any] | None, str]:
    """The ok export row of (model, format) whose file loads and runs, or ``None`` and why not.

    Raises
    ------
    DataError
        The row's file (sha256-verified against the export manifest) does not load and run with its runtime.
    """
    if t.export_rows is None:
        return None, "no finished export stage"
    rows = [r for r in t.export_rows if r["model"] == model and r["format"] == fmt]
    if not rows:
        return None, f"no export row for {model}/{fmt} (export formats must include {fmt})"
    row = rows[-1]
    if row.get("status", "ok") != "ok":
        return None, f"export of {model}/{fmt} failed: {row.get('reason') or 'no reason given'}"
    paths = [t.export_files.get(k) for k in _file_keys(model, fmt)]
    if None in paths:
        return None, f"the export manifest lists no file for the ok row {model}/{fmt}"
    for path in paths:  # a stateful pair counts only when both of its files load and run
        verify_loads(path)
    return row, ""


def _file_keys(model: str, fmt: str) -> list[str]:
    """Export output names of (model, format): one file, or a stateful pair's ``features`` and ``step``."""
    if fmt in STATEFUL_FORMATS:
        return [f"{model}/{fmt}/features", f"{model}/{fmt}/step"]
    return [f"{model}/{fmt}"]


def model_files(t: Target, model: str, fmt: str) -> list[Path]:
    """Every export file of (model, format) (two for a stateful pair); call after :func:`export_row` returned its row."""
    return [t.export_files[k] for k in _file_keys(model, fmt)]


def model_file(t: Target, model: str, fmt: str) -> Path:
    """The export file of (model, format) (a stateful pair's step model); call after :func:`export_row`."""
    return model_files(t, model, fmt)[-1]


def _export_value(t: Target, model: str, key: str, fmt: str) -> Measured:
    field, hint = EXPORT_FIELDS[key]
    row, why = export_row(t, model, fmt)
    if row is None:
        return _missing(why, hint)
    if field == "file_bytes":  # the verified file(s) themselves, not a number written beside them
        paths = model_files(t, model, fmt)
        names = " + ".join(p.name for p in paths)
        return Measured(sum(p.stat().st_size for p in paths), f"size of {names} ({model}/{fmt}), which load and run")
    v = _number(row, field)
    if v is None:
        status = f" (tflm_status: {row['tflm_status']})" if field == "tflm_arena_bytes" and row.get("tflm_status") else ""
        return _missing(f"export row {model}/{fmt} has no {field}{status}", hint)
    if fmt in STATEFUL_FORMATS and field == "tflm_arena_bytes":  # both arenas; the RAM beside them
        ram = _number(row, "stateful_ram_bytes")
        return Measured(v, f"{field} of export row {model}/{fmt} (features + step arenas; RAM with the state and one "
                           f"epoch of signal: {'not recorded' if ram is None else f'{int(ram)} bytes'})")
    return Measured(v, f"{field} of export row {model}/{fmt}")


def _drop(t: Target, model: str, key: str, s: dict[str, Any]) -> Measured:
    field = DROP_FIELDS[key]
    row, why = export_row(t, model, s["format"])
    base, base_why = export_row(t, "baseline", s["baseline_format"])
    if row is None or base is None:
        return _missing(why or base_why, "run `sleepedge export` (it exports the baseline and the compressed model)")
    v, b = _number(row, field), _number(base, field)
    if v is None or b is None:
        return _missing(f"{field} missing in export row {model}/{s['format']} or baseline/{s['baseline_format']}",
                        EXPORT_HINT)
    return Measured((b - v) * 100.0, f"baseline/{s['baseline_format']} {field} {b:.4f} - "
                                     f"{model}/{s['format']} {field} {v:.4f}")


def _disagreement(t: Target, model: str, fmt: str = "tflite_int8") -> Measured:
    fmt = fmt if fmt in STATEFUL_FORMATS and fmt.endswith("int8") else "tflite_int8"
    row, why = export_row(t, model, fmt)
    if row is None:
        return _missing(why, EXPORT_HINT)
    v = _number(row, "agreement_torch")
    if v is None:
        return _missing(f"export row {model}/{fmt} has no agreement_torch", EXPORT_HINT)
    return Measured(1.0 - v, f"1 - agreement_torch of export row {model}/{fmt}")


def _runtime_ok(row: dict[str, Any], runtime: str, precision: str) -> bool:
    fmt = str(row.get("format", "")).removeprefix("stateful_")
    runtimes = {str(row.get("runtime", "")).lower(), fmt.split("_")[0].lower()}
    row_precision = str(row.get("precision") or fmt.rpartition("_")[2]).lower()
    return runtime.lower() in runtimes and precision.lower() == row_precision


def device_matches(row: dict[str, Any], device: str) -> bool:
    """``device`` equals the row's machine (e.g. ``x86_64``) or is part of its CPU model name."""
    d = row.get("device") or {}
    want = device.lower()
    return want == str(d.get("machine", "")).lower() or want in str(d.get("cpu", "")).lower()


def _describe(row: dict[str, Any]) -> str:
    d = row.get("device") or {}
    return f"{d.get('machine', '?')} ({d.get('cpu', '?')})"


def _bench_value(t: Target, model: str, key: str, s: dict[str, Any]) -> Measured:
    field, device = BENCH_FIELDS[key], s["latency_device"]
    where = f" on a device matching {device!r}" if device else ""
    hint = f"{BENCH_HINT}{where}"
    if t.bench_rows is None:
        return _missing("no bench results", hint)
    want = f"{model} {s['latency_runtime']} {s['latency_precision']}, {s['latency_threads']} thread(s)"
    rows = [r for r in t.bench_rows if r["model"] == model
            and _runtime_ok(r, s["latency_runtime"], s["latency_precision"]) and r.get("threads") == s["latency_threads"]]
    if not rows:
        have = sorted({f"{r['model']} {r.get('runtime')} {r.get('precision')} {r.get('threads')}t" for r in t.bench_rows})
        return _missing(f"no bench row for {want} (bench has: {'; '.join(have) or 'nothing'})", hint)
    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    if not ok:
        return _missing(f"bench of {want} failed: {rows[-1].get('reason') or 'no reason given'}", hint)
    if device:
        seen = sorted({_describe(r) for r in ok})
        ok = [r for r in ok if device_matches(r, device)]
        if not ok:
            return _missing(f"{want} measured only on {', '.join(seen)}", hint)
    if not s["allow_emulated"]:
        ok = [r for r in ok if not (r.get("emulated") or (r.get("device") or {}).get("emulated"))]
        if not ok:
            return _missing(f"{want} was measured only under emulation (not a board figure)", hint)
    values = [(v, r) for r in ok if (v := _number(r, field)) is not None]
    if not values:
        return _missing(f"bench rows of {want} have no {field}", hint)
    v, r = max(values, key=lambda vr: vr[0])
    worst = f", worst of {len(values)} rows" if len(values) > 1 else ""
    return Measured(v, f"{field} of bench {want} on {_describe(r)}{worst}")


def instructions_value(t: Target, model: str, fmt: str) -> Measured:
    """Instructions per epoch of the model's int8 TFLite file (callgrind; seconds per file)."""
    from sleepedge.check.instructions import instructions

    if t.kind == "tflite":
        return Measured(*instructions(t.tflite_file))
    if fmt != "tflite_int8":
        return _missing(f"instructions are counted for int8 TFLite files only (format = {fmt})",
                        'set format = "tflite_int8"')
    row, why = export_row(t, model, fmt)
    if row is None:
        return _missing(why, EXPORT_HINT)
    return Measured(*instructions(model_file(t, model, fmt)))


def measure(t: Target, model: str, key: str, settings: dict[str, Any]) -> Measured:
    """The measured value for limit ``key`` of ``model`` on target ``t`` under the resolved settings."""
    if t.kind == "tflite":
        if key == "max_instructions_per_epoch":
            return instructions_value(t, model, settings["format"])
        if key == "max_tflite_bytes":  # load_target has made sure the file loads and runs
            return Measured(t.tflite_file.stat().st_size, f"size of {t.tflite_file.name}, which loads and runs")
        return _missing("a single .tflite file carries only its size",
                        "check a run folder (sleepedge export / bench) for this limit")
    if key in EXPORT_FIELDS:
        return _export_value(t, model, key, settings["format"])
    if key in DROP_FIELDS:
        return _drop(t, model, key, settings)
    if key == "max_int8_disagreement":
        return _disagreement(t, model, settings["format"])
    if key in BENCH_FIELDS:
        return _bench_value(t, model, key, settings)
    if key == "max_instructions_per_epoch":
        return instructions_value(t, model, settings["format"])
    raise KeyError(key)  # schema.LIMITS and this dispatch must stay in step (tested)
