"""Printed figures (not a test): the compression grid in this process vs as Ray tasks, same seeds.

    python -m sleepedge.lab.speedup --preset quick --dataset synthetic --out runs/speedup
        [--threads 1] [--ray-cpus 2] [--cpus-per-task 1] [--runs local,ray] [--compare]

Trains the preset's baseline once (``OUT/train``, reused when present, or copied from ``--train-dir``), then runs the compress stage
on a copy of it per executor (``OUT/<executor>-t<threads>/``) and prints each one's wall time and
whether its sweep table equals the first run's (wall-time columns aside). Both use ``train.threads``
= ``--threads``: CPU reductions depend on the thread count, so only equal thread counts can give
equal tables. The comparison recipe (``compress.compare_recipes``) runs after selection in the driver
whatever the executor, so it is left out unless ``--compare``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any


def grid_epochs(cfg) -> tuple[list, dict[str, int], dict[str, str]]:
    """``(plan, epochs per step, parent per step)`` of the config's recipe (its epoch rule, no early stop)."""
    from sleepedge.models import count_params, get_arch, macs_per_epoch

    from sleepedge.compress.plan import BASELINE, build_plan, step_arch
    from sleepedge.compress.recipes import resolve

    base, recipe = get_arch(cfg.model.arch), resolve(cfg.compress)
    plan = build_plan(base, cfg.compress, step=recipe.stage1_step)
    arch = {BASELINE: base, **{s.id: step_arch(base, s) for s in plan}}
    epochs = {}
    for s in plan:
        fixed = cfg.compress.stage1_finetune_epochs if s.stage == 1 else cfg.compress.stage2_finetune_epochs
        a, p = arch[s.id], arch[s.parent]  # the step's size as in sweep.run_step: the larger share of MACs or params removed
        removed = max(1 - macs_per_epoch(a) / macs_per_epoch(p), 1 - count_params(a) / count_params(p))
        epochs[s.id] = recipe.finetune_epochs(fixed, removed)
    return plan, epochs, {s.id: s.parent for s in plan}


def _longest(plan, cost: dict[str, float], parent: dict[str, str]) -> float:
    from sleepedge.compress.plan import BASELINE

    def chain(i: str) -> float:
        return 0.0 if i == BASELINE else cost[i] + chain(parent[i])

    return max((chain(s.id) for s in plan), default=0.0)


def fanout_bound(cfg) -> dict[str, Any]:
    """Fine-tune epochs of the grid and of its longest chain of dependent steps.

    However many workers there are, the grid cannot finish faster than its longest chain:
    ``total / critical`` bounds the fan-out's speedup (per-epoch costs equal).
    """
    from sleepedge.compress.grid import segments
    from sleepedge.compress.recipes import resolve

    plan, epochs, parent = grid_epochs(cfg)
    steps = {s.id: 1.0 for s in plan}
    crit, total = _longest(plan, {k: float(v) for k, v in epochs.items()}, parent), sum(epochs.values())
    return {"steps": len(plan), "segments": len(segments(plan)), "epochs": total, "critical_epochs": int(crit),
            "critical_steps": int(_longest(plan, steps, parent)), "bound": total / crit if crit else 1.0,
            "recipe": resolve(cfg.compress).name}


