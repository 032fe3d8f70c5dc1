"""``sleepedge pipeline``: the main job, end to end, with RUN/report.md."""
from __future__ import annotations

import argparse
import sys

from ._common import add_config_arguments, add_data_arguments, resolve_config

HELP = "run train, compress, export, bench and check end to end and write RUN/report.md (resumes a stopped run)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    add_data_arguments(p)
    p.add_argument("--out", required=True, help="run folder (rerun the same command to continue an interrupted run)")
    p.add_argument("--seed", type=int, default=None, help="training seed (overrides train.seed)")
    p.add_argument("--budget", default=None, help="budget TOML or preset name for the check stage (default: check.preset)")
    p.add_argument("--stages", default=",".join(("train", "compress", "export", "bench", "check")),
                   help="comma-separated subset of stages to run, in pipeline order")
    p.add_argument("--overwrite", action="store_true",
                   help="redo every stage (each finished stage is replaced only once its new version is complete)")


def run(args: argparse.Namespace) -> int:
    from sleepedge.pipeline import STAGES, budget_verdict, outcome_table, run_pipeline

    if args.budget:
        args.overrides.append(f"check.budget={args.budget}")
    cfg = resolve_config(args)
    wanted = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = [s for s in wanted if s not in STAGES]
    if unknown or not wanted:
        from sleepedge.config import ConfigError

        raise ConfigError(f"--stages {args.stages!r}: unknown or no stage(s) {unknown}; known: {', '.join(STAGES)}")
    outcomes = run_pipeline(args.out, cfg, overwrite=args.overwrite, stages=tuple(s for s in STAGES if s in wanted))
    print(outcome_table(outcomes))
    verdict = budget_verdict(args.out)
    if verdict:
        print(f"budget ({cfg.check.budget or cfg.check.preset}): {verdict}  (details: {args.out}/check/check.md)")
    print(f"report: {args.out}/report.md")
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:  # one line, exit 2 (the error policy; exit 1 means a failed limit only)
        error = " ".join(failed[0].error.split())
        print(f"sleepedge pipeline: error: stage {failed[0].stage} failed: {error}; earlier stages are kept, "
              "fix the cause and rerun the same command to continue", file=sys.stderr)
        return 2
    return 0
