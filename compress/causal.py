"""Stage 3 of compression: the causal head, a unidirectional-LSTM copy of the selected model for true streaming.

The selected (bidirectional) model decides an epoch from the epochs around it; a wearable that streams
cannot wait for the night to end. The causal student (:func:`causal_student`) keeps the parent's CNN
and replaces its BiLSTM by one LSTM direction, so each epoch costs one feature call and one LSTM step
with the state carried (:mod:`sleepedge.models.causal`, :mod:`sleepedge.models.stateful`). With look-ahead
``k`` the decision for epoch ``t`` is the output of the step that consumed epoch ``t + k`` (a lag of
``30 k`` s); the last ``k`` epochs of a night take the last step's output
(:func:`sleepedge.models.stateful.decision_steps`).

Warm start. The CNN (weights and batch-norm statistics) is copied and stays frozen: the stateful feature
model is then exactly the parent's, and training runs on its CACHED features. The LSTM starts from the
parent's forward direction: the gate rows of the kept units, and for layers above the first only the
forward half of the input columns (the backward half is gone). A smaller ``hidden`` keeps each layer's
units with the largest L1 norm of incoming weights (the stage-2 criterion, :func:`~.hidden.hidden_scores`
of the forward direction), not simply the first ones. The shortcut rows, its batch norm and the head's
columns of the forward half follow the last layer's kept units; the shortcut batch norm keeps the
parent's running statistics (its input, the features, is the parent's) and is run in eval mode.

Training (:func:`train_causal`). Whole nights, reassembled from the windows of :class:`SequenceData`
(consecutive sequences of one record, in order; anything else is refused), a batch of nights at a time:
stateful truncated back-propagation through time, zero state at each night's start, the state carried
and detached between chunks of ``causal_chunk`` epochs. The loss at epoch ``t`` is that of the decision
step ``min(t + k, n - 1)``: ``(1 - alpha) CE_w(label of t) + alpha T^2 KL(teacher at t || student)``,
the teacher being the bidirectional parent's logits on the training windows (the sweep's distillation
teacher, :func:`sleepedge.train.loop.predict_logits`), the class weights those of ``train.class_weights``.
AdamW at a constant ``causal_lr``; the epoch with the best STREAMING validation macro-F1 is kept
(:func:`evaluate_streaming`: each whole night run statefully, reset at its start).
"""
from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sleepedge.config.settings import CompressConfig, Config, ConfigError
from sleepedge.core.errors import DataError
from sleepedge.core.metrics import classification_metrics
from sleepedge.core.seeding import seed_everything
from sleepedge.models import DeepSleepNet, load_checkpoint, save_checkpoint
from sleepedge.models.causal import night_features, night_logits
from sleepedge.models.stateful import decision_steps
from sleepedge.run.manifest import ManifestError, atomic_write_json, sha256_file
from sleepedge.train.sequences import SequenceData

from sleepedge.compress.channels import top_indices
from sleepedge.compress.hidden import gate_rows, hidden_scores
from sleepedge.compress.sweep import STEP_JSON, _arch_record, _scores, read_record
from sleepedge.compress.table import CAUSAL_STAGE

log = logging.getLogger(__name__)
EPOCH_SECONDS = 30.0  # AASM epoch, when the sampling rate is unknown


def causal_id(lookahead: int) -> str:
    """``causal-k{k}``: the step id of the causal head with look-ahead ``k``."""
    return f"causal-k{int(lookahead)}"


# --------------------------------------------------------------------------------------------- the student
def forward_units(parent: DeepSleepNet, hidden: int) -> list[torch.Tensor]:
    """Per LSTM layer, the ``hidden`` forward-direction units to keep (largest incoming L1 norm, ascending)."""
    scores = hidden_scores(parent)
    return [top_indices(scores[(layer, "")], hidden) for layer in range(parent.arch.lstm_layers)]