def extrapolate(cfg, cost: dict[str, Any]) -> dict[str, float]:
    """Seconds of the grid at the recipe's epochs, from a ``python -m sleepedge.lab.cost --json`` result
    (per-step epoch and evaluation times): in sequence, and along the longest chain (unlimited fan-out)."""
    plan, epochs, parent = grid_epochs(cfg)
    per = {}
    for s in plan:
        c = cost["steps"][s.id]
        per[s.id] = c["step_s"] + (epochs[s.id] - c["epochs"]) * c["epoch_s"]  # its evaluations + the recipe's epochs
    b, n, batch = cost["baseline"], cost["sequences"], cost["batch"]
    epoch = -(-n["train"] // batch) * b["train_step_s"] + -(-n["val"] // 64) * b["eval_step_s"] * 64 / batch
    return {"grid_fixed_epochs_s": cost["total_s"], "grid_sequential_s": sum(per.values()),
            "grid_longest_chain_s": _longest(plan, per, parent), "baseline_epoch_s": epoch,
            **{f"stage{k}_s": sum(v for i, v in per.items() if i.startswith(f"s{k}-")) for k in (1, 2)}}


def _rows(run: Path) -> list[dict[str, Any]]:
    rows = json.loads((run / "compress" / "sweep.json").read_text("utf-8"))["rows"]
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


def time_compress(base: Path, cfg, kind: str, spec_kw: dict[str, Any], threads: int) -> dict[str, Any]:
    """Run the compress stage on a copy of ``base/train`` with executor ``kind``; wall time and rows."""
    from sleepedge.core.executor import ExecutorSpec, use
    from sleepedge.compress.stage import run_compress_stage

    run = base / f"{kind}-t{threads}"
    if run.exists():
        shutil.rmtree(run)
    shutil.copytree(base / "train", run / "train")
    spec = ExecutorSpec(kind=kind, **(spec_kw if kind == "ray" else {}))
    t0 = time.perf_counter()
    with use(spec):
        m = run_compress_stage(run, cfg, progress=False)
    wall = time.perf_counter() - t0
    rows = json.loads((run / "compress" / "sweep.json").read_text("utf-8"))["rows"]
    return {"executor": kind, "threads": threads, "wall_s": wall, "steps": len(m["plan"]),
            "step_seconds": sum(r["wall_s"] for r in rows if r["model"] != "baseline"),
            "selected": m["metrics"]["selected"]["model"], "rows": _rows(run)}


def _print_extrapolation(e: dict[str, float]) -> None:
    h = 3600.0
    print(f"grid at the cost tool's fixed epochs: {e['grid_fixed_epochs_s'] / h:.2f} h; at the recipe's epochs: "
          f"{e['grid_sequential_s'] / h:.2f} h in sequence (stage 1 {e['stage1_s'] / h:.2f} h, stage 2 {e['stage2_s'] / h:.2f} h), "
          f"{e['grid_longest_chain_s'] / h:.2f} h along the longest chain (unlimited fan-out); "
          f"baseline {e['baseline_epoch_s'] / 60:.1f} min per training epoch")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="quick")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--out", default="runs/speedup")
    p.add_argument("--threads", type=int, default=1, help="train.threads of every run (torch CPU threads per step)")
    p.add_argument("--runs", default="local,ray", help="executors to time, in order")
    p.add_argument("--ray-cpus", type=int, default=None, help="CPUs of the local Ray (default: every core)")
    p.add_argument("--cpus-per-task", type=float, default=0.0)
    p.add_argument("--train-dir", default=None, help="use this finished train stage (copied to OUT/train) instead of training")
    p.add_argument("--compare", action="store_true", help="keep compress.compare_recipes (runs after the grid, in the driver)")
    p.add_argument("--bound-only", action="store_true", help="print the grid's fan-out bound and stop (no training)")
    p.add_argument("--cost-json", default=None,
                   help="with --bound-only: also extrapolate the grid's time from python -m sleepedge.lab.cost --json")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    return p


def _print_bound(preset: str, b: dict[str, Any]) -> None:
    print(f"{preset} grid ({b['recipe']} recipe): {b['steps']} steps in {b['segments']} segments, {b['epochs']} fine-tune "
          f"epochs at most; longest chain {b['critical_steps']} steps, {b['critical_epochs']} epochs: fan-out speedup "
          f"<= {b['bound']:.2f}x")


def _print_results(results: list[dict[str, Any]]) -> None:
    """The table of executors, each compared with the first (and marked whether its table is the same)."""
    first = results[0]
    print(f"{'executor':<10}{'threads':>8}{'steps':>7}{'wall s':>9}{'step-s':>9}{'speedup':>9}  same table as {first['executor']}")
    for r in results:
        r["same_table"] = r["rows"] == first["rows"]
        print(f"{r['executor']:<10}{r['threads']:>8}{r['steps']:>7}{r['wall_s']:>9.0f}{r['step_seconds']:>9.0f}"
              f"{first['wall_s'] / r['wall_s']:>8.2f}x  "
              f"{'yes' if r['same_table'] else 'NO'}")


def main(argv: list[str] | None = None) -> None:
    a = _parser().parse_args(argv)
    from sleepedge.config.settings import load_config
    from sleepedge.run.manifest import atomic_write_json
    from sleepedge.train.stage import run_train_stage

    sets = [f"data.dataset={a.dataset}", f"train.threads={a.threads}", *([] if a.compare else ["compress.compare_recipes="])]
    cfg = load_config(a.preset, sets + a.overrides)
    _print_bound(a.preset, fanout_bound(cfg))
    if a.bound_only:
        if a.cost_json:
            _print_extrapolation(extrapolate(cfg, json.loads(Path(a.cost_json).read_text("utf-8"))))
        return
    base = Path(a.out)
    if a.train_dir and not (base / "train").exists():
        shutil.copytree(a.train_dir, base / "train")
    if not (base / "train" / "manifest.json").is_file():
        run_train_stage(base, cfg)
    spec_kw = {"num_cpus": a.ray_cpus, "cpus_per_task": a.cpus_per_task}
    results = [time_compress(base, cfg, kind.strip(), spec_kw, a.threads) for kind in a.runs.split(",") if kind.strip()]
    _print_results(results)
    atomic_write_json(base / f"speedup-t{a.threads}.json", [{k: v for k, v in r.items() if k != "rows"} for r in results],
                      overwrite=True)


if __name__ == "__main__":
    main()
