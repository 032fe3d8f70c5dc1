"""onnx2tf vs the tf_keras build, measured on the same models: the table of docs/converters.md.

    python -m sleepedge.lab.converters --arch quick --arch quick:0.8:32 --train-epochs 2 \\
        --out runs/converters [--aarch64 ROOTFS:SITE_PACKAGES]

For each architecture (``preset[:pruned_fraction[:lstm_hidden]]``; ``quick:0.8:32`` keeps 20 % of every
conv layer's channels and 32 LSTM units), a seeded model is briefly trained on synthetic EEG-like
sequences (so int8 accuracy means something), exported with both converters (window model fp32 and
int8, streaming pair int8) and with ONNX, and every file is timed by
:mod:`sleepedge.firmware_bench.filetime` in a child process (1 thread, XNNPACK off) on this machine and,
with ``--aarch64``, under qemu-user (aarch64 root file system and site-packages as prepared by
``scripts/aarch64_check.sh --setup-only``). Writes ``OUT/converters.json`` and ``OUT/converters.md``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from sleepedge.lab.package_copy import copy_package
from sleepedge.run.manifest import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

FORMATS = ["onnx_fp32", "tflite_fp32", "tflite_int8", "tflite_int8_unrolled", "tflite_fp32_onnx2tf", "tflite_int8_onnx2tf",
           "stream_onnx_fp32", "stream_tflite_int8", "stream_tflite_int8_onnx2tf"]


def parse_arch(spec: str):
    """``quick`` or ``quick:0.8:32`` -> (name, DeepSleepNetArch)."""
    from sleepedge.models import get_arch

    name, *rest = spec.split(":")
    arch = get_arch(name)
    if rest:
        keep = 1.0 - float(rest[0])
        scale = lambda ch: tuple(max(1, round(c * keep)) for c in ch)  # noqa: E731
        arch = arch.with_widths(scale(arch.small.channels), scale(arch.large.channels),
                                int(rest[1]) if len(rest) > 1 else arch.lstm_hidden)
    return spec.replace(":", "-"), arch


def export_arch(spec: str, out: Path, train_epochs: int, seq_len: int, n_test: int,
                formats: list[str] | None = None) -> list[dict]:
    """Train briefly, then export every format of ``formats`` (default :data:`FORMATS`); returns the rows."""
    import torch

    from sleepedge.config.settings import load_config
    from sleepedge.models import DeepSleepNet

    from sleepedge.export.calibration import calibration_sample
    from sleepedge.export.checkpoint_export import export_model
    from sleepedge.lab.export_measure import brief_training, synthetic_sequences

    name, arch = parse_arch(spec)
    torch.manual_seed(0)
    model = DeepSleepNet(arch).eval()
    train_x, train_y = synthetic_sequences(256, seq_len, seed=1)
    if train_epochs:
        brief_training(model, train_x, train_y, train_epochs)
    calib_x = calibration_sample(train_x, train_y, 32)
    test_x, test_y = synthetic_sequences(n_test, seq_len, seed=2)
    cfg = load_config("quick", [f"export.formats={','.join(formats or FORMATS)}", "export.reference_arch="])
    return export_model(model, out, calib_x, test_x, test_y, cfg, name, overwrite=True)


def _specs(rows: list[dict], root: Path) -> dict[str, str]:
    """``{row key: filetime spec}`` of every ok row; absolute paths (the timing child runs from ``/``)."""
    out = {}
    for r in rows:
        if r["status"] != "ok":
            continue
        files = [str(root.resolve() / f) for f in (r["files"].values() if r.get("files") else [r["file"]])]
        out[f"{r['model']}/{r['format']}"] = "+".join(files)
    return out


def time_files(specs: dict[str, str], aarch64: str | None = None, min_time: float = 1.0) -> dict[str, dict]:
    """Run filetime natively (or under qemu-aarch64 with ``ROOTFS:SITE``); ``{key: result}``."""
    cmd = [sys.executable, "-m", "sleepedge.firmware_bench.filetime", *specs.values(), "--min-time", str(min_time)]
    env = dict(os.environ)
    if aarch64:
        rootfs, site = aarch64.split(":")
        pkg = Path(site).parent / "sleepedge-py"
        copy_package(pkg)
        cmd = ["qemu-aarch64-static", "-L", rootfs, f"{rootfs}/usr/bin/python3.11", *cmd[1:]]
        env.update(PYTHONPATH=f"{pkg}:{site}", SLEEPEDGE_EMULATED="1", PYTHONDONTWRITEBYTECODE="1")
        env.pop("PYTHONHOME", None)
    log.info("timing %d files%s", len(specs), " under qemu-aarch64" if aarch64 else "")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/", timeout=7200)
    results = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    by_spec = {res["spec"]: res for res in results}
    if r.returncode:
        log.warning("filetime exit %d: %s", r.returncode, r.stderr[-500:])
    return {k: by_spec.get(s, {"error": "no result"}) for k, s in specs.items()}


def _ms_epoch(t: dict | None) -> float | None:
    if not t or "ms" not in t:
        return None
    return t["ms"] if t["kind"] == "pair" else t["ms"] / t["seq_len"]


def _latency_cell(t: dict | None, digits: int) -> str:
    """Latency per epoch, or the timing error (a failed timing is shown, never left blank)."""
    v = _ms_epoch(t)
    if v is not None:
        return f"{v:,.{digits}f}"
    return f"failed: {str(t['error'])[:60]}" if t and t.get("error") else ""


def timing_errors(timings: dict[str, dict]) -> list[str]:
    """``key: error`` of every file whose timing failed."""
    return [f"{k}: {t['error']}" for k, t in timings.items() if t.get("error")]


def _convert_s(r: dict) -> float | None:
    """Conversion seconds; a pair's two parts added (they run side by side in an export)."""
    parts = r.get("convert_s_parts")
    return sum(parts.values()) if parts else r.get("convert_s")


