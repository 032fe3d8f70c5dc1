"""The data types every part of the data layer shares: a :class:`Night`, a :class:`Dataset`, the label names.

Kept apart from the loader (:mod:`.dataset`) so that the readers (:mod:`.sleep_edf`, :mod:`.cache`,
:mod:`.synthetic`) and the loader that calls them import the types from one place, without a cycle.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

LABEL_NAMES: tuple[str, ...] = ("W", "N1", "N2", "N3", "REM")


@dataclass
class Night:
    """One night: 30-s EEG epochs in microvolts and their AASM labels."""

    record: str  # "SC4001E0" for Sleep-EDF, "SYN00301" for synthetic subject 3 night 1
    subject: int
    night: int  # 1 or 2
    x: np.ndarray  # float32 (n_epochs, 3000), EEG in microvolts
    y: np.ndarray  # int64 (n_epochs,), 0..4 = W, N1, N2, N3, REM
    epoch_index: np.ndarray  # int32 (n_epochs,), index of each epoch in the full-night 30-s grid
    source: str  # file path(s) or "synthetic"


@dataclass
class Dataset:
    """All nights of one dataset plus a description (``info``) for manifests and reports."""

    name: str  # "sleep-edf" or "synthetic"
    synthetic: bool
    nights: list[Night]
    info: dict[str, Any] = field(default_factory=dict)


def class_counts(nights: list[Night]) -> dict[str, int]:
    """Epochs per class over ``nights``, ``{"W": n, ...}``."""
    total = np.zeros(len(LABEL_NAMES), dtype=np.int64)
    for n in nights:
        total += np.bincount(n.y, minlength=len(LABEL_NAMES))[: len(LABEL_NAMES)]
    return {name: int(c) for name, c in zip(LABEL_NAMES, total)}
