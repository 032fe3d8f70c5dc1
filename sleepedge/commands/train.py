"""``sleepedge train``: train the DeepSleepNet baseline into RUN/train."""
from __future__ import annotations

import argparse

from sleepedge.commands._common import add_config_arguments, add_data_arguments, resolve_config

HELP = "train the DeepSleepNet baseline (AdamW, lr 1e-4, early stopping on validation macro-F1) into RUN/train"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    add_data_arguments(p)
    p.add_argument("--out", required=True, help="run folder; the stage writes OUT/train")
    p.add_argument("--seed", type=int, default=None, help="training seed (overrides train.seed)")
    p.add_argument("--overwrite", action="store_true",
                   help="redo a finished train stage (the old one is kept until the new one is complete)")


def run(args: argparse.Namespace) -> int:
    from sleepedge.run.locking import run_lock
    from sleepedge.train.stage import run_train_stage

    cfg = resolve_config(args)
    with run_lock(args.out):  # a second command on this run refuses at once, before any work
        manifest = run_train_stage(args.out, cfg, overwrite=args.overwrite)
    t = manifest["metrics"]["test"]
    print(f"[{manifest['dataset'].get('label', '')}] test accuracy {t['accuracy']:.3f}  macro-F1 {t['macro_f1']:.3f}  "
          f"kappa {t['kappa']:.3f}  ({t['n_epochs']} epochs)  -> {args.out}/train")
    return 0
