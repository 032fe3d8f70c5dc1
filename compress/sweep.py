"""Run the compression grid step by step: prune or shrink the parent, fine-tune, evaluate, save.

Each step writes ``steps/<id>/model.pt`` and then, last and atomically, ``steps/<id>/step.json``.
A step whose JSON exists is finished and is never redone, so an interrupted sweep resumes where it
stopped (the fine-tune itself also resumes from ``steps/<id>/finetune_state.pt`` when the training
loop supports it). How a step ranks channels and fine-tunes is the sweep's :class:`~.recipes.Recipe`.
Fine-tuning and evaluation are injectable so tests can run without the training loop.

Every evaluation also keeps one confusion matrix per subject (``subject_confusion``), so the tables
compare each model with the baseline paired over the same subjects (:mod:`sleepedge.core.stats`).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sleepedge.config.settings import Config, ConfigError
from sleepedge.models import DeepSleepNetArch, count_params, load_checkpoint, macs_per_epoch, save_checkpoint
from sleepedge.run.manifest import ManifestError, atomic_write_json, sha256_file
from sleepedge.core.stats import cms_to_json, subject_confusions

from sleepedge.compress.channels import prune_to
from sleepedge.compress.hidden import shrink_hidden
from sleepedge.compress.importance import importance_scores
from sleepedge.compress.plan import BASELINE, Step, step_arch
from sleepedge.compress.recipes import Recipe

log = logging.getLogger(__name__)
STEP_JSON = "step.json"
SCORE_KEYS = ("accuracy", "macro_f1", "kappa", "per_class_f1", "confusion", "n_epochs")


@dataclass
class SweepContext:
    """Everything a step needs. ``finetune`` has the signature of ``sleepedge.train.loop.fit`` and
    ``evaluate`` that of ``sleepedge.train.loop.evaluate``."""

    cfg: Config
    steps_dir: Path
    baseline_path: Path
    data: dict[str, Any]  # "train", "val", "test": SequenceData
    finetune: Callable[..., Any]
    evaluate: Callable[..., dict[str, Any]]
    device: str = "cpu"
    eval_batch: int = 64
    recipe: Recipe | None = None  # None = the config's own recipe
    _teacher: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.recipe is None:
            from sleepedge.compress.recipes import resolve

            self.recipe = resolve(self.cfg.compress)

    def teacher_logits(self) -> np.ndarray:
        """The baseline's logits on the training sequences (computed once; the teacher of distillation)."""
        if self._teacher is None:
            from sleepedge.train.loop import predict_logits

            teacher, _ = load_checkpoint(self.baseline_path)
            self._teacher = predict_logits(teacher, self.data["train"].x, self.eval_batch, self.device).astype(np.float32)
        return self._teacher


def _scores(metrics: dict[str, Any], data) -> dict[str, Any]:
    out = {k: metrics[k] for k in SCORE_KEYS if k in metrics}
    if getattr(data, "subjects", None) is not None and "y_pred" in metrics:
        out["subject_confusion"] = cms_to_json(subject_confusions(data.y, metrics["y_pred"], data.subjects))
    return out


def _eval(ctx: SweepContext, model, part: str) -> dict[str, Any]:
    return _scores(ctx.evaluate(model, ctx.data[part], batch_size=ctx.eval_batch, device=ctx.device), ctx.data[part])


def _brief(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("accuracy", "macro_f1", "kappa")}


def read_record(steps_dir: Path, step_id: str) -> dict[str, Any] | None:
    """The finished step's record, or None when the step has not finished."""
    path = steps_dir / step_id / STEP_JSON
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc}); delete the folder {path.parent} to redo the step") from exc


def model_path(steps_dir: Path, baseline_path: Path, record: dict[str, Any]) -> Path:
    """Checkpoint of a record: the train stage's model for the baseline, else ``steps/<id>/model.pt``."""
    return Path(baseline_path) if record["id"] == BASELINE else Path(steps_dir) / record["id"] / record["model"]["path"]


def load_parent(ctx: SweepContext, parent: str, records: dict[str, dict[str, Any]]):
    """Load a finished step's (or the baseline's) model, checking the checkpoint's recorded sha256."""
    rec = records[parent]
    path = model_path(ctx.steps_dir, ctx.baseline_path, rec)
    if sha256_file(path) != rec["model"]["sha256"]:
        raise ManifestError(f"{path}: changed since step {parent!r} finished; delete {path.parent} to redo it")
    model, _ = load_checkpoint(path)
    return model


def _arch_record(arch) -> dict[str, Any]:
    return {"arch": arch.to_dict(), "small_channels": list(arch.small.channels), "large_channels": list(arch.large.channels),
            "params": count_params(arch), "macs": macs_per_epoch(arch)}


