"""Channel importance: a constructed model where the batch-norm scale reverses the L1 ranking."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from sleepedge.compress.channels import prune_to, pruned_arch
from sleepedge.compress.importance import importance_scores
from sleepedge.models import DeepSleepNet, get_arch


def _model_where_bn_reverses_l1() -> DeepSleepNet:
    """Tiny DeepSleepNet; in the last conv of each branch, channel 0 has the SMALLEST filter but a large BN
    scale, and channel 1 the LARGEST filter behind a BN scale of ~0 (it contributes nothing)."""
    torch.manual_seed(0)
    m = DeepSleepNet(get_arch("tiny")).eval()
    with torch.no_grad():
        for b in (m.small, m.large):
            blk = b.blocks[-1]
            blk.conv.weight[0] *= 0.05 / blk.conv.weight[0].abs().mean()
            blk.conv.weight[1] *= 5.0 / blk.conv.weight[1].abs().mean()
            blk.bn.weight[0], blk.bn.weight[1] = 50.0, 1e-4
            blk.bn.bias[1] = 0.0
    return m


def _output_change_when_removed(m: DeepSleepNet, x: torch.Tensor, channel: int) -> float:
    """How much the logits move when ``channel`` of each branch's last conv is zeroed (its true importance)."""
    m2 = DeepSleepNet(m.arch).eval()
    m2.load_state_dict(m.state_dict())
    with torch.no_grad():
        for b in (m2.small, m2.large):
            b.blocks[-1].bn.weight[channel], b.blocks[-1].bn.bias[channel] = 0.0, 0.0
        return float((m2(x) - m(x)).abs().mean())


def test_bn_aware_criteria_rank_the_channel_that_matters():
    m = _model_where_bn_reverses_l1()
    x = torch.randn(4, 5, 1, 3000) * 30
    y = torch.randint(0, 5, (4, 5))
    truth_0, truth_1 = _output_change_when_removed(m, x, 0), _output_change_when_removed(m, x, 1)
    assert truth_0 > 10 * truth_1  # channel 0 matters, channel 1 does not
    l1 = importance_scores(m, "l1")
    assert l1["small"][-1][1] > l1["small"][-1][0]  # plain L1 would keep the useless channel
    for crit in ("bn_l1", "taylor"):
        s = importance_scores(m, crit, batches=[(x, y)])
        for b in ("small", "large"):
            assert s[b][-1][0] > s[b][-1][1], (crit, b)


def test_pruning_with_bn_l1_keeps_the_channel_that_matters():
    m = _model_where_bn_reverses_l1()
    target = dataclasses.replace(pruned_arch(m.arch, 0.0), small=dataclasses.replace(m.arch.small, channels=(8, 8, 8, 1)),
                                 large=dataclasses.replace(m.arch.large, channels=(8, 8, 8, 1)))
    kept = prune_to(m, target, importance_scores(m, "bn_l1"))
    assert torch.allclose(kept.small.blocks[-1].bn.weight, torch.tensor([50.0]))
    assert torch.allclose(prune_to(m, target).small.blocks[-1].bn.weight, torch.tensor([1e-4]))  # L1 keeps the wrong one


def test_unknown_criterion_and_taylor_without_batches_are_refused():
    m = DeepSleepNet(get_arch("tiny"))
    with pytest.raises(ValueError, match="unknown"):
        importance_scores(m, "l2")
    with pytest.raises(ValueError, match="batches"):
        importance_scores(m, "taylor")
