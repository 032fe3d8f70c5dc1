"""Figures in the README and the docs, rendered from the run they describe (standard library only).

    make docs-figures                 # = python -m sleepedge.lab.docs_figures render --run runs/demo
    python -m sleepedge.lab.docs_figures timing --run RUN --install-seconds-file F --pipeline-seconds S

``render`` reads the run's manifests and tables (what the stages measured; nothing is computed here
that a stage did not record) and writes

* the block between ``<!-- figures:demo-summary -->`` and ``<!-- /figures:demo-summary -->`` in README.md;
* ``docs/generated/demo.md``: every table of the run (baseline, sweep with paired CIs, recipes side by
  side, int8 vs fp32, export formats, bench, budget check, wall times).

Each rendered block names the commit the run was made by, and ``render`` refuses a run made from a tree
with uncommitted changes, or from a commit whose code differs from the checkout's (anything outside
README.md and docs/): figures must come from ``make demo`` on the commit they are submitted with.
``timing`` is called by ``make demo`` to record its own wall time into ``RUN/make_demo.json``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DOCS_ONLY = (":(exclude)README.md", ":(exclude)docs")


class FiguresError(RuntimeError):
    """The run cannot be rendered (missing stage, dirty tree, other code)."""


def _json(path: Path) -> Any:
    if not path.is_file():
        raise FiguresError(f"{path}: missing (run `make demo` first)")
    return json.loads(path.read_text("utf-8"))


def _manifest(run: Path, stage: str) -> dict[str, Any]:
    return _json(run / stage / "manifest.json")


def provenance(run: Path, repo: Path = REPO) -> dict[str, Any]:
    """Commit, dirtiness and dataset of the run; ``FiguresError`` unless the checkout's code is that commit's."""
    env = _manifest(run, "train").get("env", {})
    commit, dirty = env.get("git_commit"), env.get("git_dirty")
    if not commit:
        raise FiguresError(f"{run}: the run records no git commit; run `make demo` from a git checkout")
    if dirty:
        raise FiguresError(f"{run}: made from a tree with uncommitted changes to {commit[:12]}; commit, then rerun `make demo`")
    r = subprocess.run(["git", "-C", str(repo), "diff", "--quiet", commit, "--", ".", *DOCS_ONLY], capture_output=True)
    if r.returncode != 0:
        raise FiguresError(f"{run}: made by commit {commit[:12]}, but the code here differs from it (outside README.md "
                           "and docs/); rerun `make demo` on this commit")
    ds = _manifest(run, "train").get("dataset", {})
    return {"commit": commit, "label": ds.get("label", "?"), "synthetic": bool(ds.get("synthetic")),
            "created": _manifest(run, "train").get("created", "")}


def _stamp(p: dict[str, Any], run: Path) -> str:
    return (f"_Rendered by `make docs-figures` from `{run}`, made by `make demo` at commit `{p['commit'][:12]}`. "
            f"Dataset: {p['label']}._")


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f}"


def _ci(d: float, ci: list | None, unit: str = "") -> str:
    return f"{d:+.1f}{unit}" + (f" [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci and ci[0] is not None else "")


def _export_rows(run: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["model"], r["format"]): r for r in _manifest(run, "export")["metrics"]["rows"]}


def _bench_rows(run: Path) -> list[dict[str, Any]]:
    m = _manifest(run, "bench")
    path = run / "bench" / "results.json"
    data = _json(path) if path.is_file() else m.get("metrics", {})
    return data if isinstance(data, list) else data.get("rows", [])


def _bench_row(rows: list[dict[str, Any]], model: str, fmt: str) -> dict[str, Any] | None:
    return next((r for r in rows if r.get("model") == model and r.get("format") == fmt and r.get("status", "ok") == "ok"), None)


def _timing(run: Path) -> tuple[str, list[str]]:
    stages = _json(run / "pipeline.json")
    make = (run / "make_demo.json")
    total = ""
    if make.is_file():
        t = json.loads(make.read_text("utf-8"))
        total = (f"`make demo`: **{t['total_seconds'] / 60:.1f} min** wall time "
                 f"({t['install_seconds'] / 60:.1f} min creating the venv and installing, "
                 f"{t['pipeline_seconds'] / 60:.1f} min the pipeline)")
    lines = ["| stage | status | wall time |", "|---|---|---:|"]
    lines += [f"| {s['stage']} | {s['status']} | {s['seconds']:.0f} s |" for s in stages]
    return total, lines


def summary_block(run: Path, p: dict[str, Any]) -> str:
    """The README's table: the demo's baseline next to its compressed model."""
    cm = _manifest(run, "compress")["metrics"]
    sel, base = cm["selected"], cm["baseline"]
    ex = _export_rows(run)
    b8, c8 = ex.get(("baseline", "tflite_int8"), {}), ex.get(("compressed", "tflite_int8"), {})
    bo = ex.get(("baseline", "onnx_fp32"), {})
    bench = _bench_rows(run)
    lat_b, lat_c = _bench_row(bench, "baseline", "onnx_fp32"), _bench_row(bench, "compressed", "tflite_int8")
    check = _manifest(run, "check")["metrics"]
    total, _ = _timing(run)
    rows = [
        ("parameters", f"{base['params']:,}", f"{sel['params']:,}", f"{sel['params_reduction_pct']:.1f} % fewer"),
        ("MACs per 30-s epoch", f"{base['macs'] / 1e6:.2f} M", f"{sel['macs'] / 1e6:.2f} M", f"{sel['macs_reduction_pct']:.1f} % fewer"),
        ("test accuracy, PyTorch fp32 (%)", _pct(base["test_accuracy"]), _pct(sel["test_accuracy"]),
         _ci(sel["test_d_accuracy_points"], sel.get("test_d_accuracy_points_ci"), " pt")),
        ("test macro-F1, PyTorch fp32 (%)", _pct(base["test_macro_f1"]), _pct(sel["test_macro_f1"]),
         _ci(sel["test_d_macro_f1_points"], sel.get("test_d_macro_f1_points_ci"), " pt")),
    ]
    if b8 and c8:
        rows += _int8_rows(b8, c8, bo)
    if lat_b and lat_c:
        rows += _bench_pair_rows(lat_b, lat_c)
    rows.append((f"`{_manifest(run, 'check')['config'].get('budget', 'wearable')}` budget", "", "",
                 f"**{check['verdict']}**" + (f": {', '.join(check['failed'])}" if check.get("failed") else "")))
    lines = [_stamp(p, run), "", "| | baseline | compressed (selected) | compressed vs baseline |", "|---|---:|---:|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines += causal_lines(cm.get("causal"), ex.get(("causal", "stateful_tflite_int8"), {}),
                          ex.get(("causal", "stateful_onnx_fp32"), {}), _bench_row(bench, "causal", "stateful_tflite_int8"))
    lines += ["", "Δ = paired difference over the same test subjects, [95 % subject-bootstrap CI]. " + (total + "." if total else ""),
              "Every table of this run: [docs/generated/demo.md](docs/generated/demo.md)."]
    return "\n".join(lines)


def causal_lines(causal: dict[str, Any] | None, s8: dict[str, Any], s32: dict[str, Any],
                 bench: dict[str, Any] | None) -> list[str]:
    """The README's second table: the causal head the sweep selected, streamed one epoch at a time (issue 21's goals)."""
    if not causal:
        return []
    r = causal["rows"][causal["selected"]]
    rows = [("look-ahead (decision lag)", f"{r['lookahead']} epochs ({r['lag_s']:g} s)",
             "selected on validation" + ("" if causal.get("qualified") else ": NO look-ahead met the criterion")),
            ("test macro-F1, PyTorch fp32, streamed (%)", _pct(r["test_macro_f1"]),
             "vs bidirectional compressed: " + _ci(r["test_d_macro_f1_vs_parent_points"],
                                                   r.get("test_d_macro_f1_vs_parent_points_ci"), " pt") + " (goal: lower end >= -1.0)")]
    if s8.get("status") == "ok":
        rows.append(("test macro-F1, stateful int8 TFLite (%)", _pct(s8.get("macro_f1")),
                     f"vs its fp32: {_ci(100 * s8.get('macro_f1_delta_vs_fp32', 0), _scaled(s8))} pt (goal: within 0.5)"))
        if s8.get("tflm_arena_bytes"):
            rows.append(("TFLite Micro arenas, features + step", f"{s8['tflm_arena_bytes'] / 1024:,.1f} KiB",
                         f"RAM with state and one raw epoch: {s8.get('stateful_ram_bytes', 0) / 1024:,.1f} KiB (goal: arenas <= 32 KiB)"))
    elif s8:
        rows.append(("stateful int8 TFLite", "FAILED", str(s8.get("reason", ""))[:200]))
    if bench and bench.get("speedup_vs_yardstick"):
        rows.append(("p50 latency per epoch, 1 thread (feature call + one step)", f"{bench['latency_ms_per_epoch_p50']:.3f} ms",
                     f"{bench['speedup_vs_yardstick']:.1f}x faster and {bench.get('size_ratio_vs_yardstick') or 0:,.0f}x smaller "
                     "than DeepSleepNet fp32 in onnxruntime (goals: 30x, 300x)"))
    lines = ["", f"Causal head for true streaming (`{causal['selected']}`, `stateful_tflite_int8`: one feature call and one "
             "LSTM step per 30-s epoch, state carried):", "", "| | causal head | against |", "|---|---:|---|"]
    return lines + [f"| {a} | {b} | {c} |" for a, b, c in rows]


def _int8_rows(b8: dict[str, Any], c8: dict[str, Any], bo: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of the int8 TFLite exports: macro-F1, file size, TFLite Micro arena."""
    rows = [("test macro-F1, int8 TFLite (%)", _pct(b8.get("macro_f1")), _pct(c8.get("macro_f1")),
             f"int8 vs own fp32: {_ci(100 * b8.get('macro_f1_delta_vs_fp32', 0), _scaled(b8))} / "
             f"{_ci(100 * c8.get('macro_f1_delta_vs_fp32', 0), _scaled(c8))} pt")]
    rows.append(("file (baseline ONNX fp32 vs compressed int8 TFLite)", f"{bo.get('file_bytes', 0) / 1024:,.0f} KiB",
                 f"{c8['file_bytes'] / 1024:,.0f} KiB", f"{bo.get('file_bytes', 0) / c8['file_bytes']:.1f}x smaller"))
    if b8.get("tflm_arena_bytes") and c8.get("tflm_arena_bytes"):
        rows.append(("TFLite Micro arena (int8)", f"{b8['tflm_arena_bytes'] / 1024:,.0f} KiB",
                     f"{c8['tflm_arena_bytes'] / 1024:,.0f} KiB", "fits " + (", ".join(c8.get("fits_boards") or []) or "none")))
    return rows


