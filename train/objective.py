"""What a fine-tune minimises, and how its learning rate moves: hard labels, distillation, schedules.

Knowledge distillation (Hinton, Vinyals, Dean 2015): the compressed student learns from the
uncompressed teacher's softened outputs as well as from the labels::

    loss = (1 - alpha) * CE_w(labels, student) + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))

``CE_w`` is the class-weighted cross-entropy of plain training; ``T^2`` keeps the soft term's gradient
on the scale of the hard term's as ``T`` grows. The teacher's logits are computed once per fine-tune
(the teacher is fixed and runs in eval mode, so they do not change between epochs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class Objective:
    """Loss of a fine-tune: ``distill_alpha`` = 0 is plain cross-entropy on the labels."""

    distill_alpha: float = 0.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.distill_alpha <= 1.0:
            raise ValueError(f"distill_alpha must be in [0, 1], got {self.distill_alpha}")
        if not self.temperature > 0 or not math.isfinite(self.temperature):
            raise ValueError(f"temperature must be a positive number, got {self.temperature}")

    @property
    def distills(self) -> bool:
        return self.distill_alpha > 0


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, alpha: float,
                      temperature: float, weight: torch.Tensor | None = None) -> torch.Tensor:
    """The distillation objective above, averaged over epochs.

    Parameters
    ----------
    student, teacher : (N, classes) logits (the teacher's are constants).
    labels : (N,) int64 stages.
    alpha : weight of the soft-target term in [0, 1].
    temperature : softening temperature T > 0.
    weight : optional per-class weights of the hard cross-entropy.
    """
    hard = F.cross_entropy(student, labels, weight=weight)
    if alpha == 0:
        return hard
    t = temperature
    soft = F.kl_div(F.log_softmax(student / t, dim=-1), F.log_softmax(teacher / t, dim=-1), log_target=True,
                    reduction="batchmean") * t * t
    return (1 - alpha) * hard + alpha * soft


class Criterion(nn.Module):
    """``criterion(logits, labels, teacher_logits)`` for flattened (N, classes) batches."""

    def __init__(self, objective: Objective, weight: torch.Tensor | None):
        super().__init__()
        self.objective = objective
        self.weight = weight

    def forward(self, logits: torch.Tensor, labels: torch.Tensor, teacher: torch.Tensor | None = None) -> torch.Tensor:
        o = self.objective
        if not o.distills:
            return F.cross_entropy(logits, labels, weight=self.weight)
        if teacher is None:
            raise ValueError("a distilling objective needs the teacher's logits")
        return distillation_loss(logits, teacher, labels, o.distill_alpha, o.temperature, self.weight)


@dataclass(frozen=True)
class Schedule:
    """Learning-rate schedule over a fine-tune's optimiser steps.

    ``constant`` keeps the base rate (the seed paper's plain AdamW); ``cosine`` warms up linearly over
    ``warmup`` of the steps, then decays along a half cosine to ``floor`` x the base rate.
    """

    kind: str = "constant"
    warmup: float = 0.0
    floor: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "cosine"):
            raise ValueError(f"unknown schedule {self.kind!r} (constant, cosine)")
        if not 0.0 <= self.warmup < 1.0 or not 0.0 <= self.floor <= 1.0:
            raise ValueError(f"schedule warmup must be in [0, 1) and floor in [0, 1], got {self.warmup}, {self.floor}")

    def factor(self, step: int, total: int) -> float:
        """Multiplier of the base learning rate at optimiser step ``step`` (0-based) of ``total``."""
        if self.kind == "constant" or total <= 0:
            return 1.0
        warm = int(round(self.warmup * total))
        if step < warm:
            return (step + 1) / warm
        progress = min(1.0, (step - warm) / max(1, total - warm))
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))
