"""The paper protocol at full size on one machine, inside a time budget: figures for the docs.

    python -m sleepedge.lab.paper_scale --out RUN --figures DIR [--max-minutes 6.5] [--preset paper]
        [--executor auto|local|ray] [--gpus-per-task 0.25] [--cpus-per-task 2] [--compare] [--set K=V ...]

Phases, each timed and printed: environment; a throughput probe (training steps/s of the preset's
model at its batch and at ``train.gpu_batch_size``, fp32 and bf16, on CUDA); the synthetic dataset
sized like Sleep-EDF-20 (20 subjects, 39 nights, ~42 k epochs); the baseline (train stage, capped at
``--train-share`` of the budget through ``train.max_minutes``); the full compression grid (compress
stage; ``--compare`` also runs the comparison recipe). No fine-tune starts after the deadline
(:class:`sleepedge.pipeline.deadline.DeadlineFit`): the run then stops cleanly and reports the steps that
finished. ``DIR`` receives ``summary.json``, ``summary.md`` and copies of the sweep table, the training
history and the stage-2 figure. The executor ``auto`` uses Ray when it imports (fractional GPUs: the
stage-2 chains share the GPU) and the in-process executor otherwise.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before CUDA starts (the train stage asks for determinism)
log = logging.getLogger("paper_scale")


def environment() -> dict[str, Any]:
    import numpy as np
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
           "cpus": os.cpu_count(), "cuda": torch.cuda.is_available()}
    if env["cuda"]:
        env.update(gpu=torch.cuda.get_device_name(0), cudnn=torch.backends.cudnn.version(),
                   gpu_memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1))
    try:
        import ray
        env["ray"] = ray.__version__
    except ImportError:
        env["ray"] = None
    return env


def _step_time(arch, batch: int, seq: int, dev, amp: bool, repeats: int) -> float:
    """Median seconds of one training step (forward, backward, clip, AdamW) on random inputs."""
    import statistics

    import torch
    from torch import nn

    from sleepedge.models import DeepSleepNet
    from sleepedge.train import accelerate

    model = DeepSleepNet(arch).to(dev).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, seq, 1, arch.epoch_samples, device=dev) * 30
    y = torch.randint(0, arch.n_classes, (batch, seq), device=dev)
    times = []
    for i in range(repeats + 3):
        t0 = time.perf_counter()
        with accelerate.autocast(dev, amp):
            loss = nn.functional.cross_entropy(model(x).reshape(-1, arch.n_classes).float(), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if accelerate.is_cuda(dev):
            torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def probe(cfg) -> list[dict[str, Any]]:
    """Training throughput at the recipe's batch and the GPU batch, fp32 and bf16 (CUDA); one row on a CPU."""
    import torch

    from sleepedge.models import get_arch
    from sleepedge.train import accelerate

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    accelerate.prepare_device(dev)
    arch, seq = get_arch(cfg.model.arch), cfg.data.seq_len
    batches = sorted({cfg.train.batch_size, cfg.train.gpu_batch_size or cfg.train.batch_size, 64})
    combos = [(b, amp) for b in batches for amp in (False, True)] if dev.type == "cuda" else [(cfg.train.batch_size, False)]
    rows = []
    for b, amp in combos:
        try:
            s = _step_time(arch, b, seq, dev, amp, repeats=10 if dev.type == "cuda" else 1)
            rows.append({"batch": b, "bf16": amp, "step_ms": 1000 * s, "sequences_per_s": b / s})
        except RuntimeError as exc:  # e.g. bf16 LSTM not supported: reported, and the run falls back to fp32
            rows.append({"batch": b, "bf16": amp, "error": str(exc)[:200]})
    return rows


def ray_starts(timeout_s: float = 120.0) -> str | None:
    """None when a local Ray starts and runs a task in a subprocess within ``timeout_s``, else why not
    (so that a Ray that hangs on this machine costs two minutes at most, not the run)."""
    code = ("import ray; ray.init(include_dashboard=False, logging_level='ERROR'); "
            "print(ray.get(ray.remote(lambda: 'ray-ok').remote())); ray.shutdown()")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"a local Ray did not start within {timeout_s:.0f} s"
    if proc.returncode == 0 and "ray-ok" in proc.stdout:
        return None
    return ((proc.stderr or proc.stdout).strip().splitlines() or ["no output"])[-1][:200]


def choose_executor(kind: str, gpus: float, cpus: float, cfg):
    """The executor spec to use: ``auto`` = Ray when it imports, starts and can place the tasks, else local.

    The GPU fraction applies on CUDA only (a CPU run declares no GPU).
    """
    import torch

    from sleepedge.core.executor import LOCAL, ExecutorSpec, check_resources, ray_init

    if kind == "local":
        return LOCAL, "local (asked)"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    spec = ExecutorSpec(kind="ray", cpus_per_task=cpus, gpus_per_task=gpus if device == "cuda" else 0.0)
    try:
        import ray  # noqa: F401  (ImportError: no wheel carried)

        why = ray_starts() if kind == "auto" else None
        if why:
            raise RuntimeError(why)
        ray = ray_init(spec)
        check_resources(ray, spec, spec.resources(cfg, device))
    except Exception as exc:  # ImportError (no wheel), a Ray that cannot start here, or too few CPUs/GPUs
        if kind == "ray":
            raise
        return LOCAL, f"local (Ray unavailable: {type(exc).__name__}: {str(exc)[:200]})"
    return spec, f"ray {ray.__version__}: {ray.cluster_resources()}"


