"""``sleepedge lab``: one door to the measurement tools behind the docs' figures."""
from __future__ import annotations

import pkgutil

import sleepedge.lab
from sleepedge.commands.cli import main
from sleepedge.commands.lab import tools


def test_every_lab_module_with_a_main_is_listed(capsys):
    names = {m.name for m in pkgutil.iter_modules(sleepedge.lab.__path__)}
    listed = tools()
    assert {"ablation", "cost", "yardstick", "docs_figures", "converters", "paper_scale"} <= set(listed) <= names
    assert all(listed.values())  # each has a one-line description
    assert main(["lab"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in listed)


def test_unknown_tool_is_one_line_exit_2(capsys):
    assert main(["lab", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown tool 'nope'" in err[0] and "yardstick" in err[0]


def test_tool_arguments_pass_through_and_help_names_the_command(capsys):
    try:
        main(["lab", "compare_predictions", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.startswith("usage: sleepedge lab compare_predictions")
