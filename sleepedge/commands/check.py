"""``sleepedge check``: fail a build whose model breaks its size/latency/accuracy budget."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = ("check a run folder, export folder or .tflite file against a budget; "
        "exit 0 all pass, 1 a limit fails, 2 bad input or any other error")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="TARGET", nargs="?", default=None,
                   help="run folder, export folder, or a single .tflite file")
    p.add_argument("--budget", metavar="BUDGET", default=None,
                   help="budget TOML, a pyproject.toml ([tool.sleepedge.budget]), or a preset name "
                        "(nrf52840, nrf5340, rpi4); default: ./pyproject.toml")
    p.add_argument("--model", dest="models", action="append", default=None, metavar="NAME",
                   help="model to check (repeatable; 'all' = every model); default: compressed if present, "
                        "else baseline")
    p.add_argument("--target-name", dest="targets", action="append", default=None, metavar="NAME",
                   help="check only this [target.NAME] table of the budget (repeatable); default: all")
    p.add_argument("--json", dest="json_out", metavar="FILE", default=None,
                   help="write the result as JSON; '-' = standard output (the table and any --github "
                        "annotations then go to standard error, so standard output is the JSON alone)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--github", action="store_true",
                   help="print GitHub Actions annotations and append a table to $GITHUB_STEP_SUMMARY")
    p.add_argument("--against", metavar="BASE", default=None,
                   help="compare with a base: a result JSON of `check --json` (e.g. from the main branch), a run "
                        "folder or an export folder; adds deltas, per-layer changes and the [growth.*] limits")
    p.add_argument("--markdown", metavar="FILE", default=None,
                   help="write a pull-request comment (verdict, deltas, largest changes, per-layer details)")
    p.add_argument("--history", metavar="FILE.jsonl", default=None,
                   help="append one line (commit, date, verdict, metrics, limits) to this JSON-lines file")
    p.add_argument("--plot-history", nargs=2, metavar=("FILE.jsonl", "OUT.png"), default=None,
                   help="draw every metric of a history file over the commits, with its limits (needs matplotlib)")
    p.add_argument("--instructions", action="store_true",
                   help="also count instructions per epoch of int8 TFLite files (valgrind; seconds per file)")


def _default_budget() -> Path:
    path = Path("pyproject.toml")
    if not path.is_file():
        raise FileNotFoundError("no --budget given and no ./pyproject.toml to read [tool.sleepedge.budget] from")
    return path


def _plot(args: argparse.Namespace) -> int:
    from sleepedge.check.history import plot_history

    print(f"wrote {plot_history(*args.plot_history, overwrite=args.overwrite)}")
    return 0


def _check(args: argparse.Namespace):
    from sleepedge.check import check_budget
    from sleepedge.core.errors import ConfigError

    if args.target is None:
        raise ConfigError("sleepedge check: TARGET is missing (a run folder, export folder or .tflite file)")
    details = bool(args.json_out or args.markdown or args.history or args.against)
    return check_budget(args.budget or _default_budget(), args.target, models=args.models, targets=args.targets,
                        against=args.against, details=details, instructions=args.instructions)


def _extras(args: argparse.Namespace, result, human) -> None:
    """The comparison table, the PR comment and the history line, as asked for."""
    from sleepedge.check.comment import comment_markdown, format_comparison
    from sleepedge.check.history import append_history
    from sleepedge.run.atomic import atomic_write_text

    if result.comparison:
        print(format_comparison(result), file=human)
    if args.markdown:
        atomic_write_text(args.markdown, comment_markdown(result), overwrite=args.overwrite)
    if args.history:
        append_history(result, args.history)


def run(args: argparse.Namespace) -> int:
    from sleepedge.check import emit_github, format_table, write_json
    from sleepedge.check.report import github_error
    from sleepedge.core.errors import UserError

    if args.plot_history and args.target is None:
        return _plot(args)
    try:
        result = _check(args)
    except Exception as exc:  # still exit 2 through the CLI; with --github also an annotation on the PR
        if args.github:
            title = "sleepedge check: bad input" if isinstance(exc, UserError) else "sleepedge check: error"
            print(github_error(title, str(exc)))
        raise
    human = sys.stderr if args.json_out == "-" else sys.stdout  # "-": stdout carries the JSON alone
    print(format_table(result), file=human)
    if args.json_out == "-":
        _print_json(result.to_dict())
    elif args.json_out:
        write_json(result, args.json_out, overwrite=args.overwrite)
    _extras(args, result, human)
    if args.github:
        emit_github(result, human)
    if args.plot_history:
        _plot(args)
    return result.exit_code


def _print_json(data: dict) -> None:
    """``--json -``: the result as JSON on standard output (the same text ``--json FILE`` writes)."""
    import json

    print(json.dumps(data, indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
