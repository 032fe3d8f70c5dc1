"""The causal head one epoch at a time: the one-step module of the stateful export, and whole-night decisions.

:class:`CausalStep` is the head of a causal :class:`~sleepedge.models.deepsleepnet.DeepSleepNet`
(``arch.bidirectional`` False) for one epoch, with the LSTM state as explicit tensors::

    features (1, F), h (1, layers, H), c (1, layers, H)  ->  logits (1, C), h_out (1, layers, H), c_out (1, layers, H)

The LSTM is written out gate by gate (fully connected, sigmoid, tanh, multiply, add) instead of calling
``nn.LSTM``: those operators exist in every runtime and every converter, int8 included, and a runtime's
own LSTM kernel may keep (or reset) its state behind the caller's back (TFLite Micro's does), which is
exactly what explicit state avoids. Gate order and the two PyTorch biases follow ``nn.LSTM``. The reset
and look-ahead rules are in :mod:`sleepedge.models.stateful`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from sleepedge.models.deepsleepnet import DeepSleepNet
from sleepedge.models.stateful import run_stateful

STEP_INPUTS = ("features", "h", "c")
STEP_OUTPUTS = ("logits", "h_out", "c_out")


def check_causal(model: DeepSleepNet) -> None:
    """Refuse a bidirectional model where a causal head is needed."""
    if model.arch.bidirectional:
        raise ValueError("a stateful (one step per epoch) head needs a causal model (arch.bidirectional False); "
                         "this one is bidirectional")


class CausalStep(nn.Module):
    """One step of a causal head (see the module docstring); shares the model's weights."""

    def __init__(self, model: DeepSleepNet):
        super().__init__()
        check_causal(model)
        self.arch = model.arch
        self.lstm, self.shortcut, self.shortcut_bn, self.head = model.lstm, model.shortcut, model.shortcut_bn, model.head

    def _cell(self, layer: int, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w_ih, w_hh = getattr(self.lstm, f"weight_ih_l{layer}"), getattr(self.lstm, f"weight_hh_l{layer}")
        bias = getattr(self.lstm, f"bias_ih_l{layer}") + getattr(self.lstm, f"bias_hh_l{layer}")
        gates = x @ w_ih.t() + h @ w_hh.t() + bias
        i, f, g, o = gates.chunk(4, dim=1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new

    def forward(self, features: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        x, hs, cs = features, [], []
        for layer in range(self.arch.lstm_layers):
            x, c_l = self._cell(layer, x, h[:, layer], c[:, layer])
            hs.append(x)
            cs.append(c_l)
        short = torch.relu(self.shortcut_bn(self.shortcut(features)))
        return self.head(x + short), torch.stack(hs, dim=1), torch.stack(cs, dim=1)


def step_function(model: DeepSleepNet):
    """``CausalStep`` of ``model`` as a numpy ``step(features, h, c)`` for :func:`run_stateful` (eval, no grad)."""
    step = CausalStep(model.eval()).eval()

    def call(f: np.ndarray, h: np.ndarray, c: np.ndarray):
        with torch.no_grad():
            out = step(*(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for a in (f, h, c)))
        return tuple(t.numpy() for t in out)

    return call


def night_features(model: DeepSleepNet, epochs: np.ndarray, batch: int = 256) -> np.ndarray:
    """CNN features ``(n, F)`` of a night's epochs ``(n, 1, samples)`` or ``(n, samples)`` (eval mode, no grad)."""
    model.eval()
    x = np.asarray(epochs, dtype=np.float32).reshape(len(epochs), 1, 1, -1)
    with torch.no_grad():
        parts = [model.features(torch.from_numpy(np.ascontiguousarray(x[i:i + batch])).transpose(0, 1)).reshape(-1, model.arch.cnn_features)
                 for i in range(0, len(x), batch)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, model.arch.cnn_features), np.float32)


def night_logits(model: DeepSleepNet, feats: np.ndarray, starts: Sequence[int] | np.ndarray = (0,)) -> np.ndarray:
    """Decisions ``(n, C)`` of a causal model over a night's features, segment by segment (whole-sequence LSTM).

    Equal to :func:`run_stateful` with :func:`step_function` (a test checks it), and much faster: the LSTM
    runs over each segment at once.
    """
    check_causal(model)
    model.eval()
    n = len(feats)
    bounds = sorted({0, *(int(s) for s in starts if 0 <= int(s) < n)}) + [n]
    with torch.no_grad():
        parts = [model.sequence(torch.from_numpy(np.ascontiguousarray(feats[s:e], dtype=np.float32))[None])[0].numpy()
                 for s, e in zip(bounds[:-1], bounds[1:]) if e > s]
    return np.concatenate(parts) if parts else np.zeros((0, model.arch.n_classes), np.float32)


def stepped_logits(model: DeepSleepNet, feats: np.ndarray, starts: Sequence[int] | np.ndarray = (0,)) -> np.ndarray:
    """The same decisions computed one step per epoch with :class:`CausalStep` (the stateful export's semantics)."""
    a = model.arch
    return run_stateful(step_function(model), feats, a.lstm_layers, a.lstm_hidden, a.lookahead, starts)