def _bench_pair_rows(lat_b: dict[str, Any], lat_c: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows of the bench: latency and peak RSS, baseline ONNX fp32 against compressed int8 TFLite."""
    return [("p50 latency per epoch, 1 thread (baseline ONNX fp32 vs compressed int8 TFLite)",
             f"{lat_b['latency_ms_per_epoch_p50']:.3f} ms", f"{lat_c['latency_ms_per_epoch_p50']:.3f} ms",
             f"{lat_b['latency_ms_per_epoch_p50'] / lat_c['latency_ms_per_epoch_p50']:.2f}x faster (one run, side by side)"),
            ("peak RSS of the bench process", f"{lat_b['peak_rss_bytes'] / 2**20:.1f} MiB",
             f"{lat_c['peak_rss_bytes'] / 2**20:.1f} MiB", f"{lat_b['peak_rss_bytes'] / lat_c['peak_rss_bytes']:.2f}x lower")]


def _scaled(row: dict[str, Any]) -> list | None:
    """The int8-vs-fp32 macro-F1 interval: already in points (``macro_f1_delta_vs_fp32`` is a fraction)."""
    ci = row.get("macro_f1_delta_vs_fp32_ci")
    return [ci[0], ci[1]] if ci else None


def _include(path: Path, demote: int = 1) -> list[str]:
    """A stage's markdown table, its headings pushed ``demote`` levels down."""
    if not path.is_file():
        return [f"_{path.name} not written by this run_", ""]
    text = path.read_text("utf-8").strip()
    return [re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + demote) + " ", ln) for ln in text.splitlines()] + [""]


