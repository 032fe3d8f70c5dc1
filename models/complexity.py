"""Parameter and multiply-accumulate counts computed from an architecture (no torch needed).

The formulas mirror :class:`sleepedge.models.deepsleepnet.DeepSleepNet` exactly; a test checks the
parameter formula against ``sum(p.numel())`` of a built model.
"""
from __future__ import annotations

from sleepedge.models.arch import BranchArch, DeepSleepNetArch


def _branch_params(b: BranchArch) -> int:
    n, c_in = 0, 1
    for i, c in enumerate(b.channels):
        k = b.first_kernel if i == 0 else b.kernel
        n += c * c_in * k + 2 * c  # conv (no bias: batch norm follows) + BN weight and bias
        c_in = c
    return n


def _branch_macs(b: BranchArch, epoch_samples: int) -> int:
    n, c_in = 0, 1
    for i, (c, length) in enumerate(zip(b.channels, b.lengths(epoch_samples))):
        k = b.first_kernel if i == 0 else b.kernel
        n += c * c_in * k * length
        c_in = c
    return n


def _lstm_params(a: DeepSleepNetArch) -> int:
    n, inp, h, d = 0, a.cnn_features, a.lstm_hidden, a.directions
    for _ in range(a.lstm_layers):
        n += d * (4 * h * (inp + h) + 8 * h)  # per direction; PyTorch keeps b_ih and b_hh
        inp = d * h
    return n


def _lstm_macs(a: DeepSleepNetArch) -> int:
    n, inp, h, d = 0, a.cnn_features, a.lstm_hidden, a.directions
    for _ in range(a.lstm_layers):
        n += d * 4 * h * (inp + h)
        inp = d * h
    return n


def param_breakdown(a: DeepSleepNetArch) -> dict[str, int]:
    """Trainable parameters by part: ``cnn``, ``lstm``, ``shortcut``, ``head`` and ``total``."""
    parts = {
        "cnn": _branch_params(a.small) + _branch_params(a.large),
        "lstm": _lstm_params(a),
        "shortcut": a.cnn_features * a.shortcut_out + 2 * a.shortcut_out,  # linear (no bias) + BN
        "head": a.shortcut_out * a.n_classes + a.n_classes,
    }
    parts["total"] = sum(parts.values())
    return parts


def count_params(a: DeepSleepNetArch) -> int:
    """Total trainable parameters of the model built from ``a``."""
    return param_breakdown(a)["total"]


def macs_breakdown(a: DeepSleepNetArch) -> dict[str, int]:
    """Multiply-accumulates per 30-s epoch by part (convs, LSTM gates, linear layers; element-wise ops excluded)."""
    parts = {
        "cnn": _branch_macs(a.small, a.epoch_samples) + _branch_macs(a.large, a.epoch_samples),
        "lstm": _lstm_macs(a),
        "shortcut": a.cnn_features * a.shortcut_out,
        "head": a.shortcut_out * a.n_classes,
    }
    parts["total"] = sum(parts.values())
    return parts


def macs_per_epoch(a: DeepSleepNetArch) -> int:
    """Total multiply-accumulates to classify one 30-s epoch."""
    return macs_breakdown(a)["total"]
