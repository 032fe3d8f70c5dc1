"""The ``sleepedge`` command: an explicit subcommand table, one module per subcommand.

Each module in :mod:`sleepedge.commands` defines ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``, and imports nothing heavy at module level, so ``--help`` answers at once.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from typing import Callable

from sleepedge import __version__

SUBCOMMANDS: dict[str, str] = {
    "data": "sleepedge.commands.data",
    "train": "sleepedge.commands.train",
    "compress": "sleepedge.commands.compress",
    "export": "sleepedge.commands.export",
    "bench": "sleepedge.commands.bench",
    "check": "sleepedge.commands.check",
    "pipeline": "sleepedge.commands.pipeline",
    "predict": "sleepedge.commands.predict",
    "lab": "sleepedge.commands.lab",
}

# Exit status of every failure that is not a verdict: bad input, a refused action, an error inside
# sleepedge. Only ``check`` exits 1, and only when a limit fails (a crash must never look like a verdict).
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
MAX_MESSAGE = 2000


def _verbosity_options(p: argparse.ArgumentParser, top: bool) -> None:
    """``-v``/``--debug`` before or after the subcommand (``SUPPRESS`` keeps a subparser from resetting them)."""
    default = 0 if top else argparse.SUPPRESS
    p.add_argument("-v", "--verbose", action="count", default=default,
                   help="more log output (-vv: debug, with tracebacks)")
    p.add_argument("--debug", action="store_true", default=False if top else argparse.SUPPRESS,
                   help="debug log output and the traceback of an error (same as -vv)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sleepedge",
        description="Train, compress, export, benchmark and size-gate DeepSleepNet sleep-stage classifiers.",
    )
    parser.add_argument("--version", action="version", version=f"sleepedge {__version__}")
    _verbosity_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        _verbosity_options(p, top=False)
        p.set_defaults(_run=module.run)
    return parser


def one_line(exc: BaseException) -> str:
    """The error as one line: its message with line breaks folded, shortened when very long."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"  # "[Errno 20] Not a directory: 'x'" -> "x: Not a directory"
    else:
        text = str(exc) or type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " ..."


def run_command(name: str, fn: Callable[[], int | None], debug: bool = False) -> int:
    """Run one subcommand under the error policy; returns its exit status.

    An expected failure (:data:`sleepedge.core.errors.UserError`) is one line naming the file or setting and
    the problem, exit 2. Anything else is also one line and exit 2, marked as an error inside
    sleepedge; its traceback is printed only with ``debug`` (``-vv`` / ``--debug``).
    """
    from sleepedge.core.errors import UserError

    try:
        return int(fn() or 0)
    except KeyboardInterrupt:
        print(f"sleepedge {name}: interrupted; finished stages are intact, rerun the same command to continue",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except UserError as exc:
        if debug:
            traceback.print_exc()
        print(f"sleepedge {name}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # noqa: BLE001 - the policy: never a traceback without -vv, never exit 1
        if debug:
            traceback.print_exc()
        hint = "" if debug else " (rerun with -vv for the traceback)"
        print(f"sleepedge {name}: error inside sleepedge: {type(exc).__name__}: {one_line(exc)}{hint}", file=sys.stderr)
        return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(args.debug) or args.verbose >= 2
    # Other libraries stay at WARNING; sleepedge logs INFO (stage progress), DEBUG with -v.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sleepedge").setLevel(logging.DEBUG if args.verbose or debug else logging.INFO)
    return run_command(args.command, lambda: args._run(args), debug=debug)


if __name__ == "__main__":
    sys.exit(main())
