"""``sleepedge pipeline``: the main job, end to end, with RUN/report.md."""
from __future__ import annotations

import argparse
import sys

from sleepedge.commands._common import add_config_arguments, add_data_arguments, resolve_config
from sleepedge.commands._executor import add_executor_arguments, executor_spec

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
    p.add_argument("--folds", default=None, metavar="K|all",
                   help="subject-wise k-fold: train, compress and export every fold in OUT/folds/fold-KK, then mean ± sd "
                        "in OUT/kfold.md and bench/check on the deployed fold; all = data.n_folds folds")
    add_executor_arguments(p)


def run(args: argparse.Namespace) -> int:
    from sleepedge.pipeline.pipeline import STAGES, budget_verdict, outcome_table, run_pipeline

    if args.budget:
        args.overrides.append(f"check.budget={args.budget}")
    cfg = resolve_config(args)
    wanted = tuple(s.strip() for s in args.stages.split(",") if s.strip())
    unknown = [s for s in wanted if s not in STAGES]
    if unknown or not wanted:
        from sleepedge.config.settings import ConfigError

        raise ConfigError(f"--stages {args.stages!r}: unknown or no stage(s) {unknown}; known: {', '.join(STAGES)}")
    from sleepedge.core.executor import use

    stages = tuple(s for s in STAGES if s in wanted)
    with use(executor_spec(args)):
        if args.folds is not None:
            return _run_folds(args, cfg, stages)
        from sleepedge.pipeline.kfold import refuse_other_kind

        refuse_other_kind(args.out, kfold=False)  # a plain run never goes into a k-fold folder
        outcomes = run_pipeline(args.out, cfg, overwrite=args.overwrite, stages=stages)
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


def _run_folds(args: argparse.Namespace, cfg, stages: tuple[str, ...]) -> int:
    """``--folds``: every fold, the aggregate table, the deployed fold."""
    from pathlib import Path

    from sleepedge.pipeline.kfold import failed_folds, run_kfold

    result = run_kfold(args.out, cfg, args.folds, stages=stages, overwrite=args.overwrite)
    table = Path(args.out) / "kfold.md"
    if table.is_file():
        print(table.read_text("utf-8"))
    deployed = result.get("deployed") or {}
    if deployed.get("outcomes"):  # bench and check ran on the deployed fold
        from sleepedge.pipeline.kfold_report import fold_dir
        from sleepedge.pipeline.pipeline import budget_verdict

        folder = fold_dir(Path(args.out), deployed["fold"])
        verdict = budget_verdict(folder)
        if verdict:
            print(f"budget ({cfg.check.budget or cfg.check.preset}), deployed fold {deployed['fold']}: {verdict}  "
                  f"(details: {folder}/check/check.md)")
    print(f"k-fold: {args.out}/kfold.md, {args.out}/kfold.json; folds in {args.out}/folds/")
    failed = failed_folds(result)
    if failed:  # the error policy: one line, exit 2 (exit 1 means a failed limit only)
        more = f" (and {len(failed) - 1} more failure(s), see {args.out}/kfold.json)" if len(failed) > 1 else ""
        print(f"sleepedge pipeline: error: {' '.join(failed[0].split())}{more}; finished folds and stages are kept, "
              "fix the cause and rerun the same command to continue", file=sys.stderr)
        return 2
    return 0
