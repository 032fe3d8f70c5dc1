"""``sleepedge bench`` command: --help, a run, a bundle, --from-bundle and --merge through the CLI module."""
from __future__ import annotations

import json

import pytest

from sleepedge.commands import bench as cmd

FAST = ["--set", "bench.min_time_s=0", "--set", "bench.min_runs=2", "--set", "bench.rounds=1", "--set",
        "bench.warmup=0", "--runtimes", "onnxruntime"]


def test_help_is_quick_and_complete(capsys):
    with pytest.raises(SystemExit) as e:
        cmd.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--run", "--bundle", "--from-bundle", "--merge", "--xnnpack", "--reference"):
        assert flag in out


def test_cli_run_bundle_from_bundle_merge(onnx_run, tmp_path, capsys):
    assert cmd.main(["--run", str(onnx_run), *FAST, "--threads", "1"]) == 0
    assert "| baseline | onnx_fp32 | onnxruntime |" in capsys.readouterr().out
    assert cmd.main(["--run", str(onnx_run), "--bundle", str(tmp_path / "b.tar"), *FAST]) == 0
    assert cmd.main(["--from-bundle", str(tmp_path / "b.tar"), "--out", str(tmp_path / "board"), *FAST]) == 0
    merged = tmp_path / "m.md"
    assert cmd.main(["--merge", str(onnx_run / "bench" / "results.json"),
                     str(tmp_path / "board" / "bench" / "results.json"), "--out", str(merged)]) == 0
    assert "| D2 |" in merged.read_text()
    rows = json.loads((tmp_path / "board" / "bench" / "results.json").read_text())
    assert {r["runtime"] for r in rows} == {"onnxruntime"}


def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys):
    assert cmd.main(["--run", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no manifest" in err
    assert cmd.main(["--merge", "a.json", "b.json"]) == 2
    assert "--out" in capsys.readouterr().err
    assert cmd.main(["--run", str(tmp_path), "--set", "bench.runtimes=onnx"]) == 2
    assert "unknown" in capsys.readouterr().err
