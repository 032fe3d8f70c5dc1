"""The training loop: AdamW, class-weighted loss (optionally distilled from a teacher), a learning-rate
schedule, gradient clipping, early stopping on validation macro-F1, seeded shuffling, and a resumable
state file. Used by ``sleepedge train`` and by the fine-tuning steps of ``sleepedge compress``.
"""
from __future__ import annotations

import copy
import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from sleepedge.config.settings import TrainConfig
from sleepedge.core.errors import DataError
from sleepedge.core.metrics import classification_metrics
from sleepedge.models.checkpoint import load_torch_file
from sleepedge.run.manifest import atomic_write_bytes

from sleepedge.train import accelerate
from sleepedge.train.objective import Criterion, Objective, Schedule
from sleepedge.train.sequences import SequenceData

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """Best-validation model (eval mode), per-epoch history, and the best epoch's validation metrics."""

    model: nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = -1
    best_val: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


def select_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def class_weights(y: np.ndarray, mode: str, n_classes: int = 5) -> torch.Tensor | None:
    """Loss weights from training class frequencies: ``inverse``, ``inverse_sqrt`` or ``none``."""
    if mode == "none":
        return None
    counts = np.bincount(np.asarray(y).ravel(), minlength=n_classes).astype(np.float64)
    freq = np.where(counts > 0, counts / counts.sum(), 1.0)
    if mode == "inverse":
        w = 1.0 / freq
    elif mode == "inverse_sqrt":
        w = 1.0 / np.sqrt(freq)
    else:
        raise ValueError(f"unknown class_weights mode {mode!r} (none, inverse, inverse_sqrt)")
    w = np.where(counts > 0, w, 0.0)
    return torch.tensor(w / w[counts > 0].mean(), dtype=torch.float32)


@torch.no_grad()
def predict_logits(model: nn.Module, x: np.ndarray, batch_size: int = 64, device: str | torch.device | None = None) -> np.ndarray:
    """Logits ``(N, T, classes)`` for sequences ``x`` in eval mode."""
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    if accelerate.is_cuda(dev):  # resident data, bf16, one copy back (train/accelerate.py)
        return accelerate.predict_logits_cuda(model, x, batch_size, dev)
    model.eval().to(dev)
    out = [model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])).to(dev)).cpu().numpy()
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, x.shape[1], 5), np.float32)


def evaluate(model: nn.Module, data: SequenceData, batch_size: int = 64, device: str | None = None) -> dict[str, Any]:
    """Metrics on ``data`` (see :func:`sleepedge.core.metrics.classification_metrics`) plus ``y_pred`` (N, T)."""
    y_pred = predict_logits(model, data.x, batch_size, device).argmax(-1)
    metrics = classification_metrics(data.y, y_pred)
    metrics["y_pred"] = y_pred
    return metrics


def _train_one_epoch(model, data, opt, sched, loss_fn, cfg: TrainConfig, epoch: int, dev, bar,
                     teacher: np.ndarray | None = None) -> float:
    model.train()
    order = np.random.default_rng(cfg.seed * 1009 + epoch).permutation(len(data))
    total, n = 0.0, 0
    # CPU: NumPy batches and fp32 as always; CUDA: device-resident batches under bf16 autocast (train/accelerate.py)
    for xb, yb, tb, size in accelerate.batches(data, teacher, order, cfg.batch_size, dev):
        with accelerate.autocast(dev, cfg.amp):
            logits = model(xb)
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), tb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        total += accelerate.loss_term(loss, size)
        n += size
        bar.update(size)
    return float(total) / max(n, 1)


def _save_state(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue(), overwrite=True)


STATE_KEYS = ("model", "optimizer", "scheduler", "rng")  # what a resume restores (see _state)
STATE_ADVICE = "; delete it to start over"


def _bad_state(path: Path) -> DataError:
    return DataError(f"{path}: not a sleepedge training state (damaged, truncated, or not written by sleepedge)"
                     f"{STATE_ADVICE}")


