"""The out-of-distribution guard (sleepedge.predict.ood) on nights of the training generator (sleepedge.train.synthetic)."""
from __future__ import annotations

import numpy as np
import pytest

from sleepedge.export.calibration import clip_range
from sleepedge.export.provenance import input_stats
from sleepedge.predict.ood import MAX_SPECTRAL_DB, input_report
from sleepedge.train.night import LABEL_NAMES
from sleepedge.train.synthetic import synthetic_night

SEQ = 20


@pytest.fixture(scope="module")
def stats():
    """Training input statistics of three synthetic subjects (1 h of sleep each), as the export computes them."""
    nights = [synthetic_night(0, s, 1, 1.0, 10.0) for s in range(3)]
    x, y = np.concatenate([n.x for n in nights]), np.concatenate([n.y for n in nights])
    n = len(x) // SEQ
    xs, ys = x[:n * SEQ].reshape(n, SEQ, 1, -1), y[:n * SEQ].reshape(n, SEQ)
    calib, clip = clip_range(xs, 99.9)
    return input_stats(xs, ys, calib, clip, 100.0, list(LABEL_NAMES), "calib.npz")


@pytest.fixture(scope="module")
def night():
    """A night of a subject the statistics never saw (the same generator)."""
    return synthetic_night(0, 7, 1, 2.0, 15.0).x


def test_statistics_have_a_profile_per_stage(stats):
    assert set(stats["spectrum"]["profiles_db"]) == {"all", *LABEL_NAMES}
    delta = {k: v[0] for k, v in stats["spectrum"]["profiles_db"].items()}
    assert delta["N3"] > delta["W"] + 3  # slow waves: the deep-sleep profile has the most delta power


def test_training_distribution_gives_no_warning(stats, night):
    r = input_report(night, stats)
    assert not r["ood"] and r["reasons"] == [], r
    assert r["spectral_distance_db"] < MAX_SPECTRAL_DB / 2 and 0.5 < r["level_ratio"] < 2


def test_scaled_x10_warns_amplitude(stats, night):
    r = input_report(night * 10, stats)
    assert r["ood"] and any(s.startswith("amplitude:") for s in r["reasons"]), r["reasons"]
    assert r["outside_fraction"] > 0.1 and r["level_ratio"] > 4


def test_another_montage_warns_spectrum_at_the_same_amplitude(stats, night):
    """A derivation that sees the slow rhythms but not the fast ones (low-pass 8 Hz), rescaled to the same RMS."""
    from scipy.signal import butter, sosfiltfilt

    low = sosfiltfilt(butter(4, 8.0, fs=100.0, output="sos"), night, axis=-1)
    low = (low * night.std() / low.std()).astype(np.float32)
    r = input_report(low, stats)
    assert r["ood"] and [s.split(":")[0] for s in r["reasons"]] == ["spectrum"], r["reasons"]


def test_same_input_same_statistics(stats):
    nights = [synthetic_night(0, s, 1, 1.0, 10.0) for s in range(3)]
    x, y = np.concatenate([n.x for n in nights]), np.concatenate([n.y for n in nights])
    n = len(x) // SEQ
    xs, ys = x[:n * SEQ].reshape(n, SEQ, 1, -1), y[:n * SEQ].reshape(n, SEQ)
    calib, clip = clip_range(xs, 99.9)
    assert input_stats(xs, ys, calib, clip, 100.0, list(LABEL_NAMES), "calib.npz") == stats
