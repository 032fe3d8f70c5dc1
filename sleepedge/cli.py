"""The ``sleepedge`` command: an explicit subcommand table, one module per subcommand.

Each module in :mod:`sleepedge.commands` defines ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``, and imports nothing heavy at module level, so ``--help`` answers at once.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from . import __version__

SUBCOMMANDS: dict[str, str] = {
    "data": "sleepedge.commands.data",
    "train": "sleepedge.commands.train",
    "compress": "sleepedge.commands.compress",
    "export": "sleepedge.commands.export",
    "bench": "sleepedge.commands.bench",
    "check": "sleepedge.commands.check",
    "pipeline": "sleepedge.commands.pipeline",
    "predict": "sleepedge.commands.predict",
}

# Exit status for bad input (missing file, malformed config, unknown key): distinct from a failed check (1).
EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sleepedge",
        description="Train, compress, export, benchmark and size-gate DeepSleepNet sleep-stage classifiers.",
    )
    parser.add_argument("--version", action="version", version=f"sleepedge {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Other libraries stay at WARNING; sleepedge logs INFO (stage progress), DEBUG with -v.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sleepedge").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    from .errors import UserError

    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"sleepedge {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"sleepedge {args.command}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
