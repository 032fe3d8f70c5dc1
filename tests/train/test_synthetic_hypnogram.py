"""Synthetic hypnograms against the 39 expert-scored Sleep-EDF-20 nights: shares, bouts, transitions."""
from __future__ import annotations

import numpy as np
import pytest

from sleepedge.train.hypnogram_stats import STATS_FILE, bouts, derive, describe, load_label_nights, load_stats
from sleepedge.train.synthetic_hypnogram import synthetic_hypnogram


@pytest.fixture(scope="module")
def synthetic_nights():
    rng = np.random.default_rng(123)
    return [synthetic_hypnogram(rng, 0.0) for _ in range(150)]  # sleep-period lengths drawn from real nights


@pytest.fixture(scope="module")
def real_nights(sleep_edf_shared):
    return load_label_nights(sleep_edf_shared / "labels")


def test_bouts_of_a_hand_made_sequence():
    stage, start, length = bouts(np.array([0, 0, 1, 2, 2, 2, 0]))
    assert stage.tolist() == [0, 1, 2, 0] and start.tolist() == [0, 2, 3, 6] and length.tolist() == [2, 1, 3, 1]


def test_night_frame_and_length():
    y = synthetic_hypnogram(np.random.default_rng(0), 3.0, margin_min=30.0)
    assert len(y) == 60 + 360 + 60
    assert (y[:60] == 0).all() and (y[-60:] == 0).all() and y[60] != 0 and y[-61] != 0
    assert set(np.unique(y)) == {0, 1, 2, 3, 4}


def test_shipped_statistics_carry_their_source_and_counts():
    stats = load_stats()
    assert stats["n_nights"] == 39 and stats["class_counts"] == [8285, 2804, 17799, 5703, 7717]
    assert "ODC-By" in stats["source"]["license"] and "Kemp" in stats["source"]["citation"]


@pytest.mark.realdata
def test_shipped_statistics_are_derived_from_the_real_labels(real_nights):
    assert derive(real_nights) == load_stats(STATS_FILE)


@pytest.mark.realdata
def test_synthetic_nights_look_like_real_ones(real_nights, synthetic_nights):
    real, syn = describe(real_nights), describe(synthetic_nights)
    assert np.abs(real["shares"] - syn["shares"]).max() < 0.025, (real["shares"], syn["shares"])
    assert np.abs(real["period_shares"] - syn["period_shares"]).max() < 0.025
    assert np.abs(real["third_shares"] - syn["third_shares"]).max() < 0.05  # N3 early, REM late
    # wake bouts inside the sleep period come out a little shorter: a final wake bout is cut (the period ends asleep)
    assert np.all(np.abs(syn["mean_bout"] / real["mean_bout"] - 1) < np.array([0.25, 0.1, 0.1, 0.1, 0.1]))
    assert np.abs(real["transition"] - syn["transition"]).max() < 0.03


@pytest.mark.realdata
def test_a_hand_written_chain_would_fail_the_comparison(real_nights):
    """The comparison can fail: a night of fixed 10-epoch bouts cycling N1-N2-N3-N2-REM is refused."""
    fake = np.concatenate([[0] * 60, np.tile(np.repeat([1, 2, 3, 2, 4], 10), 20), [0] * 60])
    real, syn = describe(real_nights), describe([fake])
    assert np.abs(real["transition"] - syn["transition"]).max() > 0.03
