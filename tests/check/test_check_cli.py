"""``sleepedge check`` through the CLI entry: exit status 0 / 1 / 2, --json, --github, --help."""
import json
import subprocess
import sys

import pytest
from fixtures.check_runs import tflite_bytes

import sleepedge.commands.cli


@pytest.fixture(autouse=True)
def only_check(monkeypatch):
    """The real ``main`` with a subcommand table of ``check`` alone, so these tests do not depend on the
    other subcommands' modules (tests/core/test_cli.py covers the whole table)."""
    monkeypatch.setattr(sleepedge.commands.cli, "SUBCOMMANDS", {"check": "sleepedge.commands.check"})
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def _budget(tmp_path, text, name="budget.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _main(*args):
    return sleepedge.commands.cli.main(["check", *map(str, args)])


def test_under_budget_exits_0(tmp_path, run_dir, capsys):
    assert _main("--budget", _budget(tmp_path, 'extends = "nrf52840"\nmin_macro_f1 = 0.70\n'), run_dir) == 0
    out = capsys.readouterr().out
    assert "max_arena_bytes" in out and "<= 262,144 B" in out and "200,000 B" in out and "+23.7 %" in out
    assert "budget check PASS: 3 of 3 limits pass" in out


def test_over_budget_exits_1_and_names_the_limit(tmp_path, run_dir, capsys):
    assert _main("--budget", _budget(tmp_path, "max_params = 200000\nmin_kappa = 0.5\n"), run_dir) == 1
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if "max_params" in x]
    assert "FAIL" in line and "240,000" in line and "-20.0 %" in line
    assert "budget check FAIL: 1 of 2 limits pass" in out


def test_missing_metric_fails_closed(tmp_path, run_dir, capsys):
    b = _budget(tmp_path, 'max_latency_ms_p50 = 50\nlatency_device = "Cortex-A72"\n')
    assert _main("--budget", b, run_dir) == 1
    assert "not measured" in capsys.readouterr().out


@pytest.mark.parametrize("text, message", [
    ("max_params = = 1\n", "not valid TOML"),
    ("max_tflite_byte = 1000\n", "unknown key 'max_tflite_byte' (did you mean 'max_tflite_bytes'?)"),
    ('max_tflite_bytes = "1 MB"\n', "max_tflite_bytes = '1 MB' is text"),
    ("min_macro_f1 = 70\n", "did you mean 0.7?"),
    ("max_arena_bytes = -4\n", "must not be negative"),
])
def test_bad_budget_exits_2_with_one_clear_line(tmp_path, run_dir, capsys, text, message):
    b = _budget(tmp_path, text)
    assert _main("--budget", b, run_dir) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"sleepedge check: error: {b}") and message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_missing_inputs_exit_2(tmp_path, run_dir, capsys):
    assert _main("--budget", tmp_path / "nope.toml", run_dir) == 2
    assert _main("--budget", "nrf52840", tmp_path / "no-run") == 2
    assert _main("--budget", "nrf5284", run_dir) == 2
    err = capsys.readouterr().err
    assert "nope.toml: budget file not found" in err and "no-run: check target not found" in err
    assert "did you mean 'nrf52840'" in err


def test_tflite_alone_is_checked_for_size(tmp_path, capsys):
    f = tmp_path / "m.tflite"
    f.write_bytes(tflite_bytes(2000))
    assert _main("--budget", "nrf52840", f) == 1  # the arena limit cannot be measured from a file: fails closed
    out = capsys.readouterr().out
    assert "2,000 B" in out and "carries only its size" in out
    assert _main("--budget", _budget(tmp_path, "max_tflite_bytes = 2048\n"), f) == 0


def test_pyproject_budget_is_the_default(tmp_path, run_dir, monkeypatch, capsys):
    _budget(tmp_path, '[tool.sleepedge.budget]\nextends = "nrf52840"\nmax_params = 100000\n', name="pyproject.toml")
    monkeypatch.chdir(tmp_path)
    assert _main(run_dir) == 1
    assert "max_params" in capsys.readouterr().out
    monkeypatch.chdir(run_dir)
    assert _main(run_dir) == 2
    assert "no --budget given" in capsys.readouterr().err


def test_json_output(tmp_path, run_dir):
    out = tmp_path / "result.json"
    b = _budget(tmp_path, "max_params = 200000\n")
    assert _main("--budget", b, "--json", out, "--model", "all", run_dir) == 1
    data = json.loads(out.read_text())
    assert data["schema"] == "sleepedge.check/1" and data["verdict"] == "FAIL" and data["n_failed"] == 2
    assert data["models"] == ["baseline", "compressed"]
    assert {r["model"]: r["measured"] for r in data["rows"]} == {"baseline": 700_000, "compressed": 240_000}
    assert _main("--budget", b, "--json", out, run_dir) == 2  # never silently overwritten
    assert _main("--budget", b, "--json", out, "--overwrite", run_dir) == 1
    assert json.loads(out.read_text())["models"] == ["compressed"]


def test_github_annotations_and_summary(tmp_path, run_dir, capsys, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    b = _budget(tmp_path, "max_params = 200000\nmin_macro_f1 = 0.7\n")
    assert _main("--budget", b, "--github", run_dir) == 1
    lines = capsys.readouterr().out.splitlines()
    errors = [x for x in lines if x.startswith("::error ")]
    assert len(errors) == 1
    assert "title=Budget FAIL%3A compressed max_params::compressed: max_params measured 240,000" in errors[0]
    assert "(headroom -20.0 %25)" in errors[0]
    assert any(x.startswith("::notice title=sleepedge budget check::budget check FAIL") for x in lines)
    md = summary.read_text()
    assert md.startswith("earlier step\n") and "sleepedge budget check: FAIL" in md
    assert "| compressed | max_params | <= 200,000 | 240,000 | -20.0 % | **FAIL** |" in md


def test_help_answers_fast_without_heavy_imports():
    probe = ("import sys, time, argparse; t = time.perf_counter()\n"
             "from sleepedge.commands import check\n"
             "p = argparse.ArgumentParser(prog='sleepedge check'); check.add_arguments(p)\n"
             "p.format_help()\n"
             "heavy = [m for m in ('numpy', 'torch', 'tensorflow', 'sleepedge.check') if m in sys.modules]\n"
             "print(heavy, time.perf_counter() - t)\n")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    heavy, seconds = r.stdout.rsplit(" ", 1)
    assert heavy == "[]" and float(seconds) < 1.0


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as exc:
        _main("--help")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(opt in out for opt in ("--budget", "--json", "--github", "--model", "TARGET"))


def test_github_bad_input_is_an_annotation_too(tmp_path, run_dir, capsys):
    assert _main("--budget", _budget(tmp_path, "max_tflite_byte = 5\n"), "--github", run_dir) == 2
    out, err = capsys.readouterr()
    assert out.startswith("::error title=sleepedge check%3A bad input::") and "max_tflite_byte" in out
    assert "did you mean 'max_tflite_bytes'?" in err
