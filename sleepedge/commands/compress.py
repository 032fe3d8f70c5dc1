"""``sleepedge compress``: two-stage compression of the trained baseline into RUN/compress."""
from __future__ import annotations

import argparse

from sleepedge.commands._executor import add_executor_arguments, executor_spec

HELP = ("compress the trained baseline: L1 channel pruning of the CNN (stage 1), BiLSTM hidden-size "
        "reduction (stage 2), fine-tuning after each step; writes the sweep table, figures and selected.pt")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="run folder holding a finished train stage; writes OUT/compress")
    p.add_argument("--preset", default=None,
                   help="preset name (quick, paper, tiny) or TOML file; default: the config the train stage ran with")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set compress.margin_points=1 (repeatable; type-checked)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--sweep", dest="sweep", action="store_true", default=True,
                      help="run the whole grid (default): stage 1 to compress.stage1_max, stage 2 from every compress.stage2_from")
    mode.add_argument("--no-sweep", dest="sweep", action="store_false",
                      help="only stage 1 and the stage-2 chain from the largest compress.stage2_from ratio")
    p.add_argument("--overwrite", action="store_true",
                   help="redo a finished compress stage (the old one is kept until the new one is complete)")
    add_executor_arguments(p)


def _config(args: argparse.Namespace):
    from pathlib import Path

    from sleepedge.config.settings import apply_overrides, config_from_dict, load_config
    from sleepedge.run.manifest import read_manifest

    if args.preset:
        return load_config(args.preset, args.overrides)
    return apply_overrides(config_from_dict(read_manifest(Path(args.out) / "train", verify=False)["config"]),
                           args.overrides)


def run(args: argparse.Namespace) -> int:
    from sleepedge.core.executor import use
    from sleepedge.compress.stage import run_compress_stage
    from sleepedge.run.locking import run_lock

    spec = executor_spec(args)  # validated before the lock: a bad --executor is one line, no lock taken
    with run_lock(args.out, create=False), use(spec):  # a second command on this run refuses at once, before any work
        manifest = run_compress_stage(args.out, _config(args), overwrite=args.overwrite, sweep=args.sweep)
    m, sel = manifest["metrics"], manifest["metrics"]["selected"]
    print((f"[{manifest['dataset'].get('label', '')}] selected {sel['model']}: {sel['params']:,} params "
           f"({sel['params_reduction_pct']:.1f} % fewer), {sel['macs'] / 1e6:.2f} M MACs ({sel['macs_reduction_pct']:.1f} % fewer); "
           f"val acc {100 * sel['val_accuracy']:.1f} % ({sel['val_d_accuracy_points']:+.1f} pt), "
           f"test acc {100 * sel['test_accuracy']:.1f} % ({sel['test_d_accuracy_points']:+.1f} pt), "
           f"test macro-F1 {100 * sel['test_macro_f1']:.1f} % ({sel['test_d_macro_f1_points']:+.1f} pt)"))
    if not m["selection"]["qualified"]:
        print("WARNING: no compressed model met the selection criterion; the baseline was selected")
    print(f"{m['n_models']} models in {m['sweep_wall_s'] / 60:.1f} min -> {args.out}/compress/sweep.md")
    return 0