def demo_document(run: Path, p: dict[str, Any]) -> str:
    """docs/generated/demo.md: every table the run wrote, in pipeline order."""
    total, stage_lines = _timing(run)
    tm = _manifest(run, "train")["metrics"]
    lines = ["# The demo run, every figure", "", "<!-- generated: do not edit; `make docs-figures` rewrites it -->", "",
             _stamp(p, run), "", "## Wall time", "", (total + "." if total else ""), "", *stage_lines, "",
             "## Baseline", "",
             f"Test accuracy {_pct(tm['test']['accuracy'])} %, macro-F1 {_pct(tm['test']['macro_f1'])} %, kappa "
             f"{tm['test']['kappa']:.3f}; {tm['params']:,} parameters; best epoch {tm['best_epoch']} of {tm['epochs_run']}.", ""]
    for title, rel in (("Compression", "compress/sweep.md"), ("Recipes", "compress/recipes.md"),
                       ("Export", "export/formats.md"), ("Bench", "bench/results.md"), ("Budget check", "check/check.md")):
        lines += [f"## {title}", ""] + _include(run / rel, demote=2)
    return "\n".join(lines).rstrip() + "\n"


def replace_block(text: str, name: str, body: str, where: str) -> str:
    """``text`` with the block between ``<!-- figures:name -->`` and ``<!-- /figures:name -->`` replaced."""
    pat = re.compile(rf"(<!-- figures:{re.escape(name)} -->\n).*?(<!-- /figures:{re.escape(name)} -->)", re.S)
    if not pat.search(text):
        raise FiguresError(f"{where}: no <!-- figures:{name} --> ... <!-- /figures:{name} --> block")
    return pat.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text, count=1)


