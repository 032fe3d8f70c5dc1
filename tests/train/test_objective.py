"""Distillation loss (value and gradient on a hand-made case) and learning-rate schedules."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sleepedge.train.objective import Criterion, Objective, Schedule, distillation_loss


def test_distillation_value_by_hand():
    """One epoch, two classes, T = 2: student logits (0, 0), teacher (2, 0), label 0, alpha 0.5.

    hard = -log(1/2); teacher soft targets q = softmax((1, 0)) = (e/(1+e), 1/(1+e)); student p = (1/2, 1/2);
    KL(q||p) = sum q log(q / p); loss = 0.5 * hard + 0.5 * T^2 * KL.
    """
    s, t, y = torch.zeros(1, 2), torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    q = np.array([math.e / (1 + math.e), 1 / (1 + math.e)])
    kl = float(np.sum(q * np.log(q / 0.5)))
    expected = 0.5 * math.log(2) + 0.5 * 4 * kl
    assert float(distillation_loss(s, t, y, 0.5, 2.0)) == pytest.approx(expected, rel=1e-6)


def test_distillation_gradient_by_hand():
    """d loss / d student logits = (1 - a) (p - onehot) + a * T * (p_T - q_T) (Hinton et al. 2015)."""
    s = torch.tensor([[0.5, -0.2, 0.1]], requires_grad=True)
    t, y, a, temp = torch.tensor([[1.0, 0.3, -1.0]]), torch.tensor([2]), 0.7, 3.0
    distillation_loss(s, t, y, a, temp).backward()
    p = torch.softmax(s.detach(), -1)
    p_t, q_t = torch.softmax(s.detach() / temp, -1), torch.softmax(t / temp, -1)
    expected = (1 - a) * (p - torch.nn.functional.one_hot(y, 3)) + a * temp * (p_t - q_t)
    assert torch.allclose(s.grad, expected, atol=1e-6)


def test_alpha_zero_is_plain_cross_entropy_and_teacher_is_required_when_distilling():
    s, t, y = torch.randn(4, 5), torch.randn(4, 5), torch.tensor([0, 1, 2, 3])
    assert torch.equal(distillation_loss(s, t, y, 0.0, 4.0), torch.nn.functional.cross_entropy(s, y))
    with pytest.raises(ValueError, match="teacher"):
        Criterion(Objective(0.5, 2.0), None)(s, y, None)
    with pytest.raises(ValueError):
        Objective(1.5, 2.0)


def test_cosine_schedule_warms_up_and_decays():
    sch = Schedule("cosine", warmup=0.1, floor=0.0)
    f = [sch.factor(i, 100) for i in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0) and f[10] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:])) and f[-1] < 0.01
    assert Schedule().factor(57, 100) == 1.0
    with pytest.raises(ValueError):
        Schedule("linear")
