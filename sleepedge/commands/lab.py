"""``sleepedge lab NAME [ARGS...]``: the measurement tools behind the docs' figures (``sleepedge.lab``).

Each tool is a module of :mod:`sleepedge.lab` with a ``main(argv)``; ``python -m sleepedge.lab.NAME`` runs
the same code. ``sleepedge lab`` alone lists them with the first line of each docstring.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil

HELP = "run a measurement tool of the lab (ablation, cost, yardstick, ...); no NAME lists them"


def tools() -> dict[str, str]:
    """``{name: first docstring line}`` of every lab module that has a ``main`` (read without importing it)."""
    import ast

    import sleepedge.lab as lab

    out = {}
    for info in sorted(pkgutil.iter_modules(lab.__path__), key=lambda i: i.name):
        path = f"{lab.__path__[0]}/{info.name}.py"
        tree = ast.parse(open(path, encoding="utf-8").read())
        if any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body):
            doc = ast.get_docstring(tree) or ""
            out[info.name] = doc.strip().splitlines()[0] if doc.strip() else ""
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", default=None, help="the tool (omit to list them)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the tool's own arguments (NAME --help shows them)")


def run(args: argparse.Namespace) -> int:
    from sleepedge.core.errors import ConfigError

    known = tools()
    if args.name is None:
        width = max(map(len, known))
        print("\n".join(f"{n:<{width}}  {d}" for n, d in known.items()))
        return 0
    if args.name not in known:
        raise ConfigError(f"sleepedge lab: unknown tool {args.name!r} (known: {', '.join(known)})")
    import sys

    main = importlib.import_module(f"sleepedge.lab.{args.name}").main
    prog, sys.argv[0] = sys.argv[0], f"sleepedge lab {args.name}"  # the tool's --help names the command typed
    try:
        return int(main(list(args.args)) or 0)
    finally:
        sys.argv[0] = prog
