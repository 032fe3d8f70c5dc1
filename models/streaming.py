"""DeepSleepNet split for a wearable: a per-epoch feature model and a sequence head over cached features.

A device that receives one 30-s epoch every 30 s runs :class:`EpochFeatures` once per epoch (CNN
features of that epoch only), keeps the features of the last ``L`` epochs in a ring buffer, and runs
:class:`SequenceHead` on them (BiLSTM + shortcut + classifier) for a decision. Both modules share the
weights of the :class:`~sleepedge.models.deepsleepnet.DeepSleepNet` they are made from, so on a full
window the pair computes exactly what the window model computes (the CNN is per epoch).

Tensor layouts keep the window model's ``(batch, seq, 1, length)`` convention, so both parts take a
4-D input whose third axis is 1 (what the export's calibration and onnx2tf's ``-kat`` expect):

* features: ``(1, 1, 1, epoch_samples)`` -> ``(1, cnn_features)``
* head: ``(1, L, 1, cnn_features)`` -> ``(1, L, n_classes)``
"""
from __future__ import annotations

import torch
from torch import nn

from sleepedge.models.deepsleepnet import DeepSleepNet


class EpochFeatures(nn.Module):
    """CNN features of one epoch (both branches, concatenated channel-major as in the window model)."""

    def __init__(self, model: DeepSleepNet):
        super().__init__()
        self.arch = model.arch
        self.small, self.large = model.small, model.large

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, 1, x.shape[-1])
        return torch.cat([self.small(flat), self.large(flat)], dim=1)


class SequenceHead(nn.Module):
    """BiLSTM + shortcut + classifier over the cached features of ``L`` epochs."""

    def __init__(self, model: DeepSleepNet):
        super().__init__()
        self.arch = model.arch
        self.model = model  # DeepSleepNet.sequence does the work; only its LSTM/shortcut/head weights are used

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.model.sequence(f.reshape(f.shape[0], f.shape[1], f.shape[-1]))


def split_model(model: DeepSleepNet) -> tuple[EpochFeatures, SequenceHead]:
    """The streaming pair of ``model`` (eval mode; weights shared, not copied)."""
    model.eval()
    return EpochFeatures(model).eval(), SequenceHead(model).eval()
