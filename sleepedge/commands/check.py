"""``sleepedge check``: fail a build whose model breaks its size/latency/accuracy budget."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = ("check a run folder, export folder or .tflite file against a budget; "
        "exit 0 all pass, 1 a limit fails, 2 bad input or any other error")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="TARGET", help="run folder, export folder, or a single .tflite file")
    p.add_argument("--budget", metavar="BUDGET", default=None,
                   help="budget TOML, a pyproject.toml ([tool.sleepedge.budget]), or a preset name "
                        "(nrf52840, nrf5340, rpi4); default: ./pyproject.toml")
    p.add_argument("--model", dest="models", action="append", default=None, metavar="NAME",
                   help="model to check (repeatable; 'all' = every model); default: compressed if present, "
                        "else baseline")
    p.add_argument("--target-name", dest="targets", action="append", default=None, metavar="NAME",
                   help="check only this [target.NAME] table of the budget (repeatable); default: all")
    p.add_argument("--json", dest="json_out", metavar="FILE", default=None, help="write the result as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--github", action="store_true",
                   help="print GitHub Actions annotations and append a table to $GITHUB_STEP_SUMMARY")


def _default_budget() -> Path:
    path = Path("pyproject.toml")
    if not path.is_file():
        raise FileNotFoundError("no --budget given and no ./pyproject.toml to read [tool.sleepedge.budget] from")
    return path


def run(args: argparse.Namespace) -> int:
    from sleepedge.check import check_budget, emit_github, format_table, write_json
    from sleepedge.check.report import github_error
    from sleepedge.core.errors import UserError

    try:
        budget = args.budget or _default_budget()
        result = check_budget(budget, args.target, models=args.models, targets=args.targets)
    except Exception as exc:  # still exit 2 through the CLI; with --github also an annotation on the PR
        if args.github:
            title = "sleepedge check: bad input" if isinstance(exc, UserError) else "sleepedge check: error"
            print(github_error(title, str(exc)))
        raise
    print(format_table(result))
    if args.json_out:
        write_json(result, args.json_out, overwrite=args.overwrite)
    if args.github:
        emit_github(result, sys.stdout)
    return result.exit_code
