"""The range of every configuration key, in ONE table (``RULES``), and the checks across keys.

``sleepedge.config.settings`` applies a key's rule whenever the key is set (preset, ``--set``, a manifest's
recorded config) and :func:`validate_config` once the whole config is resolved. A test checks that
every dataclass field of :class:`sleepedge.config.settings.Config` has a rule here, so a key added later must
get one. Floats must always be finite (no ``nan``/``inf``). Standard library only.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

SEED_MAX = 2**32 - 1  # numpy and torch seeds
SLEEP_EDF_SUBJECTS = 83  # sleep-cassette subjects 0..82
EPOCH_SECONDS = 30  # AASM scoring epoch


class RuleError(ValueError):
    """A value outside its key's range (``sleepedge.config.settings`` turns it into a ``ConfigError``)."""


@dataclass(frozen=True)
class Rule:
    """Allowed values of one key (applied to each item of a list-valued key).

    ``lo``/``hi``: inclusive bounds unless ``lo_open``/``hi_open``; ``choices``: allowed values, or a
    function returning them (imported lazily); ``nonempty``: a text or list must not be empty;
    ``unique``: no repeated list items; ``pattern``: a regular expression text must match in full.
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[Any, ...] | Callable[[], tuple[Any, ...]] | None = None
    nonempty: bool = False
    unique: bool = False
    pattern: str | None = None
    what: str = ""  # how the rule reads in an error message, when the bounds alone say too little

    def describe(self) -> str:
        if self.what:
            return self.what
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {_num(self.lo)}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {_num(self.hi)}")
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self._choices())))
        if self.nonempty:
            parts.append("not empty")
        return " and ".join(parts) or "any value"

    def _choices(self) -> tuple[Any, ...]:
        return self.choices() if callable(self.choices) else tuple(self.choices or ())

    def check_item(self, v: Any, item: bool = False) -> None:
        it = f"item {v!r} " if item else ""
        if isinstance(v, float) and not math.isfinite(v):
            raise RuleError(f"{it}is not a finite number")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            too_low = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
            too_high = self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi)
            if too_low or too_high:
                raise RuleError(f"{it}out of range (expected {self.describe()})")
        if isinstance(v, str):
            if self.nonempty and not v.strip():
                raise RuleError(f"{it}must not be empty")
            if self.pattern and not re.fullmatch(self.pattern, v):
                raise RuleError(f"{it}not valid (expected {self.describe()})")
        if self.choices is not None and v not in self._choices():
            raise RuleError(f"{it}unknown (known: {', '.join(map(str, self._choices()))})")

    def check(self, value: Any) -> None:
        if isinstance(value, list):
            if self.nonempty and not value:
                raise RuleError("must not be empty")
            if self.unique and len(set(map(repr, value))) != len(value):
                raise RuleError("repeats an item")
            for v in value:
                self.check_item(v, item=True)
            return
        self.check_item(value)


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _arch_names() -> tuple[str, ...]:
    from sleepedge.models.presets import ARCH_PRESETS  # no torch

    return tuple(sorted(ARCH_PRESETS))


def _export_formats() -> tuple[str, ...]:
    from sleepedge.config.formats import FORMATS  # no torch, no TensorFlow

    return tuple(FORMATS)


def _window_formats() -> tuple[str, ...]:
    from sleepedge.config.formats import FORMATS

    return tuple(n for n, f in FORMATS.items() if not f.stream)  # the yardstick is exported as window models only


def _bench_runtimes() -> tuple[str, ...]:
    from sleepedge.config.formats import KNOWN_RUNTIMES

    return tuple(KNOWN_RUNTIMES)


ANY = Rule()
TEXT = Rule(nonempty=True)
BOOL = Rule(choices=(False, True))
SEED = Rule(lo=0, hi=SEED_MAX)
POSITIVE_INT = Rule(lo=1)
COUNT = Rule(lo=0)  # 0 allowed: "none" / "all" / "off" as documented on the key
POSITIVE = Rule(lo=0, lo_open=True)
NON_NEGATIVE = Rule(lo=0)
RATIO = Rule(lo=0, hi=1, hi_open=True)
FRACTION = Rule(lo=0, hi=1)
SCHEDULES = Rule(choices=("constant", "cosine"))
MAX_LOOKAHEAD = 20  # epochs (10 min): a decision that late is no longer "online"
RECIPE_NAMES = ("sleepedge", "paper")  # compress.recipes.RECIPES (that module imports torch; a test keeps them equal)

RULES: dict[str, Rule] = {
    "name": TEXT,
    "data.dataset": Rule(choices=("sleep-edf", "synthetic")),
    "data.data_dir": ANY,
    "data.cache_dir": ANY,
    "data.channel": TEXT,
    "data.subjects": Rule(lo=0, hi=SLEEP_EDF_SUBJECTS - 1, nonempty=True, unique=True),
    "data.sfreq": POSITIVE,
    "data.trim_wake_min": NON_NEGATIVE,
    "data.seq_len": POSITIVE_INT,
    "data.val_subjects": POSITIVE_INT,
    "data.test_subjects": POSITIVE_INT,
    "data.fold": Rule(lo=-1, what=">= -1 (-1 = no k-fold split)"),
    "data.n_folds": Rule(lo=2),
    "data.split_seed": SEED,
    "data.synthetic_subjects": POSITIVE_INT,
    "data.synthetic_hours": Rule(lo=0, hi=24, what="0 (sleep-period lengths drawn from real nights) or hours up to 24"),
    "data.synthetic_seed": SEED,
    "data.resample": BOOL,
    "data.synthetic_single_night": Rule(lo=0, unique=True, what="subject numbers >= 0, each below data.synthetic_subjects"),
    "model.arch": Rule(choices=_arch_names),
    "train.epochs": POSITIVE_INT,
    "train.batch_size": POSITIVE_INT,
    "train.lr": POSITIVE,
    "train.weight_decay": NON_NEGATIVE,
    "train.grad_clip": Rule(lo=0, what=">= 0 (0 = no clipping)"),
    "train.patience": Rule(lo=0, what=">= 0 (0 = no early stopping)"),
    "train.class_weights": Rule(choices=("none", "inverse", "inverse_sqrt")),
    "train.device": Rule(pattern=r"auto|cpu|mps|cuda(:\d+)?", what="auto, cpu, mps, cuda or cuda:N"),
    "train.seed": SEED,
    "train.threads": Rule(lo=0, what=">= 0 (0 = torch's default)"),
    "train.max_minutes": Rule(lo=0, what=">= 0 (0 = no limit)"),
    "train.dropout": RATIO,
    "train.schedule": SCHEDULES,
    "train.warmup": RATIO,
    "train.amp": BOOL,
    "train.gpu_batch_size": Rule(lo=0, what=">= 0 (0 = train.batch_size)"),
    "train.gpu_lr_scaling": Rule(choices=("none", "sqrt", "linear")),  # train/accelerate.py LR_SCALINGS (a test keeps them equal)
    "compress.recipe": Rule(choices=RECIPE_NAMES),
    "compress.importance": Rule(choices=("auto", "l1", "bn_l1", "taylor")),
    "compress.distill_alpha": FRACTION,
    "compress.distill_temperature": POSITIVE,
    "compress.schedule": Rule(choices=("auto", *SCHEDULES.choices)),
    "compress.finetune_patience": Rule(lo=0, what=">= 0 (0 = all planned epochs, last one kept)"),
    "compress.epochs_per_removed": Rule(lo=0, what=">= 0 (0 = the fixed per-stage epochs)"),
    "compress.finetune_dropout": Rule(lo=-1, hi=1, hi_open=True, what="-1 (the architecture's own) or a rate in [0, 1)"),
    "compress.compare_recipes": Rule(choices=RECIPE_NAMES, unique=True),
    "compress.taylor_batches": POSITIVE_INT,
    "compress.stage1_step": Rule(lo=0, lo_open=True, hi=1, hi_open=True),
    "compress.stage1_max": RATIO,
    "compress.stage1_finetune_epochs": COUNT,
    "compress.stage2_from": Rule(lo=0, hi=1, hi_open=True, unique=True),
    "compress.hidden_step": POSITIVE_INT,
    "compress.hidden_floor": POSITIVE_INT,
    "compress.hidden_extra": Rule(lo=1, unique=True),
    "compress.stage2_finetune_epochs": COUNT,
    "compress.margin_points": Rule(lo=0, hi=100),
    "compress.min_accuracy": FRACTION,
    "compress.finetune_lr": POSITIVE,
    "compress.keep_pruned_if_better": BOOL,
    "compress.causal_lookaheads": Rule(lo=0, hi=MAX_LOOKAHEAD, unique=True,
                                       what=f"distinct look-aheads in epochs, 0 to {MAX_LOOKAHEAD} ([] = no causal head)"),
    "compress.causal_hidden": Rule(lo=0, what=">= 0 (0 = the selected model's hidden size)"),
    "compress.causal_epochs": POSITIVE_INT,
    "compress.causal_lr": POSITIVE,
    "compress.causal_chunk": POSITIVE_INT,
    "compress.causal_distill_alpha": FRACTION,
    "compress.causal_temperature": POSITIVE,
    "compress.causal_margin_points": Rule(lo=0, hi=100),
    "compress.causal_cell_bound": Rule(lo=0, hi=1e6),
    "compress.causal_cell_penalty": Rule(lo=0, hi=1e6),
    "export.formats": Rule(choices=_export_formats, nonempty=True, unique=True),
    "export.opset": Rule(lo=11, hi=21),
    "export.parity_tol": POSITIVE,
    "export.calib_sequences": POSITIVE_INT,
    "export.test_sequences": Rule(lo=0, what=">= 0 (0 = every test sequence)"),
    "export.tflm": BOOL,
    "export.timeout_s": POSITIVE_INT,
    "export.tflite_parity_tol": POSITIVE,
    "export.calib_seed": SEED,
    "export.tflm_max_arena": Rule(lo=1024),
    "export.c_array": BOOL,
    "export.int8_attempts": POSITIVE_INT,
    "export.calib_clip_percentile": Rule(lo=0, lo_open=True, hi=100, what="in (0, 100] (100 = the data's own min/max)"),
    "export.reference_arch": Rule(choices=lambda: ("", *_arch_names()), what="an architecture preset or \"\" (no yardstick)"),
    "export.reference_formats": Rule(choices=_window_formats, unique=True),  # [] = no yardstick
    "export.reference_seed": SEED,
    "export.reference_test_sequences": Rule(lo=0, what=">= 0 (0 = every test sequence)"),
    "export.model_card": BOOL,
    "bench.threads": POSITIVE_INT,
    "bench.xnnpack": BOOL,
    "bench.warmup": COUNT,
    "bench.min_time_s": NON_NEGATIVE,
    "bench.min_runs": POSITIVE_INT,
    "bench.rounds": POSITIVE_INT,
    "bench.runtimes": Rule(choices=_bench_runtimes, nonempty=True, unique=True),
    "bench.reference": Rule(pattern=r"[^/\s]+/[^/\s]+/[^/\s]+(/[^/\s]+)?", what="model/format/runtime[/xnnpack]"),
    "bench.test_sequences": Rule(lo=0, what=">= 0 (0 = every test sequence)"),
    "bench.interleave": BOOL,
    "bench.worker_timeout_s": POSITIVE,
    "bench.yardstick": Rule(pattern=r"([^/\s]+/[^/\s]+/[^/\s]+(/[^/\s]+)?)?", what="model/format/runtime[/xnnpack] or \"\" (none)"),
    "check.budget": ANY,
    "check.preset": TEXT,
}


def check_key(key: str, value: Any) -> None:
    """Apply ``RULES[key]``; :class:`RuleError` says what is wrong (a key without a rule is a bug)."""
    RULES[key].check(value)


def _n_subjects(cfg: Any) -> int:
    d = cfg.data
    return d.synthetic_subjects if d.dataset == "synthetic" else len(set(d.subjects))


def cross_key_problems(cfg: Any) -> list[str]:
    """Problems that involve several keys, whatever the command (each message names the keys)."""
    d, c = cfg.data, cfg.compress
    out = []
    if d.fold >= 0 and d.fold >= d.n_folds:
        out.append(f"data.fold = {d.fold}: must be < data.n_folds = {d.n_folds}")
    if d.dataset == "synthetic":
        beyond = [s for s in d.synthetic_single_night if s >= d.synthetic_subjects]
        if beyond:
            out.append(f"data.synthetic_single_night {beyond}: no such subject among data.synthetic_subjects = "
                       f"{d.synthetic_subjects} (0 .. {d.synthetic_subjects - 1})")
    bad = [r for r in c.stage2_from if r > c.stage1_max + 1e-9]
    if bad:
        out.append(f"compress.stage2_from {bad}: above compress.stage1_max = {c.stage1_max}")
    from sleepedge.models.presets import ARCH_PRESETS  # no torch

    arch = ARCH_PRESETS.get(cfg.model.arch)
    if arch is not None and c.causal_hidden > arch.lstm_hidden:
        out.append(f"compress.causal_hidden = {c.causal_hidden}: above the LSTM hidden size of model.arch = "
                   f"{cfg.model.arch!r} ({arch.lstm_hidden}); a causal head can only keep or shrink it")
    if arch is not None and abs(d.sfreq * EPOCH_SECONDS - arch.epoch_samples) > 1e-6:
        out.append(f"data.sfreq = {d.sfreq:g}: model.arch = {cfg.model.arch!r} takes {arch.epoch_samples} samples per "
                   f"{EPOCH_SECONDS}-s epoch, i.e. {arch.epoch_samples / EPOCH_SECONDS:g} Hz (use data.resample = true "
                   "to resample a recording made at another rate)")
    return out


def split_problems(cfg: Any) -> list[str]:
    """Problems of the subject split, for the commands that split (train, pipeline) before any work."""
    d = cfg.data
    n = _n_subjects(cfg)
    where = "data.synthetic_subjects" if d.dataset == "synthetic" else "data.subjects"
    if d.fold < 0 and d.val_subjects + d.test_subjects >= n:
        return [f"data.val_subjects + data.test_subjects = {d.val_subjects + d.test_subjects} leaves no "
                f"training subject of the {n} in {where}"]
    if d.fold >= 0 and d.n_folds > n:
        return [f"data.n_folds = {d.n_folds}: more folds than the {n} subjects in {where}"]
    if d.fold >= 0 and d.val_subjects >= n - n // d.n_folds:
        return [f"data.val_subjects = {d.val_subjects}: leaves no training subject after the test fold"]
    return []
