"""One error policy: any failure is one line and exit 2; the traceback only with -vv / --debug."""
import subprocess
import sys

import pytest

import sleepedge.commands.cli
from sleepedge.commands.cli import EXIT_BAD_INPUT, one_line, run_command
from sleepedge.core.errors import DataError


def _boom(exc):
    def fn():
        raise exc
    return fn


@pytest.mark.parametrize("exc, text", [
    (DataError("x.npz: not a test sample"), "error: x.npz: not a test sample"),
    (FileNotFoundError(2, "No such file or directory", "/a/b"), "error: /a/b: No such file or directory"),
    (KeyError("metrics"), "error inside sleepedge: KeyError: 'metrics' (rerun with -vv for the traceback)"),
    (ZeroDivisionError("division by zero"), "error inside sleepedge: ZeroDivisionError"),
])
def test_every_failure_is_one_line_and_exit_2(capsys, exc, text):
    assert run_command("check", _boom(exc)) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and text in err and "Traceback" not in err


def test_debug_shows_the_traceback(capsys):
    assert run_command("train", _boom(KeyError("x")), debug=True) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("sleepedge train: error inside sleepedge")


def test_interrupt_is_130(capsys):
    assert run_command("export", _boom(KeyboardInterrupt())) == 130
    assert "interrupted" in capsys.readouterr().err


def test_multi_line_messages_are_folded():
    assert one_line(ValueError("a\nb\n  c")) == "a b c"


def test_a_crash_in_check_is_not_the_limit_failed_status(tmp_path, monkeypatch, capsys):
    """An export manifest holding [] used to crash check with exit 1 (the 'over budget' status)."""
    run = tmp_path / "run"
    (run / "export").mkdir(parents=True)
    (run / "export" / "manifest.json").write_text("[]")
    monkeypatch.setattr(sleepedge.commands.cli, "SUBCOMMANDS", {"check": "sleepedge.commands.check"})
    assert sleepedge.commands.cli.main(["check", "--budget", "nrf52840", str(run)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and "not a manifest" in err


@pytest.mark.parametrize("flag", [["-vv"], ["--debug"]])
def test_debug_flag_after_the_subcommand(tmp_path, flag):
    r = subprocess.run([sys.executable, "-m", "sleepedge.commands.cli", "check", "--budget", "nrf52840", str(tmp_path / "x"),
                        *flag], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" in r.stderr and "check target not found" in r.stderr
