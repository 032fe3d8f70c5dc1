"""``RUN/report.md``: one page with every stage's tables and figures (standard library only).

The report reads what the stages wrote (manifests, markdown tables, PNGs); it computes no metric
itself, so every figure in it traces back to a stage's manifest.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .runfolder import MANIFEST_NAME, atomic_write_text


def _manifest(run: Path, stage: str) -> dict[str, Any] | None:
    p = run / stage / MANIFEST_NAME
    return json.loads(p.read_text("utf-8")) if p.is_file() else None


def _include(path: Path) -> list[str]:
    return [path.read_text("utf-8").strip(), ""] if path.is_file() else []


def _image(run: Path, rel: str, alt: str) -> list[str]:
    return [f"![{alt}]({rel})", ""] if (run / rel).is_file() else []


def _header(run: Path, outcomes: list) -> list[str]:
    first = next((m for m in (_manifest(run, s) for s in ("train", "compress", "export", "bench")) if m), None)
    lines = [f"# sleepedge report: `{run.name}`", ""]
    if first is None:
        return lines + ["No stage has finished yet.", ""]
    ds, env = first.get("dataset", {}), first.get("env", {})
    dev = env.get("device", {})
    lines += [
        f"**Dataset: {ds.get('label', ds.get('name', '?'))}**" + ("  \n**Every figure below comes from SYNTHETIC data.**" if ds.get("synthetic") else ""),
        "",
        f"- preset: `{first.get('config', {}).get('name', '?')}`, architecture `{first.get('config', {}).get('model', {}).get('arch', '?')}`",
        f"- device: {dev.get('cpu', '?')} ({dev.get('cores', '?')} cores, {dev.get('machine', '?')}, {dev.get('os', '?')})"
        + (" - EMULATED" if dev.get("emulated") else ""),
        f"- sleepedge commit: `{env.get('git_commit') or 'unknown'}`; packages: "
        + ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items()),
        "",
    ]
    if outcomes:
        lines += ["| stage | status | seconds | error |", "|---|---|---:|---|"]
        lines += [f"| {o.stage} | {o.status} | {o.seconds:.1f} | {o.error} |" for o in outcomes]
        lines.append("")
    return lines


def _train_section(run: Path) -> list[str]:
    m = _manifest(run, "train")
    lines = ["## 1. Baseline training", ""]
    if m is None:
        return lines + ["_not run yet_", ""]
    met, split = m["metrics"], m.get("split") or {}
    t, v = met["test"], met.get("val", {})
    lines += [
        f"Subjects: train {split.get('train')}, validation {split.get('val')}, test {split.get('test')}; "
        f"{met['params']:,} parameters; best epoch {met['best_epoch']} of {met['epochs_run']}; "
        f"training wall time {met['train_wall_s']:.0f} s.",
        "",
        "| split | accuracy | macro-F1 | kappa | " + " | ".join(f"F1 {k}" for k in t["per_class_f1"]) + " |",
        "|---|---:|---:|---:|" + "---:|" * len(t["per_class_f1"]),
    ]
    for name, d in (("validation", v), ("test", t)):
        if d:
            lines.append(f"| {name} | {d['accuracy']:.3f} | {d['macro_f1']:.3f} | {d['kappa']:.3f} | "
                         + " | ".join(f"{x:.3f}" for x in d["per_class_f1"].values()) + " |")
    lines.append("")
    return lines + _image(run, "train/confusion.png", "confusion matrix") + _image(run, "train/hypnogram.png", "hypnogram")


def _compress_section(run: Path) -> list[str]:
    m = _manifest(run, "compress")
    lines = ["## 2. Two-stage compression", ""]
    if m is None:
        return lines + ["_not run yet_", ""]
    sel = m.get("metrics", {}).get("selected", {})
    if sel:
        lines += ["Selected model: " + ", ".join(f"{k} = {v}" for k, v in sel.items()), ""]
    return lines + _include(run / "compress" / "sweep.md") + _image(run, "compress/fig_stage1.png", "stage 1") + _image(run, "compress/fig_stage2.png", "stage 2")


def _export_section(run: Path) -> list[str]:
    lines = ["## 3. Export (ONNX, TFLite fp32 / int8, streaming pair, TFLite Micro)", ""]
    m = _manifest(run, "export")
    if m is None:
        return lines + ["_not run yet_", ""]
    cards = sorted(k for k in m.get("outputs", {}) if k.endswith("/model_card"))
    links = [f"[{k.split('/')[0]}](export/{m['outputs'][k]['path']})" for k in cards]
    return lines + _include(run / "export" / "formats.md") + ([f"Model cards: {', '.join(links)}.", ""] if links else [])


def _bench_section(run: Path) -> list[str]:
    lines = ["## 4. Benchmark (latency, memory, size; baseline next to compressed)", ""]
    if _manifest(run, "bench") is None:
        return lines + ["_not run yet_", ""]
    return lines + _include(run / "bench" / "results.md") + _image(run, "bench/latency_vs_size.png", "latency vs size")


def _check_section(run: Path) -> list[str]:
    lines = ["## 5. Budget check", ""]
    p = run / "check" / "check.md"
    if _manifest(run, "check") is None:
        return lines + ["_not run yet_", ""]
    return lines + _include(p)


def build_report(run: str | Path, outcomes: list | None = None) -> str:
    run = Path(run)
    parts = _header(run, outcomes or [])
    for section in (_train_section, _compress_section, _export_section, _bench_section, _check_section):
        parts += section(run)
    return "\n".join(parts).rstrip() + "\n"


def write_report(run: str | Path, outcomes: list | None = None) -> Path:
    """(Re)write ``RUN/report.md``; it is a view of the stage folders, so replacing it loses nothing."""
    return atomic_write_text(Path(run) / "report.md", build_report(run, outcomes), overwrite=True)