def _records(steps_dir: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for p in sorted(steps_dir.glob("*/step.json")):
        out[p.parent.name] = json.loads(p.read_text("utf-8"))
    return out


def grid_summary(run: Path, plan_ids: list[str], t_start: float) -> dict[str, Any]:
    """What finished of the grid: counts, busy step-seconds, wall time to the last finished step."""
    steps = run / "compress" / "steps"
    recs = _records(steps) if steps.is_dir() else {}
    done = [i for i in plan_ids if i in recs]
    last = max((steps / i / "step.json").stat().st_mtime for i in done) if done else t_start
    busy = sum(recs[i]["wall_s"]["total"] for i in done)
    return {"planned": len(plan_ids), "finished": len(done), "wall_s": last - t_start, "busy_step_s": busy,
            "mean_step_s": busy / len(done) if done else None,
            "epochs": sum(recs[i]["finetune"].get("epochs_run", recs[i]["finetune"]["epochs"]) for i in done),
            "steps": {i: {"params": recs[i]["params"], "val_acc": recs[i]["val"]["accuracy"],
                          "test_acc": recs[i]["test"]["accuracy"], "test_f1": recs[i]["test"]["macro_f1"],
                          "s": recs[i]["wall_s"]["total"]} for i in done}}


def _phase_probe(a: argparse.Namespace, cfg, s: dict[str, Any]) -> None:
    tick = time.time()
    s["probe"] = [] if a.no_probe else probe(cfg)
    if any(r.get("bf16") and "error" in r for r in s["probe"]):
        cfg.train.amp = False  # bf16 failed here: train in fp32
    s["times_s"]["probe"] = time.time() - tick
    _print_probe(s["probe"])


def _phase_data(cfg, s: dict[str, Any]) -> None:
    from sleepedge.train.dataset import load_dataset

    tick = time.time()
    ds = load_dataset(cfg.data)  # kept per process: the train and compress stages reuse it
    s["data"] = {"nights": len(ds.nights), "epochs": ds.info["n_epochs"], "class_counts": ds.info["class_counts"]}
    s["times_s"]["data"] = time.time() - tick
    print(f"data: {s['data']} in {s['times_s']['data']:.1f} s", flush=True)


def _phase_train(a: argparse.Namespace, cfg, s: dict[str, Any], deadline: float) -> None:
    from sleepedge.train.stage import run_train_stage

    cfg.train.max_minutes = max(0.05, a.train_share * (deadline - time.time()) / 60)
    tick = time.time()
    m = run_train_stage(a.out, cfg)["metrics"]
    s["times_s"]["train"] = time.time() - tick
    s["train"] = {"epochs_run": m["epochs_run"], "best_epoch": m["best_epoch"], "max_minutes": cfg.train.max_minutes,
                  "s_per_epoch": m["train_wall_s"] / max(1, m["epochs_run"]), "sequences": m["sequences"],
                  "params": m["params"], **{f"test_{k}": m["test"][k] for k in ("accuracy", "macro_f1", "kappa")}}
    print(f"train: {s['train']} in {s['times_s']['train']:.1f} s", flush=True)


def _phase_grid(a: argparse.Namespace, cfg, s: dict[str, Any], deadline: float) -> None:
    from sleepedge.core.executor import use
    from sleepedge.compress.plan import build_plan
    from sleepedge.compress.recipes import resolve
    from sleepedge.compress.stage import run_compress_stage
    from sleepedge.pipeline.deadline import DeadlineExceeded, DeadlineFit
    from sleepedge.models import get_arch

    spec, s["executor"] = choose_executor(a.executor, a.gpus_per_task, a.cpus_per_task, cfg)
    print(f"executor: {s['executor']}", flush=True)
    s["plan"] = [p.id for p in build_plan(get_arch(cfg.model.arch), cfg.compress, step=resolve(cfg.compress).stage1_step)]
    s["grid_start"] = time.time()
    try:
        with use(spec):
            s["selected"] = run_compress_stage(a.out, cfg, finetune=DeadlineFit(deadline))["metrics"]["selected"]
    except DeadlineExceeded as exc:  # from this process, or a Ray task's error that is also a DeadlineExceeded
        s["stopped"] = str(getattr(exc, "cause", None) or exc).splitlines()[0][:200]
    s["times_s"]["compress"] = time.time() - s["grid_start"]


def run_phases(a: argparse.Namespace, s: dict[str, Any]) -> None:
    """Every phase in order, filling ``s`` as it goes (so a stop at any point leaves what was measured)."""
    from sleepedge.config.settings import load_config

    deadline = s["t0"] + 60 * a.max_minutes
    cfg = load_config(a.preset, [f"data.dataset={a.dataset}", *([] if a.compare else ["compress.compare_recipes="]), *a.overrides])
    s["env"] = environment()
    print(json.dumps(s["env"]), flush=True)
    _phase_probe(a, cfg, s)
    _phase_data(cfg, s)
    _phase_train(a, cfg, s, deadline)
    _phase_grid(a, cfg, s, deadline)


def finish(s: dict[str, Any], run: Path) -> None:
    """Grid counts (also of an interrupted grid) and the total time."""
    if "plan" in s:
        s["grid"] = grid_summary(run, s["plan"], s["grid_start"])
    s["times_s"]["total"] = time.time() - s["t0"]


def _print_probe(rows: list[dict[str, Any]]) -> None:
    print(f"{'batch':>6} {'bf16':>5} {'ms/step':>9} {'seq/s':>9}")
    for r in rows:
        if "error" in r:
            print(f"{r['batch']:>6} {str(r['bf16']):>5}  error: {r['error']}")
        else:
            print(f"{r['batch']:>6} {str(r['bf16']):>5} {r['step_ms']:>9.1f} {r['sequences_per_s']:>9.0f}")


def to_markdown(s: dict[str, Any]) -> str:
    t = s["times_s"]
    lines = [f"# Paper scale ({s['preset']} preset, synthetic): {s.get('env', {}).get('gpu') or 'CPU'}", "",
             f"Executor: {s.get('executor', 'not reached')}. Budget {s['budget_min']} min; "
             + (f"STOPPED: {s['stopped']}." if s.get("stopped") else "finished inside it."), "",
             "| phase | wall time |", "|---|---:|"]
    lines += [f"| {k} | {v:.1f} s ({v / 60:.2f} min) |" for k, v in t.items()]
    if "data" in s:
        lines += ["", f"Data: {s['data']['nights']} nights, {s['data']['epochs']:,} epochs."]
    if "train" in s:
        tr = s["train"]
        lines.append(f"Baseline: {tr['params']:,} params, {tr['epochs_run']} epochs (best {tr['best_epoch']}), "
                     f"{tr['s_per_epoch']:.1f} s/epoch, test acc {100 * tr['test_accuracy']:.1f} %, macro-F1 "
                     f"{100 * tr['test_macro_f1']:.1f}, kappa {tr['test_kappa']:.3f}.")
    if "grid" in s:
        g = s["grid"]
        lines.append(f"Grid: {g['finished']} of {g['planned']} steps in {g['wall_s']:.0f} s wall ({g['busy_step_s']:.0f} "
                     f"step-seconds, {g['epochs']} fine-tune epochs).")
    if s.get("selected"):
        sel = s["selected"]
        lines.append(f"Selected: `{sel['model']}`, {sel['params']:,} params ({sel['params_reduction_pct']:.1f} % fewer), "
                     f"test acc {100 * sel['test_accuracy']:.1f} % ({sel['test_d_accuracy_points']:+.1f} pt).")
    return "\n".join(lines) + "\n"


def write_figures(s: dict[str, Any], run: Path, figures: Path) -> None:
    figures.mkdir(parents=True, exist_ok=True)
    (figures / "summary.json").write_text(json.dumps(s, indent=1, default=str))
    (figures / "summary.md").write_text(to_markdown(s))
    for src in ("compress/sweep.md", "compress/fig_stage2.png", "train/history.json"):
        if (run / src).is_file():
            shutil.copy(run / src, figures / Path(src).name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="run folder (a fresh one: stages that finished are skipped)")
    p.add_argument("--figures", required=True, help="folder for summary.json, summary.md and copies of the figures")
    p.add_argument("--preset", default="paper")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--max-minutes", type=float, default=6.5, help="no fine-tune starts after this many minutes")
    p.add_argument("--train-share", type=float, default=0.35, help="share of the time left that baseline training may use")
    p.add_argument("--executor", choices=("auto", "local", "ray"), default="auto")
    p.add_argument("--gpus-per-task", type=float, default=0.25, help="GPU fraction per Ray task (0.25: four share a GPU)")
    p.add_argument("--cpus-per-task", type=float, default=2.0)
    p.add_argument("--compare", action="store_true", help="also run compress.compare_recipes (off: the grid alone)")
    p.add_argument("--no-probe", action="store_true", help="skip the throughput probe")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("sleepedge").setLevel(logging.INFO)
    s: dict[str, Any] = {"preset": a.preset, "budget_min": a.max_minutes, "t0": time.time(), "times_s": {}, "stopped": None}
    rc = 0
    try:
        run_phases(a, s)
    except (Exception, KeyboardInterrupt) as exc:  # report what was measured, whatever stopped the run
        log.exception("stopped")
        s["stopped"], rc = f"{type(exc).__name__}: {exc}"[:300], 1
    finally:
        finish(s, Path(a.out))
        write_figures(s, Path(a.out), Path(a.figures))
        print(to_markdown(s), flush=True)
        print(json.dumps({k: s[k] for k in ("times_s", "grid") if k in s}, default=str)[:4000], flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
