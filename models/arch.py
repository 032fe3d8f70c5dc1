"""The architecture of DeepSleepNet as data: every width is a field.

A pruned or shrunk model is the same class with other numbers, so a checkpoint stores
``arch.to_dict()`` and a model is rebuilt with ``DeepSleepNet(DeepSleepNetArch.from_dict(d))``.
This module imports no torch: the bench and the budget check read architectures on boards
that have only numpy.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


def same_out_len(length: int, stride: int) -> int:
    """Output length of a TensorFlow-style SAME-padded conv or pool (ceil(length / stride))."""
    return -(-length // stride)


def same_pads(length: int, kernel: int, stride: int) -> tuple[int, int]:
    """(left, right) zero padding that makes a 1-D conv/pool behave like TensorFlow's SAME."""
    out = same_out_len(length, stride)
    total = max((out - 1) * stride + kernel - length, 0)
    return total // 2, total - total // 2


@dataclass(frozen=True)
class BranchArch:
    """One CNN branch: a first strided conv, a max-pool, then ``len(channels) - 1`` convs, a max-pool."""

    channels: tuple[int, ...]
    first_kernel: int
    first_stride: int
    kernel: int
    pool1: int
    pool2: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if len(self.channels) < 2 or min(self.channels) < 1:
            raise ValueError(f"a branch needs >= 2 conv layers of >= 1 channel each, got {self.channels}")

    def lengths(self, epoch_samples: int) -> list[int]:
        """Sequence length after each conv layer (index i = output of conv i)."""
        first = same_out_len(epoch_samples, self.first_stride)
        pooled = same_out_len(first, self.pool1)
        return [first] + [pooled] * (len(self.channels) - 1)

    def out_len(self, epoch_samples: int) -> int:
        """Length of the branch output after the last max-pool."""
        return same_out_len(self.lengths(epoch_samples)[-1], self.pool2)

    def out_features(self, epoch_samples: int) -> int:
        return self.channels[-1] * self.out_len(epoch_samples)


def _small_branch() -> BranchArch:
    return BranchArch(channels=(64, 128, 128, 128), first_kernel=50, first_stride=6, kernel=8, pool1=8, pool2=4)


def _large_branch() -> BranchArch:
    return BranchArch(channels=(64, 128, 128, 128), first_kernel=400, first_stride=50, kernel=6, pool1=4, pool2=2)


@dataclass(frozen=True)
class DeepSleepNetArch:
    """Every width of DeepSleepNet. Defaults are the paper configuration (Supratak et al. 2017).

    ``shortcut_out`` is the width of the fully connected shortcut; it is added to the LSTM output,
    so it must equal ``lstm_hidden * directions`` (checked).

    ``bidirectional=False`` is the causal head of a wearable that streams (:mod:`sleepedge.models.causal`):
    a unidirectional LSTM whose decision for epoch ``t`` is made after epoch ``t + lookahead``. Both keys
    are left out of :meth:`to_dict` at their defaults, so the architecture of a bidirectional model (and
    every checkpoint, manifest and fingerprint that records it) reads as it always did.
    """

    small: BranchArch = field(default_factory=_small_branch)
    large: BranchArch = field(default_factory=_large_branch)
    lstm_hidden: int = 512
    lstm_layers: int = 2
    shortcut_out: int = 1024
    n_classes: int = 5
    epoch_samples: int = 3000
    dropout: float = 0.5
    bidirectional: bool = True
    lookahead: int = 0  # causal head only: epochs of signal after epoch t before its decision

    def __post_init__(self) -> None:
        if self.lstm_hidden < 1 or self.lstm_layers < 1:
            raise ValueError(f"lstm_hidden and lstm_layers must be >= 1 (got {self.lstm_hidden}, {self.lstm_layers})")
        if self.shortcut_out != self.directions * self.lstm_hidden:
            raise ValueError(
                f"shortcut_out ({self.shortcut_out}) must equal {self.directions} * lstm_hidden"
                f" ({self.directions * self.lstm_hidden}): the shortcut is added to the LSTM output"
            )
        if self.lookahead < 0 or (self.bidirectional and self.lookahead):
            raise ValueError(f"lookahead must be >= 0 and only set on a causal (unidirectional) head, got {self.lookahead}")

    @property
    def directions(self) -> int:
        """2 for the bidirectional LSTM of DeepSleepNet, 1 for a causal head."""
        return 2 if self.bidirectional else 1

    @property
    def cnn_features(self) -> int:
        """Length of the concatenated CNN feature vector that feeds the LSTM and the shortcut."""
        return self.small.out_features(self.epoch_samples) + self.large.out_features(self.epoch_samples)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for b in ("small", "large"):
            d[b]["channels"] = list(d[b]["channels"])
        if self.bidirectional:  # the defaults stay out: a bidirectional architecture reads as before
            del d["bidirectional"], d["lookahead"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DeepSleepNetArch":
        """Rebuild from :meth:`to_dict` output; unknown keys are rejected."""
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown architecture keys: {sorted(unknown)}")
        for b in ("small", "large"):
            if b in d and isinstance(d[b], dict):
                bk = {f.name for f in dataclasses.fields(BranchArch)}
                extra = set(d[b]) - bk
                if extra:
                    raise ValueError(f"unknown keys in architecture branch {b!r}: {sorted(extra)}")
                d[b] = BranchArch(**d[b])
        return cls(**d)

    def with_widths(
        self,
        small_channels: tuple[int, ...] | None = None,
        large_channels: tuple[int, ...] | None = None,
        lstm_hidden: int | None = None,
    ) -> "DeepSleepNetArch":
        """A copy with other widths (what pruning produces)."""
        small = self.small if small_channels is None else dataclasses.replace(self.small, channels=tuple(small_channels))
        large = self.large if large_channels is None else dataclasses.replace(self.large, channels=tuple(large_channels))
        hidden = self.lstm_hidden if lstm_hidden is None else int(lstm_hidden)
        return dataclasses.replace(self, small=small, large=large, lstm_hidden=hidden, shortcut_out=self.directions * hidden)

    def causal(self, lookahead: int = 0, lstm_hidden: int | None = None) -> "DeepSleepNetArch":
        """The causal head of this model: the same CNN, a unidirectional LSTM (same or given hidden size)."""
        hidden = self.lstm_hidden if lstm_hidden is None else int(lstm_hidden)
        return dataclasses.replace(self, bidirectional=False, lookahead=int(lookahead), lstm_hidden=hidden,
                                   shortcut_out=hidden)
