"""``RUN/report.md``: one page with every stage's tables and figures (standard library only).

The report reads what the stages wrote (manifests, markdown tables, PNGs); it computes no metric
itself, so every figure in it traces back to a stage's manifest. A stage that is stale (made from
an older version of the stage before it) is not shown: its section says so and how to redo it, so
the report never mixes new models with old measurements.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sleepedge.run.manifest import MANIFEST_NAME, ManifestError, atomic_write_text
from sleepedge.run.transaction import redo_hint, stale_reason


def _manifest(run: Path, stage: str) -> dict[str, Any] | None:
    """The stage's manifest, or None when it has not finished, is unreadable or is stale."""
    p = run / stage / MANIFEST_NAME
    try:
        m = json.loads(p.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and not _stale(run, stage) else None


def _stale(run: Path, stage: str) -> str:
    try:
        return stale_reason(run / stage) or ""
    except ManifestError as exc:
        return str(exc)


def _missing(run: Path, stage: str) -> list[str]:
    """What a section shows instead of its content: not run yet, or stale (and how to redo it)."""
    why = _stale(run, stage) if (run / stage / MANIFEST_NAME).is_file() else ""
    if why:
        return [f"_stale, not shown: {why}. Redo it: `{redo_hint(run / stage)}`_", ""]
    return ["_not run yet_", ""]


def _include(path: Path) -> list[str]:
    return [path.read_text("utf-8").strip(), ""] if path.is_file() else []


def _image(run: Path, rel: str, alt: str) -> list[str]:
    return [f"![{alt}]({rel})", ""] if (run / rel).is_file() else []


def _header(run: Path, outcomes: list) -> list[str]:
    try:
        return _header_lines(run, outcomes)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"# sleepedge report: `{run.name}`", "", f"_header not shown: a manifest is malformed ({exc})_", ""]


def _header_lines(run: Path, outcomes: list) -> list[str]:
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
        lines += ["| stage | status | seconds | error / note |", "|---|---|---:|---|"]
        lines += [f"| {o.stage} | {o.status} | {o.seconds:.1f} | {'; '.join(x for x in (o.error, getattr(o, 'note', '')) if x)} |"
                  for o in outcomes]
        lines.append("")
    return lines


def _train_section(run: Path) -> list[str]:
    m = _manifest(run, "train")
    lines = ["## 1. Baseline training", ""]
    if m is None:
        return lines + _missing(run, "train")
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
        return lines + _missing(run, "compress")
    return (lines + _include(run / "compress" / "sweep.md") + _image(run, "compress/fig_stage1.png", "stage 1")
            + _image(run, "compress/fig_stage2.png", "stage 2") + _demote(_include(run / "compress" / "recipes.md")))


def _demote(lines: list[str]) -> list[str]:
    """An included document's ``# title`` as a ``###`` heading inside its section."""
    return [("##" + ln) if ln.startswith("# ") else ln for ln in lines]


def _export_section(run: Path) -> list[str]:
    lines = ["## 3. Export (ONNX, TFLite fp32 / int8, streaming pair, TFLite Micro)", ""]
    m = _manifest(run, "export")
    if m is None:
        return lines + _missing(run, "export")
    cards = sorted(k for k in m.get("outputs", {}) if k.endswith("/model_card"))
    links = [f"[{k.split('/')[0]}](export/{m['outputs'][k]['path']})" for k in cards]
    return lines + _include(run / "export" / "formats.md") + ([f"Model cards: {', '.join(links)}.", ""] if links else [])


def _bench_section(run: Path) -> list[str]:
    lines = ["## 4. Benchmark (latency, memory, size; baseline next to compressed)", ""]
    if _manifest(run, "bench") is None:
        return lines + _missing(run, "bench")
    return lines + _include(run / "bench" / "results.md") + _image(run, "bench/latency_vs_size.png", "latency vs size")


def _check_section(run: Path) -> list[str]:
    lines = ["## 5. Budget check", ""]
    p = run / "check" / "check.md"
    if _manifest(run, "check") is None:
        return lines + _missing(run, "check")
    return lines + _include(p)


def build_report(run: str | Path, outcomes: list | None = None) -> str:
    run = Path(run)
    parts = _header(run, outcomes or [])
    for section in (_train_section, _compress_section, _export_section, _bench_section, _check_section):
        try:
            parts += section(run)
        except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:  # a malformed manifest or table
            parts += [f"_{section.__name__[1:].replace('_section', '')}: not shown, its files are unreadable "
                      f"({type(exc).__name__}: {exc})_", ""]
    return "\n".join(parts).rstrip() + "\n"


def write_report(run: str | Path, outcomes: list | None = None) -> Path:
    """(Re)write ``RUN/report.md``; it is a view of the stage folders, so replacing it loses nothing."""
    return atomic_write_text(Path(run) / "report.md", build_report(run, outcomes), overwrite=True)
