"""Figures rendered from the run they describe: block replacement and the provenance refusals."""
from __future__ import annotations

import json
import subprocess

import pytest

from sleepedge.lab.docs_figures import FiguresError, provenance, record_timing, replace_block


def test_replace_block_touches_only_its_block():
    text = "a\n<!-- figures:x -->\nold\n<!-- /figures:x -->\nb\n<!-- figures:y -->\nkeep\n<!-- /figures:y -->\n"
    out = replace_block(text, "x", "new\nlines", "README.md")
    assert "new\nlines" in out and "old" not in out and "keep" in out and out.startswith("a\n") and "\nb\n" in out
    with pytest.raises(FiguresError, match="figures:z"):
        replace_block(text, "z", "", "README.md")


def test_replace_block_fills_an_empty_block():
    out = replace_block("a\n<!-- figures:x -->\n<!-- /figures:x -->\nb\n", "x", "t\n", "README.md")
    assert out == "a\n<!-- figures:x -->\nt\n<!-- /figures:x -->\nb\n"


def test_int8_interval_is_shown_in_points_like_its_delta():
    from sleepedge.lab.docs_figures import _ci, _scaled

    row = {"macro_f1_delta_vs_fp32": -0.0037, "macro_f1_delta_vs_fp32_ci": [-0.69, -0.11]}  # delta: fraction; CI: points
    assert _ci(100 * row["macro_f1_delta_vs_fp32"], _scaled(row)) == "-0.4 [-0.7, -0.1]"


def _repo(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    for cmd in (["init", "-q"], ["config", "user.email", "t@t"], ["config", "user.name", "t"]):
        subprocess.run(["git", "-C", str(repo), *cmd], check=True)
    (repo / "code.py").write_text("x = 1\n")
    (repo / "README.md").write_text("readme\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "c"], check=True)
    return repo, subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()


def _run(tmp_path, commit, dirty=False):
    run = tmp_path / f"run-{commit[:6]}-{dirty}"
    (run / "train").mkdir(parents=True, exist_ok=True)
    (run / "train" / "manifest.json").write_text(json.dumps({
        "env": {"git_commit": commit, "git_dirty": dirty}, "dataset": {"label": "SYNTHETIC data", "synthetic": True}}))
    return run


def test_provenance_accepts_the_same_code_and_docs_only_changes(tmp_path):
    repo, commit = _repo(tmp_path)
    (repo / "README.md").write_text("new figures\n")  # docs may change after the run
    p = provenance(_run(tmp_path, commit), repo)
    assert p["commit"] == commit and p["synthetic"]


def test_provenance_refuses_a_dirty_run_and_other_code(tmp_path):
    repo, commit = _repo(tmp_path)
    with pytest.raises(FiguresError, match="uncommitted"):
        provenance(_run(tmp_path, commit, dirty=True), repo)
    (repo / "code.py").write_text("x = 2\n")
    with pytest.raises(FiguresError, match="differs"):
        provenance(_run(tmp_path, commit), repo)


def test_timing_record(tmp_path):
    f = tmp_path / "install_seconds"
    f.write_text("81\n")
    (tmp_path / "run").mkdir()
    rec = json.loads(record_timing(tmp_path / "run", f, 300.0).read_text())
    assert rec["install_seconds"] == 81 and rec["total_seconds"] == 381


def test_capture_keeps_the_command_and_refuses_failures(tmp_path, monkeypatch):
    import sys

    from sleepedge.lab import docs_figures

    repo, _ = _repo(tmp_path)
    out = docs_figures.capture("probe", [sys.executable, "-c", "print('| a |')"], markdown=True, repo=repo)
    text = out.read_text()
    assert out == repo / "docs" / "generated" / "probe.md" and "| a |" in text and "python" in text and "commit" in text
    with pytest.raises(FiguresError, match="exited 3"):
        docs_figures.capture("bad", [sys.executable, "-c", "import sys; sys.exit(3)"], markdown=False, repo=repo)
    (repo / "code.py").write_text("x = 3\n")
    with pytest.raises(FiguresError, match="uncommitted"):
        docs_figures.capture("probe", [sys.executable, "-c", "print(1)"], markdown=True, repo=repo)


@pytest.mark.parametrize("argv", [["capture", "n", "--markdown", "--", "echo", "| a |"],
                                  ["capture", "--markdown", "n", "--", "echo", "| a |"]])
def test_capture_takes_markdown_before_or_after_the_name(monkeypatch, argv):
    import sleepedge.lab.docs_figures as df

    seen = {}
    monkeypatch.setattr(df, "capture", lambda name, cmd, markdown: seen.update(name=name, cmd=cmd, markdown=markdown) or "f")
    assert df.main(argv) == 0
    assert seen == {"name": "n", "cmd": ["echo", "| a |"], "markdown": True}


def _causal_metrics(qualified: bool = True) -> dict:
    row = {"lookahead": 1, "lag_s": 30.0, "test_macro_f1": 0.851, "test_d_macro_f1_vs_parent_points": -0.4,
           "test_d_macro_f1_vs_parent_points_ci": [-1.3, 0.6]}
    return {"selected": "causal-k1", "qualified": qualified, "rows": {"causal-k1": row}}


def test_causal_table_shows_the_lag_the_paired_change_and_the_device_figures_of_the_run():
    from sleepedge.lab.docs_figures import causal_lines

    s8 = {"status": "ok", "macro_f1": 0.848, "macro_f1_delta_vs_fp32": -0.002, "macro_f1_delta_vs_fp32_ci": [-0.5, 0.1],
          "tflm_arena_bytes": 27_000, "stateful_ram_bytes": 30_100}
    bench = {"latency_ms_per_epoch_p50": 0.0456, "speedup_vs_yardstick": 41.23, "size_ratio_vs_yardstick": 812.4}
    text = "\n".join(causal_lines(_causal_metrics(), s8, {}, bench))
    assert "`causal-k1`" in text and "1 epochs (30 s)" in text
    assert "85.1" in text and "-0.4 pt [-1.3, +0.6]" in text
    assert "-0.2 [-0.5, +0.1] pt" in text and "26.4 KiB" in text and "29.4 KiB" in text
    assert "0.046 ms" in text and "41.2x faster and 812x smaller" in text
    assert "NO look-ahead" not in text
    assert "NO look-ahead met the criterion" in "\n".join(causal_lines(_causal_metrics(False), {}, {}, None))


def test_no_causal_table_without_a_causal_head_and_a_failed_export_says_so():
    from sleepedge.lab.docs_figures import causal_lines

    assert causal_lines(None, {}, {}, None) == []
    text = "\n".join(causal_lines(_causal_metrics(), {"status": "failed", "reason": "converter died"}, {}, None))
    assert "FAILED" in text and "converter died" in text
