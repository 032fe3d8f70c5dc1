"""Subject bootstrap CIs: constructed cases whose answers are known."""
from __future__ import annotations

import numpy as np
import pytest

from sleepedge.core.stats import fmt_ci, paired_delta_ci, score_ci, scores, subject_confusions


def _cms(correct_per_subject: list[int], n: int = 10) -> dict[int, np.ndarray]:
    """Subject s: n epochs of class 0, the first ``correct`` predicted right, the rest as class 1."""
    out = {}
    for s, c in enumerate(correct_per_subject):
        cm = np.zeros((5, 5), np.int64)
        cm[0, 0], cm[0, 1] = c, n - c
        out[s] = cm
    return out


def test_scores_match_hand_computation():
    cm = np.array([[8, 2], [1, 9]])
    s = scores(cm)
    assert s["accuracy"] == pytest.approx(17 / 20)
    f1 = [2 * 8 / (10 + 9), 2 * 9 / (10 + 11)]
    assert s["macro_f1"] == pytest.approx(np.mean(f1))
    pe = (10 * 9 + 10 * 11) / 400
    assert s["kappa"] == pytest.approx((0.85 - pe) / (1 - pe))


def test_subject_confusions_split_by_subject():
    y = np.array([[0, 1], [2, 2], [0, 0]])
    p = np.array([[0, 0], [2, 1], [0, 0]])
    cms = subject_confusions(y, p, np.array([7, 7, 9]))
    assert sorted(cms) == [7, 9]
    assert cms[7][0, 0] == 1 and cms[7][1, 0] == 1 and cms[7][2, 2] == 1 and cms[7][2, 1] == 1 and cms[9][0, 0] == 2


def test_identical_models_have_a_zero_interval():
    cms = _cms([3, 7, 9, 10])
    d = paired_delta_ci(cms, cms)
    for m in ("accuracy", "macro_f1", "kappa"):
        assert d[m]["delta"] == d[m]["lo"] == d[m]["hi"] == 0.0


def test_two_subjects_bootstrap_distribution_is_known():
    """Deltas 0 and -100 points on two equal-sized subjects: the bootstrap gives 0 (1/4), -50 (1/2),
    -100 (1/4), so the 95 % interval is exactly [-100, 0] and the point estimate -50."""
    ref, new = _cms([10, 10]), _cms([10, 0])
    d = paired_delta_ci(ref, new, n_boot=4000, seed=1)["accuracy"]
    assert d["delta"] == pytest.approx(-50.0) and d["lo"] == pytest.approx(-100.0) and d["hi"] == pytest.approx(0.0)


def test_a_constant_shift_is_certain_and_pairing_removes_subject_spread():
    """Every subject loses exactly one epoch in ten: the paired interval is the point (-10), while the
    unpaired intervals of each model's own accuracy are wide because the subjects differ a lot."""
    ref, new = _cms([10, 6, 9, 4, 8]), _cms([9, 5, 8, 3, 7])
    d = paired_delta_ci(ref, new)["accuracy"]
    assert d["lo"] == pytest.approx(-10.0) and d["hi"] == pytest.approx(-10.0) and d["delta"] == pytest.approx(-10.0)
    a = score_ci(ref)["accuracy"]
    assert a["value"] == pytest.approx(0.74) and a["hi"] - a["lo"] > 0.15


def test_paired_comparison_refuses_other_subjects_or_epochs():
    with pytest.raises(ValueError, match="same subjects"):
        paired_delta_ci(_cms([1, 2]), _cms([1, 2, 3]))
    with pytest.raises(ValueError, match="same epochs"):
        paired_delta_ci(_cms([1, 2], n=10), _cms([1, 2], n=11))


def test_seeded_and_formatted():
    ref, new = _cms([10, 6, 9, 4, 8]), _cms([9, 6, 5, 4, 8])
    assert paired_delta_ci(ref, new, seed=3) == paired_delta_ci(ref, new, seed=3)
    assert fmt_ci({"delta": -0.44, "lo": -1.21, "hi": 0.3}) == "-0.4 [-1.2, +0.3]"
    assert fmt_ci({"value": 0.821, "lo": 0.79, "hi": 0.853}, key="value", signed=False) == "82.1 [79.0, 85.3]"
