"""Compression recipes: how each step picks channels and how its fine-tune recovers.

``paper``
    The seed paper's method exactly: L1 filter norm, stage-1 steps of 5 % of the original widths,
    plain fine-tuning with AdamW at a constant 1e-4 for the preset's fixed number of epochs, the
    last epoch's weights kept.
``sleepedge`` (the default)
    The toolkit's own: channels ranked by a batch-norm-aware importance, every fine-tune distilled
    from the uncompressed baseline (soft targets at a temperature plus the hard labels), a learning
    rate that warms up and decays along a cosine, epochs sized to how much the step removed, early
    stopping on validation macro-F1 with the best epoch kept. The docs' ablation table
    (``python -m sleepedge.lab.ablation``) gives each ingredient's contribution.

Every ingredient can be overridden on its own (``--set compress.importance=l1`` ...); ``auto`` keeps
the recipe's value. :func:`resolve` returns the effective settings that a sweep records.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from sleepedge.config.settings import CompressConfig, ConfigError

from sleepedge.compress.importance import CRITERIA

PAPER_LR = 1e-4  # the seed paper's AdamW learning rate
PAPER_STAGE1_STEP = 0.05


@dataclass(frozen=True)
class Recipe:
    """The effective method of a sweep (see the module docstring)."""

    name: str
    importance: str
    distill_alpha: float
    distill_temperature: float
    schedule: str  # constant | cosine
    warmup: float  # share of a fine-tune's optimiser steps spent warming up (cosine only)
    finetune_patience: int  # early stop after this many epochs without a better val macro-F1, best epoch kept; 0 = all epochs, last kept
    epochs_per_removed: float  # fine-tune epochs per 100 % of the parent's MACs or parameters removed; 0 = fixed
    lr: float
    stage1_step: float
    keep_pruned_if_better: bool
    dropout: float | None = None  # dropout rate during fine-tunes (None = the architecture's own, 0.5 for DeepSleepNet)

    @property
    def keep_best(self) -> bool:
        """Early stopping on validation keeps the best epoch; without it the fine-tune keeps its last epoch."""
        return self.finetune_patience > 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "keep_best": self.keep_best}

    def finetune_epochs(self, fixed: int, removed: float) -> int:
        """Epochs of one fine-tune: ``fixed`` (the stage's setting), or sized to the step: ``removed`` is the
        larger of the shares of the parent's MACs and of its parameters that the step removes (stage 1
        mostly removes MACs, stage 2 mostly parameters).

        Sized: ``ceil(epochs_per_removed * removed)``, at least 1 and at most ``2 * fixed``.
        """
        if self.epochs_per_removed <= 0 or fixed <= 0:
            return fixed
        return int(min(2 * fixed, max(1, math.ceil(self.epochs_per_removed * max(removed, 0.0) - 1e-9))))


PAPER = Recipe("paper", importance="l1", distill_alpha=0.0, distill_temperature=1.0, schedule="constant", warmup=0.0,
               finetune_patience=0, epochs_per_removed=0.0, lr=PAPER_LR,
               stage1_step=PAPER_STAGE1_STEP, keep_pruned_if_better=False, dropout=None)
SLEEPEDGE = Recipe("sleepedge", importance="bn_l1", distill_alpha=0.5, distill_temperature=2.0, schedule="cosine",
                   warmup=0.1, finetune_patience=3, epochs_per_removed=20.0, lr=math.nan,
                   stage1_step=math.nan, keep_pruned_if_better=True, dropout=0.1)
RECIPES: dict[str, Recipe] = {r.name: r for r in (SLEEPEDGE, PAPER)}


def _override(value: Any, default: Any) -> Any:
    return default if value is None or value == "auto" else value


def resolve(c: CompressConfig, name: str | None = None) -> Recipe:
    """The effective recipe ``name`` (default ``c.recipe``) with the config's ingredient overrides.

    Overrides (``importance``, ``distill_*``, ``schedule``, ``finetune_patience``, ``epochs_per_removed``)
    apply to the sweep's own recipe only; a comparison recipe (``name`` given) runs as defined, on the
    same grid settings. The sleepedge recipe takes its learning rate and stage-1 step from
    ``compress.finetune_lr`` / ``compress.stage1_step`` and ``keep_pruned_if_better`` from the config.
    """
    own = name is None or name == c.recipe
    name = c.recipe if name is None else name
    if name not in RECIPES:
        raise ConfigError(f"compress.recipe: unknown recipe {name!r} (known: {', '.join(RECIPES)})")
    r = RECIPES[name]
    if name == "sleepedge":
        r = replace(r, lr=c.finetune_lr, stage1_step=c.stage1_step, keep_pruned_if_better=c.keep_pruned_if_better)
    if own:
        r = replace(r, importance=_override(c.importance, r.importance),
                    distill_alpha=_override(c.distill_alpha, r.distill_alpha),
                    distill_temperature=_override(c.distill_temperature, r.distill_temperature),
                    schedule=_override(c.schedule, r.schedule),
                    finetune_patience=_override(c.finetune_patience, r.finetune_patience),
                    dropout=r.dropout if c.finetune_dropout is None else (None if c.finetune_dropout < 0 else c.finetune_dropout),
                    epochs_per_removed=_override(c.epochs_per_removed, r.epochs_per_removed))
    check(r)
    return r


def check(r: Recipe) -> None:
    """``ConfigError`` naming the ingredient that is out of range."""
    if r.importance not in CRITERIA:
        raise ConfigError(f"compress.importance: unknown criterion {r.importance!r} (known: {', '.join(CRITERIA)})")
    if not 0.0 <= r.distill_alpha <= 1.0:
        raise ConfigError(f"compress.distill_alpha must be in [0, 1], got {r.distill_alpha}")
    if not (r.distill_temperature > 0 and math.isfinite(r.distill_temperature)):
        raise ConfigError(f"compress.distill_temperature must be a positive number, got {r.distill_temperature}")
    if r.schedule not in ("constant", "cosine"):
        raise ConfigError(f"compress.schedule: unknown schedule {r.schedule!r} (constant, cosine)")
    if r.finetune_patience < 0 or r.epochs_per_removed < 0:
        raise ConfigError("compress.finetune_patience and compress.epochs_per_removed must be >= 0")
    if r.dropout is not None and not 0.0 <= r.dropout < 1.0:
        raise ConfigError(f"compress.finetune_dropout must be in [0, 1) (or -1 for the architecture's own), got {r.dropout}")
    if not (r.lr > 0 and math.isfinite(r.lr)):
        raise ConfigError(f"compress.finetune_lr must be a positive number, got {r.lr}")


def comparison_recipes(c: CompressConfig) -> list[str]:
    """Recipes to run beside the sweep's own, in order, without repeats; unknown names are refused."""
    out = []
    for name in c.compare_recipes:
        if name not in RECIPES:
            raise ConfigError(f"compress.compare_recipes: unknown recipe {name!r} (known: {', '.join(RECIPES)})")
        if name != c.recipe and name not in out:
            out.append(name)
    return out
