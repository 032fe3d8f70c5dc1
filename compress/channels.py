"""Stage 1: channel pruning of both CNN branches, done physically (a smaller DeepSleepNet).

Method (Li et al. 2017, "Pruning Filters for Efficient ConvNets", as the compression paper uses it):
every conv layer's output channels are ranked by the L1 norm of their filters
(``conv.weight[c].abs().sum()``; :mod:`.importance` has batch-norm-aware criteria); the lowest-ranked
are removed. Removing channel ``c`` of conv ``i``
removes filter ``c`` of conv ``i``, entry ``c`` of its batch norm (weight, bias, running mean and
variance), input channel ``c`` of conv ``i + 1``, and for the last conv of a branch the ``L_branch``
flattened features ``c * L_branch + p`` that feed ``model.lstm`` (layer-0 ``weight_ih`` of both
directions) and ``model.shortcut``.

Written by hand rather than with Torch-Pruning: the branch output is flattened channel-major and fans
out to a two-direction LSTM input and a linear shortcut (one channel = ``L_branch`` columns in three
matrices), which a dependency-graph pruner would have to be taught anyway, and Torch-Pruning is not
installed (its LSTM pruner asserts a single layer, so stage 2 is hand-written regardless). Building a
new ``DeepSleepNet(arch)`` and loading sliced tensors with ``strict=True`` makes a wrong shape fail loudly.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from sleepedge.models import DeepSleepNet, DeepSleepNetArch

BRANCHES = ("small", "large")


def keep_count(ratio: float, original: int) -> int:
    """Channels a layer of ``original`` channels keeps at cumulative pruning ``ratio``.

    ``round((1 - ratio) * original)`` with halves rounded up (not Python's banker's rounding), at least 1.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"pruning ratio must be in [0, 1), got {ratio}")
    return max(1, int(math.floor((1.0 - ratio) * original + 0.5 + 1e-9)))


def pruned_arch(base: DeepSleepNetArch, ratio: float) -> DeepSleepNetArch:
    """The architecture stage 1 reaches at ``ratio``: every conv layer keeps ``keep_count(ratio, C0)``."""
    return base.with_widths(
        small_channels=tuple(keep_count(ratio, c) for c in base.small.channels),
        large_channels=tuple(keep_count(ratio, c) for c in base.large.channels),
    )


def channel_scores(model: DeepSleepNet) -> dict[str, list[torch.Tensor]]:
    """L1 norm of every filter: ``{"small": [scores of conv 0, conv 1, ...], "large": [...]}``."""
    return {
        b: [blk.conv.weight.detach().abs().sum(dim=(1, 2)) for blk in getattr(model, b).blocks]
        for b in BRANCHES
    }


def top_indices(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` largest scores, in ascending index order (ties: lower index wins)."""
    order = torch.argsort(scores, descending=True, stable=True)[:k]
    return torch.sort(order).values


def feature_index(arch: DeepSleepNetArch, keep_small: torch.Tensor, keep_large: torch.Tensor) -> torch.Tensor:
    """Columns of the CNN feature vector that survive when the branches' last convs keep these channels.

    Features are channel-major per branch (``c * L_branch + p``); the large branch starts at
    ``arch.small.out_features``.
    """
    n = arch.epoch_samples
    parts = []
    for keep, branch, offset in ((keep_small, arch.small, 0), (keep_large, arch.large, arch.small.out_features(n))):
        length = branch.out_len(n)
        pos = torch.arange(length)
        parts.append((offset + keep[:, None] * length + pos[None, :]).reshape(-1))
    return torch.cat(parts)


def prune_channels(model: DeepSleepNet, keep: dict[str, Sequence[torch.Tensor]]) -> DeepSleepNet:
    """A new, smaller DeepSleepNet keeping channels ``keep[branch][layer]`` (index tensors) of ``model``.

    Returns the new model in eval mode; ``model`` is left unchanged.
    """
    arch = model.arch
    new_arch = arch.with_widths(
        small_channels=tuple(len(k) for k in keep["small"]), large_channels=tuple(len(k) for k in keep["large"])
    )
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for b in BRANCHES:
        idx = [torch.as_tensor(k, dtype=torch.long) for k in keep[b]]
        if len(idx) != len(getattr(arch, b).channels):
            raise ValueError(f"branch {b}: {len(idx)} index sets for {len(getattr(arch, b).channels)} conv layers")
        for i, k in enumerate(idx):
            p = f"{b}.blocks.{i}."
            w = sd[p + "conv.weight"].index_select(0, k)
            sd[p + "conv.weight"] = w.index_select(1, idx[i - 1]) if i > 0 else w
            for name in ("weight", "bias", "running_mean", "running_var"):
                sd[p + "bn." + name] = sd[p + "bn." + name].index_select(0, k)
    feats = feature_index(arch, torch.as_tensor(keep["small"][-1]), torch.as_tensor(keep["large"][-1]))
    for name in ("lstm.weight_ih_l0", "lstm.weight_ih_l0_reverse", "shortcut.weight"):
        sd[name] = sd[name].index_select(1, feats)
    new = DeepSleepNet(new_arch)
    new.load_state_dict(sd, strict=True)
    return new.eval()


def prune_to(model: DeepSleepNet, target: DeepSleepNetArch,
             scores: dict[str, list[torch.Tensor]] | None = None) -> DeepSleepNet:
    """Prune ``model``'s conv layers to ``target``'s channel counts, keeping the highest-scoring channels.

    ``scores`` default to the filters' L1 norms (:func:`channel_scores`); :mod:`.importance` has others.
    """
    scores = channel_scores(model) if scores is None else scores
    keep = {}
    for b in BRANCHES:
        have, want = getattr(model.arch, b).channels, getattr(target, b).channels
        if len(have) != len(want) or any(w > h for w, h in zip(want, have)):
            raise ValueError(f"branch {b}: cannot prune channels {have} to {want}")
        keep[b] = [top_indices(s, w) for s, w in zip(scores[b], want)]
    return prune_channels(model, keep)
