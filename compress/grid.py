"""How the compression grid runs: in this process (the default) or fanned out as Ray tasks.

The grid is a tree of steps (each cut from its parent). :func:`segments` cuts it into maximal chains
whose inner steps have exactly one child: the stage-1 chain is split wherever a stage-2 chain starts,
and every stage-2 chain is its own segment. A segment can run as soon as the segment holding its
parent has finished, so on a paper grid the stage-2 chains from 0 % and 20 % start while stage 1 is
still pruning towards 80 %.

``local`` (default)
    :func:`~.sweep.run_sweep` in this process, in plan order: exactly what the sweep always did.
``ray``
    One Ray task per segment, each declaring its resources (``num_cpus`` = torch threads,
    ``num_gpus`` = a fraction of a GPU, so several fine-tunes share one). A child segment takes its
    parent segment's result as an argument, so Ray itself orders, places and retries the work; nothing
    here schedules. A task whose worker dies is retried (``max_retries``) and resumes from the
    ``step.json`` files and ``finetune_state.pt`` it left on (shared) storage. Every step seeds its own
    randomness (``train.seed``), so the table equals the sequential one when both use the same
    ``train.threads`` (CPU reductions depend on the thread count).

The training data go to Ray's object store once (``ray.put``); the teacher logits of distillation are
computed once in the driver. Steps run by the ``finetune``/``evaluate`` functions of the context, which
must therefore be picklable (module-level functions or instances of module-level classes).
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from sleepedge.compress.plan import BASELINE, Step
from sleepedge.config.settings import Config
from sleepedge.core.executor import ExecutorSpec, check_resources, current, ray_init, validate

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Segment:
    """Steps that run one after the other in one task; ``parent`` is the model the first is cut from."""

    steps: tuple[Step, ...]
    parent: str


def segments(plan: list[Step]) -> list[Segment]:
    """Cut ``plan`` into maximal chains whose inner steps have one child each (plan order kept)."""
    children: dict[str, int] = {}
    for s in plan:
        children[s.parent] = children.get(s.parent, 0) + 1
    chains: list[list[Step]] = []
    where: dict[str, int] = {}
    for s in plan:
        i = where.get(s.parent)
        if i is not None and chains[i][-1].id == s.parent and children[s.parent] == 1:
            chains[i].append(s)
        else:
            chains.append([s])
            i = len(chains) - 1
        where[s.id] = i
    return [Segment(tuple(c), c[0].parent) for c in chains]


@dataclass(frozen=True)
class TaskContext:
    """What a segment task needs besides the data (which travels through the object store)."""

    cfg: Config
    steps_dir: Path
    baseline_path: Path
    finetune: Callable[..., Any]
    evaluate: Callable[..., dict[str, Any]]
    device: str
    eval_batch: int
    recipe: Any
    teacher: Any
    threads: int


def run_segment(job: TaskContext, data: dict[str, Any], steps: tuple[Step, ...], baseline: dict[str, Any],
                parents: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Run (or resume) ``steps`` in order after their parent; returns their records.

    ``baseline`` is the baseline's record (every step reads the grid's base architecture from it) and
    ``parents`` the records of the segment the first step is cut from (Ray passes that task's result).

    This is the body of a Ray task, and plain Python: a finished step (its ``step.json``) is read
    back, an unfinished one runs with :func:`~.sweep.run_step`.
    """
    import torch

    from sleepedge.compress.sweep import SweepContext, read_record, run_step

    torch.set_num_threads(job.threads)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sleepedge").setLevel(logging.INFO)
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")  # object-store arrays are read-only
    ctx = SweepContext(job.cfg, job.steps_dir, job.baseline_path, data, job.finetune, job.evaluate, job.device,
                       job.eval_batch, job.recipe, _teacher=job.teacher)
    records, out = {BASELINE: baseline, **parents}, {}
    for step in steps:
        rec = read_record(ctx.steps_dir, step.id) or run_step(ctx, step, records)
        records[step.id] = out[step.id] = rec
    return out


def _task_context(ctx, spec: ExecutorSpec) -> TaskContext:
    teacher = ctx.teacher_logits() if ctx.recipe.distill_alpha > 0 else None
    return TaskContext(ctx.cfg, Path(ctx.steps_dir).resolve(), Path(ctx.baseline_path).resolve(), ctx.finetune,
                       ctx.evaluate, ctx.device, ctx.eval_batch, ctx.recipe, teacher, spec.threads(ctx.cfg))


def _run_ray(ctx, plan: list[Step], progress: bool, spec: ExecutorSpec) -> dict[str, dict[str, Any]]:
    """Submit one task per segment (children after their parent's task), gather as they finish."""
    from tqdm.auto import tqdm

    from sleepedge.compress.sweep import baseline_record

    ray = ray_init(spec)
    check_resources(ray, spec, spec.resources(ctx.cfg, ctx.device))
    records = {BASELINE: baseline_record(ctx)}
    job, data = ray.put(_task_context(ctx, spec)), ray.put(ctx.data)
    task = ray.remote(run_segment).options(max_retries=spec.max_retries, **spec.resources(ctx.cfg, ctx.device))
    result_of: dict[str, Any] = {}
    pending = []
    for seg in segments(plan):
        parent = result_of[seg.parent] if seg.parent in result_of else {seg.parent: records[seg.parent]}
        ref = task.remote(job, data, seg.steps, records[BASELINE], parent)
        result_of.update({s.id: ref for s in seg.steps})
        pending.append(ref)
    log.info("ray: %d tasks for %d steps (%s per task)", len(pending), len(plan), spec.resources(ctx.cfg, ctx.device))
    errors = []
    with tqdm(total=len(plan), desc=f"compress sweep ({ctx.recipe.name}, ray)", unit="model", disable=not progress) as bar:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                got = ray.get(done[0])
            except Exception as exc:  # keep gathering: every other finished step stays saved
                errors.append(exc)
                continue
            records.update(got)
            bar.update(len(got))
    if errors:
        raise errors[0]
    return {BASELINE: records[BASELINE], **{s.id: records[s.id] for s in plan}}


def run_grid(ctx, plan: list[Step], progress: bool = True, spec: ExecutorSpec | None = None) -> dict[str, dict[str, Any]]:
    """Run (or resume) every step of ``plan`` with ``spec`` (default: :func:`current`); ``{id: record}``.

    The records are the same, and in the same order, whichever executor ran them.
    """
    from sleepedge.compress.sweep import run_sweep

    spec = spec or current()
    if spec.kind == "local":
        return run_sweep(ctx, plan, progress=progress)
    return _run_ray(ctx, plan, progress, validate(spec))