def baseline_record(ctx: SweepContext) -> dict[str, Any]:
    """Evaluate the baseline once (cached in ``steps/baseline/step.json`` like any step)."""
    rec = read_record(ctx.steps_dir, BASELINE)
    if rec is not None:
        return rec
    t0 = time.perf_counter()
    model, _ = load_checkpoint(ctx.baseline_path)
    rec = {"id": BASELINE, "stage": 0, "ratio": 0.0, "hidden": model.arch.lstm_hidden, "parent": None,
           **_arch_record(model.arch), "val": _eval(ctx, model, "val"), "test": _eval(ctx, model, "test"),
           "finetune": {"epochs": 0, "best_epoch": None, "history": []},
           "model": {"path": "../../../train/" + ctx.baseline_path.name, "sha256": sha256_file(ctx.baseline_path)}}
    rec["wall_s"] = {"prune": 0.0, "finetune": 0.0, "evaluate": time.perf_counter() - t0, "total": time.perf_counter() - t0}
    atomic_write_json(ctx.steps_dir / BASELINE / STEP_JSON, rec)
    return rec


def _taylor_batches(ctx: SweepContext):
    """The first ``compress.taylor_batches`` batches of a seeded shuffle of the training sequences."""
    import torch

    train, bs = ctx.data["train"], ctx.cfg.train.batch_size
    order = np.random.default_rng(ctx.cfg.train.seed + 7).permutation(len(train))[: ctx.cfg.compress.taylor_batches * bs]
    for i in range(0, len(order), bs):
        idx = np.sort(order[i:i + bs])
        yield torch.from_numpy(train.x[idx]), torch.from_numpy(train.y[idx])


def cut(ctx: SweepContext, parent, step: Step, target: DeepSleepNetArch):
    """The step's smaller model: stage 1 prunes channels by the recipe's importance, stage 2 shrinks the BiLSTM."""
    if step.stage == 2:
        return shrink_hidden(parent, step.hidden)
    scores = importance_scores(parent.to(ctx.device), ctx.recipe.importance,
                               _taylor_batches(ctx) if ctx.recipe.importance == "taylor" else None)
    return prune_to(parent.cpu(), target, scores)


def _finetune(ctx: SweepContext, model, step: Step, step_dir: Path, before: dict[str, Any],
              removed: float) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Fine-tune with the recipe and return ``(model, record, val metrics)``.

    The pruned, not yet fine-tuned weights compete as "epoch 0" under the training loop's own
    criterion (validation macro-F1) when the recipe keeps them if better: a fine-tune that makes
    the model worse on validation is not kept.
    """
    from sleepedge.train.objective import Objective, Schedule

    c, r = ctx.cfg.compress, ctx.recipe
    fixed = c.stage1_finetune_epochs if step.stage == 1 else c.stage2_finetune_epochs
    epochs = r.finetune_epochs(fixed, removed)
    if epochs <= 0:
        return model, {"epochs": 0, "best_epoch": None, "history": [], "kept": "pruned"}, before
    snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
    ft_cfg = replace(ctx.cfg.train, lr=r.lr, patience=r.finetune_patience)
    if r.dropout is not None:
        model.set_dropout(r.dropout)
    objective = Objective(r.distill_alpha, r.distill_temperature)
    res = ctx.finetune(model, ctx.data["train"], ctx.data["val"], ft_cfg, epochs=epochs,
                       desc=f"fine-tune {step.id}", state_path=step_dir / "finetune_state.pt", objective=objective,
                       teacher_logits=ctx.teacher_logits() if objective.distills else None,
                       schedule=Schedule(r.schedule, warmup=r.warmup), keep_best=r.keep_best)
    model, val = res.model, _eval(ctx, res.model, "val")
    ft = {"epochs": epochs, "epochs_run": len(res.history), "best_epoch": res.best_epoch, "history": res.history,
          "kept": "finetuned"}
    if r.keep_pruned_if_better and before["macro_f1"] > val["macro_f1"]:
        log.info("%s: fine-tuning lowered validation macro-F1 (%.3f -> %.3f); keeping the pruned weights",
                 step.id, before["macro_f1"], val["macro_f1"])
        model.load_state_dict(snapshot)
        model.eval()
        ft["kept"], ft["finetuned_val"] = "pruned", _brief(val)
        val = before
    return model, ft, val


def run_step(ctx: SweepContext, step: Step, records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Cut ``step``'s model from its parent, fine-tune, evaluate, save the model and then the record."""
    step_dir = ctx.steps_dir / step.id
    t0 = time.perf_counter()
    parent = load_parent(ctx, step.parent, records)
    target = step_arch(DeepSleepNetArch.from_dict(records[BASELINE]["arch"]), step)
    model = cut(ctx, parent, step, target)
    if model.arch != target:
        raise RuntimeError(f"step {step.id}: produced {model.arch} but the plan says {target}")
    removed = max(1.0 - macs_per_epoch(target) / macs_per_epoch(parent.arch),  # the step's size: the larger share
                  1.0 - count_params(target) / count_params(parent.arch))  # of MACs or of parameters it removes
    t1 = time.perf_counter()
    before = _eval(ctx, model, "val")
    t2 = time.perf_counter()
    model, ft, val = _finetune(ctx, model, step, step_dir, before, removed)
    t3 = time.perf_counter()
    test = _eval(ctx, model, "test")
    meta = {"step": step.id, "stage": step.stage, "ratio": step.ratio, "hidden": step.hidden, "parent": step.parent,
            "recipe": ctx.recipe.name}
    path = save_checkpoint(step_dir / "model.pt", model, config=ctx.cfg.to_dict(), meta=meta, overwrite=True)
    rec = {**asdict(step), **_arch_record(model.arch), "recipe": ctx.recipe.name, "val": val, "test": test,
           "val_before_finetune": _brief(before), "share_removed_from_parent": removed, "finetune": ft,
           "model": {"path": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size},
           "wall_s": {"prune": t1 - t0, "evaluate_before": t2 - t1, "finetune_and_val": t3 - t2, "total": time.perf_counter() - t0}}
    atomic_write_json(step_dir / STEP_JSON, rec)  # last: its presence marks the step finished
    (step_dir / "finetune_state.pt").unlink(missing_ok=True)
    log.info("%s: %d params, val acc %.3f (%.3f before fine-tune), F1 %.3f; test acc %.3f (%.0f s)", step.id, rec["params"],
             val["accuracy"], before["accuracy"], val["macro_f1"], test["accuracy"], rec["wall_s"]["total"])
    return rec