def table(rows: list[dict], x86: dict, arm: dict) -> str:
    """The comparison as markdown."""
    f = lambda v, d=2: "" if v is None else f"{v:,.{d}f}"  # noqa: E731
    heads = ["model", "format", "converter", "convert s", "operators", "file KiB", "fp32 parity", "accuracy %",
             "macro-F1 vs fp32", "x86 ms/epoch", "aarch64 (emulated) ms/epoch", "TFLite Micro arena KiB"]
    out = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for r in rows:
        k = f"{r['model']}/{r['format']}"
        arena = "" if r.get("tflm_arena_bytes") is None else f"{r['tflm_arena_bytes'] / 1024:,.1f} ({r['tflm_status']})"
        if r["status"] != "ok":
            arena = f"failed: {r.get('reason', '')[:80]}"
        d = r.get("macro_f1_delta_vs_fp32")
        out.append("| " + " | ".join([
            r["model"], r["format"], r["converter"] + (f" ({r['lstm']} LSTM)" if r.get("lstm") else ""), f(_convert_s(r), 1), str(r.get("n_ops") or ""),
            f((r.get("file_bytes") or 0) / 1024, 1), "" if r["precision"] == "int8" else f"{r.get('parity_max_abs') or 0:.1e}",
            f(100 * r["accuracy"], 1) if r.get("accuracy") is not None else "", "" if d is None else f"{100 * d:+.2f}",
            _latency_cell(x86.get(k), 3), _latency_cell(arm.get(k), 2), arena]) + " |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", action="append", default=None, help="preset[:pruned_fraction[:hidden]] (repeatable)")
    p.add_argument("--train-epochs", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=10)
    p.add_argument("--test", type=int, default=32, help="test sequences")
    p.add_argument("--aarch64", default=None, help="ROOTFS:SITE_PACKAGES for emulated timings (optional)")
    p.add_argument("--min-time", type=float, default=1.0)
    p.add_argument("--formats", default=",".join(FORMATS), help="export formats to compare (comma list)")
    p.add_argument("--out", default="runs/converters")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(2)
    out = Path(a.out)
    rows = []
    for spec in a.arch or ["quick", "quick:0.8:32"]:
        rows += export_arch(spec, out, a.train_epochs, a.seq_len, a.test, a.formats.split(","))
    specs = _specs(rows, out)
    x86 = time_files(specs, min_time=a.min_time)
    arm = time_files(specs, a.aarch64, min_time=a.min_time / 2) if a.aarch64 else {}
    atomic_write_json(out / "converters.json", {"rows": rows, "x86": x86, "aarch64": arm}, overwrite=True)
    text = table(rows, x86, arm)
    atomic_write_text(out / "converters.md", text, overwrite=True)
    print(text)
    errors = timing_errors(x86) + [f"aarch64 {e}" for e in timing_errors(arm)]
    for e in errors:
        log.error("timing failed: %s", e)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
