"""The paper-size synthetic set (20 subjects, 39 nights like Sleep-EDF-20) and its per-process reuse."""
from __future__ import annotations

import numpy as np
import pytest

from sleepedge.config.settings import DataConfig, load_config
from sleepedge.train.synthetic import night_jobs, synthetic_dataset


def test_paper_preset_synthetic_is_sized_like_sleep_edf_20():
    d = load_config("paper", ["data.dataset=synthetic"]).data
    jobs = night_jobs(d)
    assert len({s for s, _ in jobs}) == 20 and len(jobs) == 39 and (13, 2) not in jobs
    assert d.synthetic_hours == 0  # sleep periods drawn from the real nights (~7.9 h)


def test_single_night_subjects_and_reuse():
    cfg = DataConfig(dataset="synthetic", synthetic_subjects=3, synthetic_hours=0.2, synthetic_single_night=[1])
    a = synthetic_dataset(cfg)
    assert [n.record for n in a.nights] == ["SYN00001", "SYN00002", "SYN00101", "SYN00201", "SYN00202"]
    assert a.info["generator"]["single_night_subjects"] == [1] and a.info["n_nights"] == 5
    b = synthetic_dataset(cfg)  # same settings: the same nights, not regenerated
    assert all(x.x is y.x for x, y in zip(a.nights, b.nights))
    with pytest.raises(ValueError, match="read-only"):
        a.nights[0].x[0, 0] = 1.0  # shared arrays cannot be changed under another caller
    other = synthetic_dataset(DataConfig(dataset="synthetic", synthetic_subjects=3, synthetic_hours=0.2))
    assert len(other.nights) == 6 and "single_night_subjects" not in other.info["generator"]
    assert np.array_equal(other.nights[0].x, a.nights[0].x)  # a night depends on (seed, subject, night) only
