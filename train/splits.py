"""Subject-wise splits: train/validation/test from a seed, and k-fold by subject.

Both nights of a subject always land on the same side (never split by epoch or by night).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from sleepedge.core.errors import DataError


def split_subjects(subjects: Iterable[int], n_val: int, n_test: int, seed: int) -> dict[str, list[int]]:
    """Seeded random split of subject ids into ``train``, ``val`` and ``test``."""
    subs = sorted(set(int(s) for s in subjects))
    if n_val + n_test >= len(subs):
        raise DataError(f"cannot hold out {n_val} validation + {n_test} test subjects from {len(subs)} subjects {subs}")
    order = np.random.default_rng(seed).permutation(subs).tolist()
    return {
        "train": sorted(order[n_val + n_test:]),
        "val": sorted(order[:n_val]),
        "test": sorted(order[n_val:n_val + n_test]),
    }


def kfold_split(subjects: Iterable[int], n_folds: int, fold: int, n_val: int, seed: int) -> dict[str, list[int]]:
    """Fold ``fold`` of ``n_folds`` subject folds as test; ``n_val`` other subjects (seeded) as validation.

    With 20 subjects and 20 folds each fold tests one subject, as in DeepSleepNet's Sleep-EDF-20 protocol.
    """
    subs = sorted(set(int(s) for s in subjects))
    if not 2 <= n_folds <= len(subs):
        raise DataError(f"n_folds={n_folds} needs 2..{len(subs)} (one subject per fold at most)")
    if not 0 <= fold < n_folds:
        raise DataError(f"fold {fold} out of range 0..{n_folds - 1}")
    folds = np.array_split(np.asarray(subs), n_folds)
    test = sorted(int(s) for s in folds[fold])
    rest = [s for s in subs if s not in test]
    if n_val >= len(rest):
        raise DataError(f"cannot hold out {n_val} validation subjects from the {len(rest)} left after fold {fold}")
    val = sorted(np.random.default_rng(seed + 1000 * fold).choice(rest, size=n_val, replace=False).tolist())
    return {"train": [s for s in rest if s not in val], "val": val, "test": test}


def nights_of(nights: Sequence, subjects: Iterable[int]) -> list:
    """The nights whose ``subject`` is in ``subjects`` (order kept)."""
    wanted = set(subjects)
    return [n for n in nights if n.subject in wanted]
