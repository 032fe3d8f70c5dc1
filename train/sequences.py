"""Sequences of consecutive 30-s epochs, the unit the BiLSTM sees."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from sleepedge.runfolder import atomic_write_bytes


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
