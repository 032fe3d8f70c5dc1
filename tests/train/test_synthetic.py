"""The synthetic dataset: deterministic, realistic stage structure, stage-typical EEG, and not trivially easy."""
from __future__ import annotations

import time

import numpy as np
import pytest

from sleepedge.config.settings import DataConfig
from sleepedge.train.band_power import stage_band_power
from sleepedge.train.dataset import load_dataset
from sleepedge.train.synthetic import synthetic_night


@pytest.fixture(scope="module")
def quick_synthetic():
    cfg = DataConfig(dataset="synthetic", synthetic_subjects=10, synthetic_hours=1.5)
    t0 = time.perf_counter()
    ds = load_dataset(cfg, progress=False)
    return ds, time.perf_counter() - t0


def test_contract_and_labelling(quick_synthetic):
    ds, seconds = quick_synthetic
    assert ds.name == "synthetic" and ds.synthetic and ds.info["synthetic"] is True
    assert ds.info["generator"]["sleep_hours"] == 1.5 and ds.info["generator"]["seed"] == 0
    assert len(ds.nights) == 20 and ds.nights[7].record == "SYN00302"
    for n in ds.nights:
        assert n.x.dtype == np.float32 and n.x.shape == (len(n.y), 3000)
        assert n.y.dtype == np.int64 and n.epoch_index.dtype == np.int32 and n.source == "synthetic"
        assert {0, 1, 2}.issubset(np.unique(n.y))  # a 1.5-h night may end before its first REM bout
        assert n.y[0] == 0 and n.y[-1] == 0 and n.y[60] != 0  # 30 min of wake, then sleep
    assert set(np.concatenate([n.y for n in ds.nights]).tolist()) == {0, 1, 2, 3, 4}
    assert seconds < 60, f"generation took {seconds:.1f} s"


def test_deterministic_in_seed_subject_night():
    a, b = synthetic_night(0, 3, 1, 0.5), synthetic_night(0, 3, 1, 0.5)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.x, synthetic_night(0, 3, 2, 0.5).x)
    assert not np.array_equal(a.x, synthetic_night(1, 3, 1, 0.5).x)


def test_stage_typical_eeg(quick_synthetic):
    ds, _ = quick_synthetic
    bp = stage_band_power(ds.nights)
    assert bp["W"]["alpha"] > 2 * bp["N2"]["alpha"] and bp["W"]["alpha"] > bp["REM"]["alpha"]
    assert bp["N1"]["theta"] > bp["W"]["theta"] and bp["REM"]["theta"] > bp["W"]["theta"]
    assert bp["N2"]["sigma"] > bp["REM"]["sigma"] and bp["N2"]["sigma"] > bp["N3"]["sigma"]
    assert bp["N3"]["delta"] == max(row["delta"] for row in bp.values())
    assert bp["N3"]["ptp_uv"] > 75


def _features(x: np.ndarray) -> np.ndarray:
    f = np.fft.rfftfreq(x.shape[1], 0.01)
    p = np.abs(np.fft.rfft(x, axis=1)) ** 2
    bands = [(0.5, 2), (2, 4), (4, 7), (8, 12), (11, 16), (16, 30), (30, 45)]
    bp = np.stack([p[:, (f >= a) & (f < b)].sum(1) for a, b in bands], 1)
    return np.log(np.concatenate([bp / bp.sum(1, keepdims=True), bp.sum(1, keepdims=True)], 1))


def test_learnable_but_not_trivial(quick_synthetic):
    """A per-epoch Gaussian classifier on band powers, trained on 7 subjects and tested on 3, should be
    far above chance but well below perfect, with N1 the hardest class (as on real data)."""
    ds, _ = quick_synthetic
    tr = [n for n in ds.nights if n.subject < 7]
    te = [n for n in ds.nights if n.subject >= 7]
    xtr, ytr = np.concatenate([_features(n.x) for n in tr]), np.concatenate([n.y for n in tr])
    xte, yte = np.concatenate([_features(n.x) for n in te]), np.concatenate([n.y for n in te])
    scores = []
    for c in range(5):
        z = xtr[ytr == c]
        cov = np.cov(z.T) + 1e-3 * np.eye(z.shape[1])
        d = xte - z.mean(0)
        maha = np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov), d)
        scores.append(-0.5 * maha - 0.5 * np.linalg.slogdet(cov)[1] + np.log(len(z) / len(ytr)))
    pred = np.argmax(np.stack(scores, 1), 1)
    acc = float(np.mean(pred == yte))
    f1 = [2 * np.sum((pred == c) & (yte == c)) / (np.sum(pred == c) + np.sum(yte == c)) for c in range(5)]
    assert 0.6 < acc < 0.93, acc
    assert f1[1] == min(f1) and f1[1] < 0.6, f1
