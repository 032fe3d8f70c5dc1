"""Sequences of consecutive 30-s epochs, the unit the BiLSTM sees."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.run.manifest import atomic_write_bytes


@dataclass
class SequenceData:
    """``x`` float32 ``(N, T, 1, samples)``, ``y`` int64 ``(N, T)``, ``records[i]`` the night of sequence i,
    ``subjects[i]`` its subject (paired statistics resample subjects)."""

    x: np.ndarray
    y: np.ndarray
    records: list[str] = field(default_factory=list)
    subjects: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.x.shape[1])

    def subset(self, idx: np.ndarray | Sequence[int]) -> "SequenceData":
        idx = np.asarray(idx, dtype=np.int64)
        return SequenceData(self.x[idx], self.y[idx], [self.records[i] for i in idx] if self.records else [],
                            None if self.subjects is None else self.subjects[idx])

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write as ``.npz`` (keys ``x``, ``y``, ``record`` and, when known, ``subject``) atomically."""
        import io

        buf = io.BytesIO()
        extra = {} if self.subjects is None else {"subject": np.asarray(self.subjects, dtype=np.int64)}
        np.savez(buf, x=self.x, y=self.y, record=np.asarray(self.records, dtype=str), **extra)
        return atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> "SequenceData":
        with np.load(path) as z:
            subjects = z["subject"].astype(np.int64) if "subject" in z.files else None
            return cls(z["x"], z["y"].astype(np.int64), [str(r) for r in z["record"]], subjects)


def make_sequences(nights: Sequence, seq_len: int) -> SequenceData:
    """Cut every night into non-overlapping windows of ``seq_len`` consecutive epochs.

    The last ``n_epochs % seq_len`` epochs of a night are left out (at most ``seq_len - 1`` per night),
    so every scored epoch is scored once.
    """
    xs, ys, recs, subs = [], [], [], []
    for night in nights:
        n = (len(night.y) // seq_len) * seq_len
        if n == 0:
            continue
        xs.append(night.x[:n].reshape(-1, seq_len, 1, night.x.shape[-1]))
        ys.append(night.y[:n].reshape(-1, seq_len))
        recs += [night.record] * (n // seq_len)
        subs += [night.subject] * (n // seq_len)
    if not xs:
        raise ValueError(f"no night has {seq_len} epochs or more")
    return SequenceData(np.concatenate(xs).astype(np.float32, copy=False), np.concatenate(ys).astype(np.int64), recs,
                        np.asarray(subs, dtype=np.int64))


def stratified_sequences(y: np.ndarray, n: int, n_classes: int = 5, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` sequences chosen so that every stage is represented as evenly as possible.

    Round-robin over the classes, rarest (in ``y``) first: each turn takes the not-yet-chosen
    sequence with the most epochs of that class (random tie-break), so rare stages such as N1 get
    sequences of their own.

    Parameters
    ----------
    y : ndarray, (N, T) int
        Per-epoch labels of the candidate sequences.
    n : int
        Sequences to choose (all of them if ``n >= N``).
    n_classes : int
        Number of stages.
    seed : int
        Tie-break seed; the same seed gives the same sample.

    Returns
    -------
    ndarray of int
        Sorted sequence indices.
    """
    y = np.asarray(y)
    _check_sample_request(y, n)
    if n >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    counts = np.stack([(y == c).sum(1) for c in range(n_classes)], axis=1).astype(np.float64)
    counts += rng.random(counts.shape) * 0.5  # tie-break below one epoch
    order = [c for c in np.argsort(counts.sum(0)) if counts[:, c].max() >= 1]  # rarest present class first
    return np.sort(np.asarray(_round_robin(counts, order, n, n_classes)))


def _check_sample_request(y: np.ndarray, n: int) -> None:
    if y.ndim != 2:
        raise DataError(f"labels: expected (sequences, epochs), got shape {y.shape}")
    if n <= 0:
        raise DataError(f"calibration sample size must be positive, got {n}")


def _round_robin(counts: np.ndarray, order: list, n: int, n_classes: int) -> list[int]:
    """Class by class in ``order``, the free sequence with the most epochs of that class, until ``n``."""
    chosen: list[int] = []
    free = np.ones(len(counts), dtype=bool)
    while len(chosen) < n:
        for c in order or range(n_classes):
            if len(chosen) == n:
                break
            i = int(np.argmax(np.where(free, counts[:, c], -1.0)))
            chosen.append(i)
            free[i] = False
    return chosen
