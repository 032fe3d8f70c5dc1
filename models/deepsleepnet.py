"""DeepSleepNet (Supratak, Dong, Wu, Guo 2017) in PyTorch, every width taken from an architecture.

Input ``(batch, seq_len, 1, epoch_samples)`` raw single-channel EEG; output logits
``(batch, seq_len, n_classes)``, one per 30-s epoch.

Differences from the paper and its TensorFlow code, on purpose:

* ``torch.nn.LSTM`` has no peephole connections (the paper's LSTM cells use peepholes), and it
  keeps two bias vectors per gate (``b_ih`` and ``b_hh``); the parameter count includes both.
* Training is end to end on sequences (the paper pre-trains the CNN on class-balanced single epochs,
  then fine-tunes the sequence model with two learning rates). The compression method being
  reproduced fine-tunes the whole model with AdamW at 1e-4, so one training procedure serves both.
* The paper resets the LSTM state per subject and runs sequences statefully; here every sequence of
  ``seq_len`` epochs starts from a zero state (what an on-device window of epochs does).
* L2 weight decay on the first conv layers only is replaced by AdamW's decoupled weight decay.
* Batch norm uses PyTorch's default momentum (0.1); the TensorFlow code's slow running averages
  lagged the weights in short CPU runs and made evaluation erratic.
* SAME padding is done with explicit zero pads computed from the static input length. Zero padding
  before a max-pool equals TensorFlow's -inf padding because a ReLU precedes every pool.

Parameter count of the paper configuration (3000-sample epochs), pinned in tests:
24,744,837 = CNN 604,032 + BiLSTM 20,987,904 + shortcut 3,147,776 + head 5,125;
51.6 M multiply-accumulates per 30-s epoch (CNN 27.5 M), as the paper reports.
"""
from __future__ import annotations

import torch
from torch import nn

from sleepedge.models.arch import BranchArch, DeepSleepNetArch, same_pads


class ConvBlock(nn.Module):
    """Zero pad (SAME), 1-D conv without bias, batch norm, ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, length_in: int):
        super().__init__()
        self.pad = nn.ConstantPad1d(same_pads(length_in, kernel, stride), 0.0)
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, bias=False)
        self.bn = nn.BatchNorm1d(c_out, eps=1e-3)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(self.pad(x))))


class SamePool(nn.Module):
    """Max-pool with TensorFlow SAME semantics (zero pads; inputs are non-negative after ReLU)."""

    def __init__(self, kernel: int, length_in: int):
        super().__init__()
        self.pad = nn.ConstantPad1d(same_pads(length_in, kernel, kernel), 0.0)
        self.pool = nn.MaxPool1d(kernel, stride=kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.pad(x))


class Branch(nn.Module):
    """One representation-learning branch. ``blocks[i].conv`` is conv layer i (the pruning targets)."""

    def __init__(self, b: BranchArch, epoch_samples: int, dropout: float):
        super().__init__()
        lengths = b.lengths(epoch_samples)
        blocks = [ConvBlock(1, b.channels[0], b.first_kernel, b.first_stride, epoch_samples)]
        for i in range(1, len(b.channels)):
            blocks.append(ConvBlock(b.channels[i - 1], b.channels[i], b.kernel, 1, lengths[i]))
        self.blocks = nn.ModuleList(blocks)
        self.pool1 = SamePool(b.pool1, lengths[0])
        self.drop = nn.Dropout(dropout)
        self.pool2 = SamePool(b.pool2, lengths[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.pool1(self.blocks[0](x)))
        for block in self.blocks[1:]:
            x = block(x)
        return self.pool2(x).flatten(1)  # channel-major: feature index = channel * length + position


class DeepSleepNet(nn.Module):
    """DeepSleepNet built from a :class:`DeepSleepNetArch` (see the module docstring)."""

    def __init__(self, arch: DeepSleepNetArch):
        super().__init__()
        self.arch = arch
        self.small = Branch(arch.small, arch.epoch_samples, arch.dropout)
        self.large = Branch(arch.large, arch.epoch_samples, arch.dropout)
        self.feat_drop = nn.Dropout(arch.dropout)
        self.lstm = nn.LSTM(
            arch.cnn_features, arch.lstm_hidden, num_layers=arch.lstm_layers,
            batch_first=True, bidirectional=arch.bidirectional, dropout=arch.dropout if arch.lstm_layers > 1 else 0.0,
        )
        self.shortcut = nn.Linear(arch.cnn_features, arch.shortcut_out, bias=False)
        self.shortcut_bn = nn.BatchNorm1d(arch.shortcut_out, eps=1e-3)
        self.out_drop = nn.Dropout(arch.dropout)
        self.head = nn.Linear(arch.shortcut_out, arch.n_classes)

    def set_dropout(self, p: float) -> None:
        """Dropout rate ``p`` in every dropout layer and between the BiLSTM layers.

        A training setting, not an architecture change: ``self.arch`` (and so every exported file, which
        never applies dropout) stays as it is.
        """
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        for m in self.modules():
            if isinstance(m, nn.Dropout):
                m.p = p
        if self.lstm.num_layers > 1:
            self.lstm.dropout = p

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """CNN features of every epoch: ``(batch, seq, 1, samples)`` -> ``(batch, seq, cnn_features)``."""
        b, t = x.shape[0], x.shape[1]
        flat = x.reshape(b * t, 1, x.shape[-1])
        feats = torch.cat([self.small(flat), self.large(flat)], dim=1)
        return self.feat_drop(feats).reshape(b, t, -1)

    def sequence(self, feats: torch.Tensor) -> torch.Tensor:
        """Logits from cached CNN features: ``(batch, seq, cnn_features)`` -> ``(batch, seq, n_classes)``.

        BiLSTM, FC shortcut and classifier: the sequence head of the streaming export
        (:mod:`sleepedge.models.streaming`), which runs on the features of the last epochs. A causal head
        (``arch.bidirectional`` False) runs its LSTM forward from a zero state over the whole input, which is
        what its stateful export does one epoch at a time, and returns each epoch's decision: the output of
        step ``min(t + lookahead, seq - 1)`` (:func:`sleepedge.models.stateful.decision_steps`).
        """
        b, t, f = feats.shape
        seq, _ = self.lstm(feats)
        short = torch.relu(self.shortcut_bn(self.shortcut(feats.reshape(b * t, f)))).reshape(b, t, -1)
        logits = self.head(self.out_drop(seq + short))
        if self.arch.lookahead:
            from sleepedge.models.stateful import decision_steps

            logits = logits[:, torch.from_numpy(decision_steps(t, self.arch.lookahead))]
        return logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sequence(self.features(x))


def build_model(arch: DeepSleepNetArch) -> DeepSleepNet:
    """A freshly initialised model for ``arch``."""
    return DeepSleepNet(arch)