def plan_fingerprint(cfg: Config, baseline_sha: str, recipe: Recipe | None = None) -> dict[str, Any]:
    """What the finished steps of a sweep depend on: the baseline, the grid, the fine-tune settings, the recipe."""
    train = {k: v for k, v in asdict(cfg.train).items() if k not in ("threads", "device")}
    comp = {k: v for k, v in asdict(cfg.compress).items() if k not in ("margin_points", "min_accuracy", "compare_recipes",
            "causal_margin_points") and (cfg.compress.causal_lookaheads or not k.startswith("causal_"))}  # off: as before
    return {"baseline_sha256": baseline_sha, "train": train, "compress": comp,
            "recipe": json.loads(json.dumps((recipe or _resolved(cfg)).to_dict()))}


def check_plan_fingerprint(stage_dir: Path, cfg: Config, baseline_sha: str, name: str = "plan.json",
                           recipe: Recipe | None = None) -> None:
    """Refuse to resume a sweep that was started with another grid, fine-tune setting, recipe or baseline."""
    fp = plan_fingerprint(cfg, baseline_sha, recipe)
    path = stage_dir / name
    if path.is_file():
        old = json.loads(path.read_text("utf-8"))
        if old != json.loads(json.dumps(fp)):
            diff = sorted(f"{s}.{k}" for s in ("train", "compress", "recipe") for k in fp[s]
                          if old.get(s, {}).get(k) != json.loads(json.dumps(fp[s])).get(k))
            what = ", ".join(diff) or "the baseline checkpoint"
            raise ConfigError(f"{path}: the unfinished sweep in this folder used another setting ({what}); "
                              "rerun with the same config or pass --overwrite to start over")
        return
    atomic_write_json(path, fp)


def _resolved(cfg: Config) -> Recipe:
    from sleepedge.compress.recipes import resolve

    return resolve(cfg.compress)


def run_sweep(ctx: SweepContext, plan: list[Step], progress: bool = True,
              baseline: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Run (or resume) every step of ``plan``; returns ``{id: record}`` including the baseline.

    ``baseline`` reuses an evaluated baseline record (a comparison recipe shares the sweep's).
    """
    from tqdm.auto import tqdm

    records = {BASELINE: baseline or baseline_record(ctx)}
    done = {s.id for s in plan if (ctx.steps_dir / s.id / STEP_JSON).is_file()}
    if done:
        log.info("resuming: %d of %d steps already finished", len(done), len(plan))
    desc = f"compress sweep ({ctx.recipe.name})"
    with tqdm(total=len(plan), initial=len(done), desc=desc, unit="model", disable=not progress) as bar:
        for step in plan:
            rec = read_record(ctx.steps_dir, step.id)
            if rec is None:
                bar.set_postfix_str(step.id)
                rec = run_step(ctx, step, records)
                bar.update(1)
            records[step.id] = rec
    return records