def _load_state(path: Path | None) -> dict[str, Any] | None:
    """The saved state of an interrupted fit (``weights_only``: tensors and plain data only), or None.

    Raises
    ------
    DataError
        The file is not a state this loop wrote (damaged, truncated, another object), naming it.
    """
    if path is None or not Path(path).is_file():
        return None
    log.info("resuming training from %s", path)
    st = load_torch_file(path, "sleepedge training state", advice=STATE_ADVICE)
    if not isinstance(st, dict) or any(key not in st for key in STATE_KEYS):
        raise _bad_state(Path(path))
    return st


def _strip(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != "y_pred"}


@dataclass
class _Run:
    """The fixed parts of one fit: the model, its optimiser, schedule and loss, where it runs and for how long."""

    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    loss_fn: Criterion
    cfg: TrainConfig
    dev: torch.device
    teacher: np.ndarray | None
    desc: str
    n_epochs: int


@dataclass
class _Progress:
    """Where a fit stands: the epochs so far, the best validation epoch (weights and metrics), the clock."""

    history: list[dict[str, Any]]
    best_state: dict[str, Any]
    best_f1: float
    best_epoch: int
    best_val: dict[str, Any]
    t0: float

    @classmethod
    def from_state(cls, st: dict[str, Any], model: nn.Module) -> _Progress:
        """From a resumed state file's contents, or a fresh start (``st`` empty)."""
        history: list[dict[str, Any]] = st.get("history", [])
        best_state = st.get("best_state") or copy.deepcopy(model.state_dict())
        best_f1, best_epoch, best_val = st.get("best_f1", -1.0), st.get("best_epoch", -1), st.get("best_val", {})
        return cls(history, best_state, best_f1, best_epoch, best_val, time.perf_counter() - st.get("wall_s", 0.0))

    def note(self, epoch: int, val_m: dict[str, Any], model: nn.Module) -> None:
        """Keep ``model``'s weights when this epoch's validation macro-F1 beats the best so far."""
        if val_m["macro_f1"] > self.best_f1:
            self.best_f1, self.best_epoch, self.best_val = val_m["macro_f1"], epoch + 1, val_m
            self.best_state = copy.deepcopy(model.state_dict())


def _check_teacher(objective: Objective, teacher_logits: np.ndarray | None, train: SequenceData) -> None:
    if objective.distills and (teacher_logits is None or teacher_logits.shape[:2] != train.y.shape):
        raise ValueError("distillation needs teacher logits of shape (sequences, epochs, classes) matching the training data")


def _prepare_device(cfg: TrainConfig) -> tuple[TrainConfig, torch.device]:
    """Threads, the device, and the config for it (CUDA only: train.gpu_batch_size and its learning rate)."""
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    dev = select_device(cfg.device)
    cfg = accelerate.device_config(cfg, dev)
    accelerate.prepare_device(dev)
    return cfg, dev