def render(run: Path, repo: Path = REPO) -> list[Path]:
    """Rewrite the README block and docs/generated/demo.md from ``run``; returns the files written."""
    from sleepedge.run.manifest import atomic_write_text

    p = provenance(run, repo)
    readme = repo / "README.md"
    atomic_write_text(readme, replace_block(readme.read_text("utf-8"), "demo-summary", summary_block(run, p), str(readme)),
                      overwrite=True)
    doc = atomic_write_text(repo / "docs" / "generated" / "demo.md", demo_document(run, p), overwrite=True)
    return [readme, doc]


def capture(name: str, cmd: list[str], markdown: bool, repo: Path = REPO) -> Path:
    """Run a measurement command and keep its output in ``docs/generated/<name>.md`` with the command,
    the commit (refused when the tree has uncommitted code changes) and the machine at the top."""
    from sleepedge.core.envinfo import device_info, git_commit
    from sleepedge.run.manifest import atomic_write_text

    commit = git_commit() or "unknown"
    dirty = subprocess.run(["git", "-C", str(repo), "diff", "--quiet", "HEAD", "--", ".", *DOCS_ONLY]).returncode != 0
    if dirty:
        raise FiguresError("the checkout has uncommitted code changes; commit them before measuring for the docs")
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise FiguresError(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr.strip().splitlines()[-1:] or ''}")
    dev = device_info()
    head = [f"<!-- generated: do not edit; `make docs-measurements` rewrites it -->", "",
            f"_Output of `{' '.join(cmd)}` at commit `{commit[:12]}` on {dev['cpu']} ({dev['cores']} cores, "
            f"{dev['machine']}), {_dt.date.today().isoformat()}._", ""]
    body = res.stdout.strip() if markdown else "```\n" + res.stdout.rstrip() + "\n```"
    return atomic_write_text(repo / "docs" / "generated" / f"{name}.md", "\n".join(head) + "\n" + body + "\n", overwrite=True)


def record_timing(run: Path, install_file: Path, pipeline_seconds: float) -> Path:
    """``RUN/make_demo.json``: the venv install time (when ``make`` created it) and the pipeline's wall time."""
    from sleepedge.run.manifest import atomic_write_json

    install = float(install_file.read_text().strip()) if install_file.is_file() else 0.0
    return atomic_write_json(run / "make_demo.json", {
        "install_seconds": install, "pipeline_seconds": pipeline_seconds, "total_seconds": install + pipeline_seconds,
        "recorded": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}, overwrite=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="rewrite the README block and docs/generated/demo.md from a run")
    r.add_argument("--run", type=Path, default=Path("runs/demo"))
    t = sub.add_parser("timing", help="record make demo's wall time into RUN/make_demo.json")
    t.add_argument("--run", type=Path, required=True)
    t.add_argument("--install-seconds-file", type=Path, required=True)
    t.add_argument("--pipeline-seconds", type=float, required=True)
    c = sub.add_parser("capture", help="run a measurement command into docs/generated/NAME.md")
    c.add_argument("name")
    c.add_argument("--markdown", action="store_true", help="the command prints markdown (else it is fenced as text)")
    c.add_argument("command", nargs=argparse.REMAINDER, help="-- the command and its arguments")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "capture":
            cmd, markdown = list(a.command), a.markdown
            if cmd[:1] == ["--markdown"]:  # argparse's REMAINDER after NAME takes the flag too
                cmd, markdown = cmd[1:], True
            cmd = cmd[1:] if cmd[:1] == ["--"] else cmd
            print(capture(a.name, cmd, markdown))
        elif a.cmd == "timing":
            print(record_timing(a.run, a.install_seconds_file, a.pipeline_seconds))
        else:
            for f in render(a.run):
                print(f"wrote {f}")
    except FiguresError as exc:
        print(f"docs-figures: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