def _student_state(parent: DeepSleepNet, keep: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """The parent's state dict cut to the forward units ``keep`` (see the module docstring)."""
    h = parent.arch.lstm_hidden
    sd = {k: v.detach().clone() for k, v in parent.state_dict().items() if not k.endswith("_reverse")}
    prev = None  # the kept units of the layer below = the forward half of this layer's input columns
    for layer, k in enumerate(keep):
        rows, p = gate_rows(k, h), f"lstm.{{}}_l{layer}"
        w_ih = sd[p.format("weight_ih")].index_select(0, rows)
        sd[p.format("weight_ih")] = w_ih if prev is None else w_ih.index_select(1, prev)
        sd[p.format("weight_hh")] = sd[p.format("weight_hh")].index_select(0, rows).index_select(1, k)
        for b in ("bias_ih", "bias_hh"):
            sd[p.format(b)] = sd[p.format(b)].index_select(0, rows)
        prev = k
    sd["shortcut.weight"] = sd["shortcut.weight"].index_select(0, prev)
    for name in ("weight", "bias", "running_mean", "running_var"):
        sd[f"shortcut_bn.{name}"] = sd[f"shortcut_bn.{name}"].index_select(0, prev)
    sd["head.weight"] = sd["head.weight"].index_select(1, prev)
    return sd


def causal_student(parent: DeepSleepNet, lookahead: int, hidden: int = 0) -> DeepSleepNet:
    """A causal DeepSleepNet warm-started from the bidirectional ``parent`` (``hidden`` 0 = the parent's size)."""
    if not parent.arch.bidirectional:
        raise ValueError("the parent of a causal head must be the bidirectional model")
    h = parent.arch.lstm_hidden if hidden in (0, None) else int(hidden)
    if not 1 <= h <= parent.arch.lstm_hidden:
        raise ConfigError(f"compress.causal_hidden = {hidden}: the selected model has {parent.arch.lstm_hidden} LSTM "
                          "units; a causal head keeps that many or fewer (0 = the same)")
    student = DeepSleepNet(parent.arch.causal(lookahead=lookahead, lstm_hidden=h))
    student.load_state_dict(_student_state(parent, forward_units(parent, h)), strict=True)
    return student.eval()


def trainable(model: DeepSleepNet) -> list[nn.Parameter]:
    """Freeze the CNN; return the head's parameters (LSTM, shortcut, its batch norm, classifier)."""
    for part in (model.small, model.large):
        part.requires_grad_(False)
    return [p for m in (model.lstm, model.shortcut, model.shortcut_bn, model.head) for p in m.parameters()]


# ------------------------------------------------------------------------------------- nights of the data
def night_index(data: SequenceData, where: str = "data") -> list[np.ndarray]:
    """Sequence indices of each night (record), in data order; refuses a night whose windows are not contiguous.

    The sequences of a night are consecutive windows (``make_sequences``), so the night is their
    concatenation; a record whose windows are interleaved with another's cannot be put back together.
    """
    recs = list(data.records)
    if len(recs) != len(data):
        raise DataError(f"{where}: {len(data)} sequences but {len(recs)} record names; the causal head needs whole nights")
    out, seen = [], set()
    for i, r in enumerate(recs):
        if i == 0 or r != recs[i - 1]:
            if r in seen:
                raise DataError(f"{where}: the sequences of record {r!r} are not contiguous; whole nights cannot be rebuilt")
            seen.add(r)
            out.append([i])
        else:
            out[-1].append(i)
    return [np.asarray(ix, dtype=np.int64) for ix in out]


def aligned_targets(n: int, lookahead: int) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, epochs)``: the output of step ``steps[j]`` is trained on (and decides) epoch ``epochs[j]``."""
    return decision_steps(n, lookahead), np.arange(n, dtype=np.int64)


@dataclass
class NightFeatures:
    """One split as whole nights: CNN features ``(n, F)``, labels and the sequence indices of each night."""

    feats: list[np.ndarray]
    labels: list[np.ndarray]
    index: list[np.ndarray]
    shape: tuple[int, int]  # (N, T) of the split's windows

    def to_layout(self, per_night: list[np.ndarray]) -> np.ndarray:
        """Per-night predictions back in the ``(N, T)`` layout of the windows."""
        out = np.zeros(self.shape, dtype=np.int64)
        for ix, pred in zip(self.index, per_night):
            out[ix] = np.asarray(pred).reshape(len(ix), self.shape[1])
        return out


def window_features(model: DeepSleepNet, data: SequenceData) -> np.ndarray:
    """The CNN features ``(N, T, F)`` of every window of ``data`` (``model``'s CNN, eval mode, on the CPU)."""
    n, t = data.y.shape
    return night_features(model.cpu(), data.x.reshape(n * t, 1, -1)).reshape(n, t, -1)


def nights_of(model: DeepSleepNet, data: SequenceData, where: str = "data", feats: np.ndarray | None = None) -> NightFeatures:
    """The CNN features of every night of ``data`` and their labels (``feats``: its window features, if known)."""
    index = night_index(data, where)
    n, t = data.y.shape
    feats = window_features(model, data) if feats is None else feats
    return NightFeatures([feats[ix].reshape(len(ix) * t, -1) for ix in index],
                         [data.y[ix].reshape(-1) for ix in index], index, (n, t))


def teacher_logits(parent: DeepSleepNet, feats: np.ndarray, batch: int = 256) -> np.ndarray:
    """The parent's logits ``(N, T, C)`` window by window from its cached window features ``(N, T, F)``.

    The same numbers as :func:`sleepedge.train.loop.predict_logits` on the windows (eval mode: the feature
    dropout is the identity), the sweep's distillation teacher, without running the CNN a second time.
    """
    parent.eval()
    with torch.no_grad():
        parts = [parent.sequence(torch.from_numpy(np.ascontiguousarray(feats[i:i + batch]))).numpy()
                 for i in range(0, len(feats), batch)]
    return np.concatenate(parts).astype(np.float32)


def teacher_nights(logits: np.ndarray, nights: NightFeatures) -> list[np.ndarray]:
    """Window logits ``(N, T, C)`` of the teacher regrouped night by night (``(n, C)`` each)."""
    return [logits[ix].reshape(-1, logits.shape[-1]) for ix in nights.index]


# ----------------------------------------------------------------------------------- streaming evaluation
def streaming_predictions(model: DeepSleepNet, nights: NightFeatures) -> list[np.ndarray]:
    """Each whole night run statefully (zero state at its start): the predicted stage of every epoch."""
    m = model if next(model.parameters()).device.type == "cpu" else copy.deepcopy(model).cpu()
    return [night_logits(m, f, (0,)).argmax(-1) for f in nights.feats]


def score_nights(model: DeepSleepNet, nights: NightFeatures, y: np.ndarray) -> dict[str, Any]:
    """Metrics of :func:`sleepedge.train.loop.evaluate` (``y_pred`` in the ``(N, T)`` layout) from cached features."""
    y_pred = nights.to_layout(streaming_predictions(model, nights))
    metrics = classification_metrics(y, y_pred)
    metrics["y_pred"] = y_pred
    return metrics


def evaluate_streaming(model: DeepSleepNet, data: SequenceData, batch_size: int = 64, device: str | None = None) -> dict[str, Any]:
    """Streaming evaluation of a causal model: every whole night of ``data`` one step per epoch, state carried.

    Same signature and result as :func:`sleepedge.train.loop.evaluate` (``batch_size`` and ``device`` are
    accepted for that and unused: the night runs on the CPU as on a wearable).
    """
    return score_nights(model, nights_of(model, data), data.y)


# ---------------------------------------------------------------------------------------------- training
@dataclass
class CausalSettings:
    """How a causal head trains (``compress.causal_*`` plus the training section's seed and regularisers)."""

    epochs: int
    lr: float
    chunk: int
    alpha: float
    temperature: float
    batch_nights: int
    weight_decay: float
    grad_clip: float
    class_weights: str
    seed: int
    dropout: float | None = None
    cell_bound: float = 0.0  # |c| above this is penalised at every chunk's end (0 = no penalty)
    cell_penalty: float = 0.0

    @classmethod
    def from_config(cls, cfg: Config, dropout: float | None = None) -> "CausalSettings":
        """``batch_nights``: enough nights that one optimiser step sees about as many epochs as a step of the
        window training (``train.batch_size`` x ``data.seq_len``), e.g. 3 nights of 64-epoch chunks for the quick preset."""
        c, t = cfg.compress, cfg.train
        nights = max(1, math.ceil(t.batch_size * cfg.data.seq_len / c.causal_chunk))
        return cls(c.causal_epochs, c.causal_lr, c.causal_chunk, c.causal_distill_alpha, c.causal_temperature,
                   nights, t.weight_decay, t.grad_clip, t.class_weights, t.seed, dropout, c.causal_cell_bound,
                   c.causal_cell_penalty)


@dataclass
class _Batch:
    """A batch of nights on the device: padded features, labels, teacher logits and the (night, step, epoch) targets."""

    feats: torch.Tensor  # (B, L, F), zero after a night's end (those steps come after every target)
    labels: torch.Tensor  # (B, L)
    teacher: torch.Tensor  # (B, L, C)
    night: torch.Tensor  # (P,) for every target: its night in the batch,
    step: torch.Tensor  # the step whose output decides it,
    epoch: torch.Tensor  # and the epoch it decides


def _pad(parts: list[np.ndarray], length: int) -> np.ndarray:
    out = np.zeros((len(parts), length, *parts[0].shape[1:]), dtype=parts[0].dtype)
    for i, p in enumerate(parts):
        out[i, :len(p)] = p
    return out


def make_batch(feats: list[np.ndarray], labels: list[np.ndarray], teacher: list[np.ndarray], lookahead: int,
               dev: torch.device) -> _Batch:
    """Pad a batch of nights and list every epoch's target with the step that decides it (:func:`aligned_targets`)."""
    length = max(len(f) for f in feats)
    pairs = [aligned_targets(len(f), lookahead) for f in feats]
    night = np.concatenate([np.full(len(s), i) for i, (s, _) in enumerate(pairs)])
    steps, epochs = np.concatenate([s for s, _ in pairs]), np.concatenate([e for _, e in pairs])
    f32, i64 = (lambda a: torch.as_tensor(a, dtype=torch.float32).to(dev)), (lambda a: torch.as_tensor(a, dtype=torch.long).to(dev))
    return _Batch(f32(_pad(feats, length)), i64(_pad(labels, length)), f32(_pad(teacher, length)), i64(night), i64(steps), i64(epochs))


def head_chunk(model: DeepSleepNet, feats: torch.Tensor, state) -> tuple[torch.Tensor, Any]:
    """Raw per-step logits ``(B, L, C)`` of a chunk of steps from ``state`` (None = zero), and the state after it.

    The training path of :meth:`DeepSleepNet.forward` (feature dropout, LSTM, shortcut, output dropout)
    with the state explicit, without the look-ahead re-indexing (the targets are aligned instead).
    """
    b, t, f = feats.shape
    x = model.feat_drop(feats)
    seq, state = model.lstm(x, state)
    short = torch.relu(model.shortcut_bn(model.shortcut(x.reshape(b * t, f)))).reshape(b, t, -1)
    return model.head(model.out_drop(seq + short)), state


def cell_excess(c: torch.Tensor, bound: float, weight: float) -> torch.Tensor | float:
    """``weight * mean(relu(|c| - bound)^2)`` of the cell state after a chunk (0 when ``weight`` is 0).

    A unit whose forget gate stays near 1 integrates its input over a whole night (measured on the demo's head
    without this term: |c| up to 342 over its training nights). Such a unit integrates the int8 feature model's
    rounding errors too, so the deployed state drifts away from PyTorch's over the night, and its range
    costs the int16 state its resolution. The penalty at each chunk's end (the gradient reaches the chunk's
    steps) keeps the cell state within ``bound``; tanh(c) is flat beyond a few units anyway.
    """
    if weight <= 0:
        return 0.0
    return weight * torch.relu(c.abs() - bound).pow(2).mean()


def _train_mode(model: DeepSleepNet) -> None:
    """Dropout on; the frozen CNN and the shortcut batch norm (the parent's statistics) stay in eval mode."""
    model.train()
    for part in (model.small, model.large, model.shortcut_bn):
        part.eval()


@dataclass
class _Trainer:
    """The fixed parts of one causal training run."""

    model: DeepSleepNet
    opt: torch.optim.Optimizer
    loss_fn: nn.Module
    s: CausalSettings
    params: list[nn.Parameter]

    def batch(self, b: _Batch) -> tuple[float, int]:
        """One batch of nights, chunk by chunk (truncated BPTT): (summed loss, targets)."""
        state, total, n = None, 0.0, 0
        for a in range(0, b.feats.shape[1], self.s.chunk):
            logits, state = head_chunk(self.model, b.feats[:, a:a + self.s.chunk].contiguous(), state)  # 10x faster LSTM
            sel = (b.step >= a) & (b.step < a + logits.shape[1])
            night, step, epoch = b.night[sel], b.step[sel] - a, b.epoch[sel]
            loss = self.loss_fn(logits[night, step], b.labels[night, epoch], b.teacher[night, epoch])
            loss = loss + cell_excess(state[1], self.s.cell_bound, self.s.cell_penalty)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.s.grad_clip > 0:
                nn.utils.clip_grad_norm_(self.params, self.s.grad_clip)
            self.opt.step()
            state = tuple(x.detach() for x in state)
            total, n = total + float(loss.detach()) * len(night), n + len(night)
        return total, n


def _trainer(model: DeepSleepNet, train_labels: np.ndarray, s: CausalSettings) -> _Trainer:
    from sleepedge.train.loop import class_weights
    from sleepedge.train.objective import Criterion, Objective

    params = trainable(model)
    if s.dropout is not None:
        model.set_dropout(s.dropout)
    weight = class_weights(train_labels, s.class_weights, model.arch.n_classes)
    dev = next(model.parameters()).device
    loss_fn = Criterion(Objective(s.alpha, s.temperature), None if weight is None else weight.to(dev))
    return _Trainer(model, torch.optim.AdamW(params, lr=s.lr, weight_decay=s.weight_decay), loss_fn, s, params)


@dataclass
class CausalFit:
    """The trained student (best streaming validation epoch, eval mode), its history and that epoch."""

    model: DeepSleepNet
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_val: dict[str, Any] = field(default_factory=dict)


def _one_epoch(tr: _Trainer, train: NightFeatures, teacher: list[np.ndarray], epoch: int, dev: torch.device) -> float:
    """One pass over the training nights in a seeded order, ``batch_nights`` nights at a time: mean loss."""
    _train_mode(tr.model)
    order = np.random.default_rng(tr.s.seed * 1009 + epoch).permutation(len(train.feats))
    total, n = 0.0, 0
    for i in range(0, len(order), tr.s.batch_nights):
        idx = order[i:i + tr.s.batch_nights]
        b = make_batch([train.feats[j] for j in idx], [train.labels[j] for j in idx], [teacher[j] for j in idx],
                       tr.model.arch.lookahead, dev)
        s, m = tr.batch(b)
        total, n = total + s, n + m
    return total / max(n, 1)


SMALL_HEAD_MACS = 1_000_000  # LSTM multiply-accumulates per step below which the head trains on one CPU thread


@contextlib.contextmanager
def head_threads(model: DeepSleepNet):
    """One intra-op CPU thread while a small head trains, the configured count otherwise.

    A small head's per-chunk operations (a few nights x 64 steps x tens of units) are too small to split:
    measured on the 2-core machine with other jobs running, the quick preset's head took 3-20x longer
    with 2 threads than with 1 (OpenMP threads waiting on each other), and the same with 1 thread when idle.
    The count depends on the architecture only, so a run stays deterministic.
    """
    a, before = model.arch, torch.get_num_threads()
    macs = 4 * a.lstm_hidden * (a.cnn_features + a.lstm_hidden) + 4 * a.lstm_hidden * 2 * a.lstm_hidden * (a.lstm_layers - 1)
    if macs < SMALL_HEAD_MACS:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_causal(model: DeepSleepNet, train: NightFeatures, teacher: list[np.ndarray], val: NightFeatures, val_y: np.ndarray,
                 s: CausalSettings) -> CausalFit:
    """Train the head of ``model`` in place (see the module docstring); the best validation epoch's weights kept."""
    with head_threads(model):
        return _fit(model, train, teacher, val, val_y, s)


def _fit(model: DeepSleepNet, train: NightFeatures, teacher: list[np.ndarray], val: NightFeatures, val_y: np.ndarray,
         s: CausalSettings) -> CausalFit:
    seed_everything(s.seed)
    dev = next(model.parameters()).device
    tr = _trainer(model, np.concatenate(train.labels), s)
    fit = CausalFit(model, best_val={"macro_f1": -1.0})
    best_state = copy.deepcopy(model.state_dict())
    for epoch in range(1, s.epochs + 1):
        loss = _one_epoch(tr, train, teacher, epoch, dev)
        val_m = score_nights(model.eval(), val, val_y)
        fit.history.append({"epoch": epoch, "train_loss": loss, "val_accuracy": val_m["accuracy"], "val_macro_f1": val_m["macro_f1"]})
        if val_m["macro_f1"] > fit.best_val["macro_f1"]:
            fit.best_epoch, fit.best_val, best_state = epoch, val_m, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    return fit


# ------------------------------------------------------------------------------------------- the step
@dataclass
class CausalContext:
    """What the causal steps share: the parent (the selected bidirectional model), the data and the caches."""

    cfg: Config
    steps_dir: Path
    parent_path: Path
    parent_record: dict[str, Any]  # the parent's sweep record (id, ratio, model sha256)
    data: dict[str, Any]  # "train", "val", "test": SequenceData
    device: str = "cpu"
    dropout: float | None = None  # the recipe's fine-tune dropout (None = the architecture's)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def parent(self) -> DeepSleepNet:
        """The parent's checkpoint, refused when it changed since its step finished."""
        if sha256_file(self.parent_path) != self.parent_record["model"]["sha256"]:
            raise ManifestError(f"{self.parent_path}: changed since step {self.parent_record['id']!r} finished; "
                                f"delete {self.parent_path.parent} to redo it")
        return load_checkpoint(self.parent_path)[0]

    def nights(self) -> dict[str, Any]:
        """Features of every split's nights (parent's CNN) and the teacher's training logits, computed once."""
        if not self._cache:
            t0, parent = time.perf_counter(), self.parent()
            train = window_features(parent, self.data["train"])
            self._cache = {s: nights_of(parent, self.data[s], f"{s} data", train if s == "train" else None)
                           for s in ("train", "val", "test")}
            self._cache["teacher"] = teacher_nights(teacher_logits(parent, train), self._cache["train"])
            self._cache["wall_s"] = time.perf_counter() - t0
        return self._cache


def lag_seconds(arch, lookahead: int, sfreq: float | None) -> float:
    """Seconds between an epoch's end and its decision: ``lookahead`` epochs (``epoch_samples / sfreq`` s each)."""
    epoch_s = arch.epoch_samples / sfreq if sfreq else EPOCH_SECONDS
    return float(lookahead * epoch_s)


def _record(ctx: CausalContext, model: DeepSleepNet, k: int, fit: CausalFit, before: dict, test: dict, path: Path) -> dict[str, Any]:
    p = ctx.parent_record
    return {"id": causal_id(k), "stage": CAUSAL_STAGE, "ratio": p["ratio"], "hidden": model.arch.lstm_hidden,
            "parent": p["id"], "lookahead": k, "lag_s": lag_seconds(model.arch, k, ctx.cfg.data.sfreq),
            "parent_sha256": p["model"]["sha256"], **_arch_record(model.arch), "recipe": "causal",
            "val": _scores(fit.best_val, ctx.data["val"]), "test": _scores(test, ctx.data["test"]),
            "val_before_finetune": {m: before[m] for m in ("accuracy", "macro_f1", "kappa")},
            "finetune": {"epochs": ctx.cfg.compress.causal_epochs, "epochs_run": len(fit.history), "best_epoch": fit.best_epoch,
                         "history": fit.history, "kept": "finetuned"},
            "model": {"path": path.name, "sha256": sha256_file(path), "bytes": path.stat().st_size}}


def _finished(ctx: CausalContext, k: int) -> dict[str, Any] | None:
    """The finished step's record, refused when it was trained from another parent."""
    rec = read_record(ctx.steps_dir, causal_id(k))
    if rec is not None and rec.get("parent_sha256") != ctx.parent_record["model"]["sha256"]:
        raise ManifestError(f"{ctx.steps_dir / causal_id(k)}: trained from another parent than the selected model "
                            f"{ctx.parent_record['id']!r}; delete that folder to redo the step")
    return rec


def state_range(model: DeepSleepNet, nights: NightFeatures) -> dict[str, float]:
    """Largest ``|h|`` and ``|c|`` the head reaches streaming the training nights (one step per epoch, reset at each
    night's start), kept in the checkpoint: the int8 export calibrates the state's scale to cover it. Over a night
    the cell state of a unit whose forget gate stays near 1 can reach a hundred or more, far beyond what a few
    calibration sequences show (measured on the demo's head: |c| up to 240 over a test night)."""
    from sleepedge.models.causal import step_function
    from sleepedge.models.stateful import run_stateful

    top = {"h": 0.0, "c": 0.0}

    def record(step):
        def call(f, h, c):
            out = step(f, h, c)
            top["h"], top["c"] = max(top["h"], float(np.abs(out[1]).max())), max(top["c"], float(np.abs(out[2]).max()))
            return out
        return call

    a, step = model.arch, step_function(model.cpu().eval())
    for f in nights.feats:
        run_stateful(record(step), f, a.lstm_layers, a.lstm_hidden, a.lookahead, [0])
    return {k: round(v, 4) for k, v in top.items()}


def run_causal_step(ctx: CausalContext, k: int) -> dict[str, Any]:
    """Train and score the causal head with look-ahead ``k``; ``steps/causal-k{k}/step.json`` written last."""
    rec = _finished(ctx, k)
    if rec is not None:
        return rec
    t0, step_dir = time.perf_counter(), ctx.steps_dir / causal_id(k)
    cache = ctx.nights()
    t1 = time.perf_counter()
    model = causal_student(ctx.parent(), k, ctx.cfg.compress.causal_hidden).to(ctx.device)
    before = score_nights(model, cache["val"], ctx.data["val"].y)
    t2 = time.perf_counter()
    fit = train_causal(model, cache["train"], cache["teacher"], cache["val"], ctx.data["val"].y,
                       CausalSettings.from_config(ctx.cfg, ctx.dropout))
    t3 = time.perf_counter()
    test = score_nights(model, cache["test"], ctx.data["test"].y)
    meta = {"step": causal_id(k), "stage": CAUSAL_STAGE, "lookahead": k, "parent": ctx.parent_record["id"], "recipe": "causal",
            "state_range": state_range(model, cache["train"])}
    path = save_checkpoint(step_dir / "model.pt", model.cpu(), config=ctx.cfg.to_dict(), meta=meta, overwrite=True)
    rec = _record(ctx, model, k, fit, before, test, path)
    rec["wall_s"] = {"features": t1 - t0, "prune": 0.0, "evaluate_before": t2 - t1, "finetune_and_val": t3 - t2,
                     "total": time.perf_counter() - t0}
    atomic_write_json(step_dir / STEP_JSON, rec)  # last: its presence marks the step finished
    log.info("%s: %d params, streaming val macro-F1 %.3f (%.3f before training), test %.3f (%.0f s)", rec["id"],
             rec["params"], rec["val"]["macro_f1"], before["macro_f1"], rec["test"]["macro_f1"], rec["wall_s"]["total"])
    return rec


def check_causal_config(c: CompressConfig) -> None:
    """``ConfigError`` naming the ``compress.causal_*`` key out of range (also checked by the config rules)."""
    if any(int(k) < 0 for k in c.causal_lookaheads) or len(set(c.causal_lookaheads)) != len(c.causal_lookaheads):
        raise ConfigError(f"compress.causal_lookaheads must be distinct look-aheads >= 0, got {c.causal_lookaheads}")
    if c.causal_hidden < 0 or c.causal_epochs < 1 or c.causal_chunk < 1:
        raise ConfigError("compress.causal_hidden must be >= 0, compress.causal_epochs and compress.causal_chunk >= 1")
    if not 0.0 <= c.causal_distill_alpha <= 1.0:
        raise ConfigError(f"compress.causal_distill_alpha must be in [0, 1], got {c.causal_distill_alpha}")
    if not (c.causal_temperature > 0 and c.causal_lr > 0):
        raise ConfigError("compress.causal_temperature and compress.causal_lr must be > 0")


def run_causal_steps(ctx: CausalContext, lookaheads: list[int]) -> dict[str, dict[str, Any]]:
    """Run (or resume) one causal step per look-ahead, in ascending order; ``{id: record}``."""
    check_causal_config(ctx.cfg.compress)
    return {causal_id(k): run_causal_step(ctx, int(k)) for k in sorted(lookaheads)}