def _setup(model: nn.Module, train: SequenceData, cfg: TrainConfig, dev: torch.device, objective: Objective,
           schedule: Schedule, teacher_logits: np.ndarray | None, desc: str, n_epochs: int) -> _Run:
    """Optimiser, class-weighted loss, learning-rate schedule and teacher logits of a fit."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    w = class_weights(train.y, cfg.class_weights)
    loss_fn = Criterion(objective, None if w is None else w.to(dev))
    total_steps = n_epochs * -(-len(train) // cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: schedule.factor(step, total_steps))
    teacher = None if not objective.distills else np.ascontiguousarray(teacher_logits, dtype=np.float32)
    return _Run(model, opt, sched, loss_fn, cfg, dev, teacher, desc, n_epochs)


def _resume(state_path: Path | None, run: _Run) -> dict[str, Any]:
    """The saved state (empty when none), with model, optimiser, schedule and RNG restored from it."""
    st = _load_state(state_path) or {}
    if st:
        try:
            run.model.load_state_dict(st["model"])
            run.opt.load_state_dict(st["optimizer"])
            run.sched.load_state_dict(st["scheduler"])
            torch.set_rng_state(st["rng"])
            _Progress.from_state(st, run.model)  # its history and best epoch are readable too
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError):
            raise _bad_state(Path(state_path)) from None
    return st


def _should_stop(cfg: TrainConfig, epoch: int, prog: _Progress) -> bool:
    """Early stopping: ``patience`` epochs without a better one, or past ``max_minutes``."""
    return (epoch + 1 - prog.best_epoch >= cfg.patience > 0) or (cfg.max_minutes > 0 and time.perf_counter() - prog.t0 > 60 * cfg.max_minutes)


def _state(run: _Run, prog: _Progress, stop: bool) -> dict[str, Any]:
    """Everything a resumed fit needs, saved after every epoch."""
    return {"model": run.model.state_dict(), "optimizer": run.opt.state_dict(),
            "scheduler": run.sched.state_dict(), "rng": torch.get_rng_state(),
            "history": prog.history, "best_state": prog.best_state, "best_f1": prog.best_f1,
            "best_epoch": prog.best_epoch, "best_val": prog.best_val, "stopped": stop,
            "wall_s": time.perf_counter() - prog.t0}


def _train_epochs(run: _Run, train: SequenceData, val: SequenceData, epochs: range, prog: _Progress,
                  state_path: Path | None) -> None:
    """Train and validate epoch by epoch, saving the state after each, until the last or an early stop."""
    for epoch in epochs:
        with tqdm(total=len(train), desc=f"{run.desc} {epoch + 1}/{run.n_epochs}", unit="seq", leave=False, disable=None) as bar:
            loss = _train_one_epoch(run.model, train, run.opt, run.sched, run.loss_fn, run.cfg, epoch, run.dev, bar, run.teacher)
        val_m = _strip(evaluate(run.model, val, device=str(run.dev)))
        prog.history.append({"epoch": epoch + 1, "train_loss": loss, "lr_end": run.opt.param_groups[0]["lr"],
                             "val_accuracy": val_m["accuracy"], "val_macro_f1": val_m["macro_f1"], "val_kappa": val_m["kappa"]})
        log.info("%s epoch %d: loss %.4f val acc %.3f F1 %.3f", run.desc, epoch + 1, loss, val_m["accuracy"], val_m["macro_f1"])
        prog.note(epoch, val_m, run.model)
        stop = _should_stop(run.cfg, epoch, prog)
        if state_path is not None:
            _save_state(Path(state_path), _state(run, prog, stop))
        if stop:
            log.info("%s: stopping after epoch %d (best epoch %d)", run.desc, epoch + 1, prog.best_epoch)
            break


def fit(
    model: nn.Module,
    train: SequenceData,
    val: SequenceData,
    cfg: TrainConfig,
    *,
    epochs: int | None = None,
    desc: str = "train",
    state_path: Path | None = None,
    objective: Objective | None = None,
    teacher_logits: np.ndarray | None = None,
    schedule: Schedule | None = None,
    keep_best: bool = True,
) -> FitResult:
    """Train ``model`` and return it with the best validation macro-F1 weights loaded.

    With ``state_path`` the loop saves its full state after every epoch and resumes from it when the
    file exists, so an interrupted run continues where it stopped (same result as uninterrupted).
    ``objective`` (default: plain cross-entropy) may distil from ``teacher_logits`` (``(N, T, classes)``,
    aligned with ``train``); ``schedule`` (default: constant) moves the learning rate per optimiser step.
    ``keep_best`` returns the best validation epoch's weights (else the last epoch's).
    """
    objective, schedule = objective or Objective(), schedule or Schedule()
    _check_teacher(objective, teacher_logits, train)
    cfg, dev = _prepare_device(cfg)
    n_epochs = cfg.epochs if epochs is None else epochs
    torch.manual_seed(cfg.seed)
    model.to(dev)
    run = _setup(model, train, cfg, dev, objective, schedule, teacher_logits, desc, n_epochs)
    st = _resume(state_path, run)
    prog = _Progress.from_state(st, model)
    start = n_epochs if st.get("stopped") else len(prog.history)
    _train_epochs(run, train, val, range(start, n_epochs), prog, state_path)
    if keep_best:
        model.load_state_dict(prog.best_state)
    model.eval()
    return FitResult(model=model, history=prog.history, best_epoch=prog.best_epoch, best_val=prog.best_val,
                     wall_s=time.perf_counter() - prog.t0)
