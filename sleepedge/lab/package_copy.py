"""Lay the pure-python sleepedge package out in a folder, as pip would install it, without pip.

    python -m sleepedge.lab.package_copy DEST [--repo REPO]

The stage folders live at the repository root and install as subpackages (pyproject's ``package-dir``), so a
plain ``PYTHONPATH=REPO`` does not import ``sleepedge.export``. An emulated aarch64 Python (qemu-user, see
``scripts/aarch64_check.sh``) cannot run ``pip install`` of the repository cheaply, so the scripts and
:mod:`sleepedge.lab.converters` copy the modules and the package data here instead. Written by
hand because it is a dozen lines over pyproject's own tables; one place, so the copies cannot drift apart.
"""
from __future__ import annotations

import argparse
import shutil
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def copy_package(dest: Path, repo: Path = REPO) -> Path:
    """Copy every ``*.py`` module and package-data file of ``repo`` into ``dest``; returns ``dest``."""
    tables = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapping: dict[str, str] = tables["package-dir"]
    data: dict[str, list[str]] = tables.get("package-data", {})
    for pkg, folder in mapping.items():
        src, target = repo / folder, dest.joinpath(*pkg.split("."))
        target.mkdir(parents=True, exist_ok=True)
        files = list(src.glob("*.py")) + [f for pattern in data.get(pkg, []) for f in src.glob(pattern)]
        for f in files:
            out = target / f.relative_to(src)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, out)
    return dest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("dest", type=Path)
    p.add_argument("--repo", type=Path, default=REPO, help="repository root holding pyproject.toml")
    a = p.parse_args(argv)
    print(copy_package(a.dest.resolve(), a.repo.resolve()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
