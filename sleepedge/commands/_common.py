"""Arguments and helpers shared by several subcommands."""
from __future__ import annotations

import argparse


def add_config_arguments(p: argparse.ArgumentParser, default_preset: str = "quick") -> None:
    """``--preset``, ``--set section.key=value`` (repeatable), ``--seed``."""
    p.add_argument("--preset", default=default_preset,
                   help=f"preset name (quick, paper, tiny) or a TOML file (default: {default_preset})")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set train.epochs=3 (repeatable; type-checked)")


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", choices=["sleep-edf", "synthetic"], default=None,
                   help="sleep-edf (real EDF files, the default) or synthetic (offline simulator)")
    p.add_argument("--data-dir", default=None, help="folder of SC*-PSG.edf and SC*-Hypnogram.edf files")


def resolve_config(args: argparse.Namespace):
    """Config from ``--preset``, ``--set`` and the data arguments (in that order of precedence, last wins)."""
    from sleepedge.config.settings import load_config

    overrides = list(args.overrides)
    if getattr(args, "dataset", None):
        overrides.append(f"data.dataset={args.dataset}")
    if getattr(args, "data_dir", None):
        overrides.append(f"data.data_dir={args.data_dir}")
    if getattr(args, "seed", None) is not None:
        overrides.append(f"train.seed={args.seed}")
    return load_config(args.preset, overrides)
