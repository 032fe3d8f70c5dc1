"""Channel importance for stage 1: which conv output channels a pruning step keeps.

Three criteria, chosen with ``compress.importance`` (the recipes pick one):

``l1``
    The seed paper's criterion (Li et al. 2017): the L1 norm of the channel's filter,
    ``||W_c||_1``. It ignores the batch norm after the conv, which rescales channel ``c`` by
    ``gamma_c / sqrt(var_c + eps)``: a large filter behind a near-zero BN scale contributes
    nothing, a small filter behind a large scale a lot.
``bn_l1``
    The L1 norm of the filter as batch norm folds it into the conv at inference:
    ``||W_c||_1 * |gamma_c| / sqrt(var_c + eps)``. Free to compute, like ``l1``.
``taylor``
    First-order Taylor estimate of the loss change when the channel is removed (Molchanov et al.
    2019, "Importance Estimation for Neural Network Pruning", on the batch-norm parameters):
    ``sum over batches (gamma_c * dL/dgamma_c + beta_c * dL/dbeta_c)^2``, with the model in eval mode
    (running statistics, no dropout) on training batches.

Each returns ``{"small": [scores of conv 0, conv 1, ...], "large": [...]}`` like
:func:`sleepedge.compress.channels.channel_scores`.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from sleepedge.models import DeepSleepNet

from sleepedge.compress.channels import BRANCHES, channel_scores

CRITERIA = ("l1", "bn_l1", "taylor")


def bn_l1_scores(model: DeepSleepNet) -> dict[str, list[torch.Tensor]]:
    """``||W_c||_1 * |gamma_c| / sqrt(running_var_c + eps)`` per channel."""
    l1 = channel_scores(model)
    out = {}
    for b in BRANCHES:
        scores = []
        for s, blk in zip(l1[b], getattr(model, b).blocks):
            bn = blk.bn
            scores.append(s * bn.weight.detach().abs() / torch.sqrt(bn.running_var.detach() + bn.eps))
        out[b] = scores
    return out


def taylor_scores(model: DeepSleepNet, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                  loss_fn: nn.Module | None = None) -> dict[str, list[torch.Tensor]]:
    """Summed squared first-order Taylor terms of every conv block's batch norm (see module docstring).

    ``batches`` yields ``(x, y)`` with x ``(B, T, 1, samples)`` and y ``(B, T)``; the model's own device is used.
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    dev = next(model.parameters()).device
    bns = {b: [blk.bn for blk in getattr(model, b).blocks] for b in BRANCHES}
    acc = {b: [torch.zeros_like(bn.weight) for bn in bns[b]] for b in BRANCHES}
    was_training = model.training
    model.eval()
    n = 0
    for x, y in batches:
        model.zero_grad(set_to_none=True)
        logits = model(x.to(dev))
        loss_fn(logits.reshape(-1, logits.shape[-1]), y.to(dev).reshape(-1)).backward()
        for b in BRANCHES:
            for i, bn in enumerate(bns[b]):
                acc[b][i] += (bn.weight.detach() * bn.weight.grad + bn.bias.detach() * bn.bias.grad) ** 2
        n += 1
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    if n == 0:
        raise ValueError("taylor importance needs at least one training batch")
    return {b: [a.cpu() for a in acc[b]] for b in BRANCHES}


def importance_scores(model: DeepSleepNet, criterion: str,
                      batches: Iterable[tuple[torch.Tensor, torch.Tensor]] | None = None) -> dict[str, list[torch.Tensor]]:
    """Scores of every conv channel under ``criterion`` (``l1``, ``bn_l1`` or ``taylor``)."""
    if criterion == "l1":
        return channel_scores(model)
    if criterion == "bn_l1":
        return bn_l1_scores(model)
    if criterion == "taylor":
        if batches is None:
            raise ValueError("taylor importance needs training batches")
        return taylor_scores(model, batches)
    raise ValueError(f"unknown channel importance {criterion!r} (known: {', '.join(CRITERIA)})")
