import numpy as np
import pytest

from sleepedge.core.metrics import agreement, classification_metrics


def test_perfect_prediction():
    y = np.array([0, 1, 2, 3, 4, 2])
    m = classification_metrics(y, y)
    assert m["accuracy"] == 1 and m["macro_f1"] == 1 and m["kappa"] == 1


def test_hand_computed_case():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 1, 1, 1])
    m = classification_metrics(y_true, y_pred, n_classes=2)
    assert m["accuracy"] == pytest.approx(0.75)
    # F1 class 0 = 2/3, class 1 = 0.8
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    # po = .75, pe = (2*1 + 2*3)/16 = .5 -> kappa .5
    assert m["kappa"] == pytest.approx(0.5)
    assert m["confusion"] == [[1, 1], [0, 2]]


def test_absent_class_not_averaged():
    m = classification_metrics(np.array([0, 2]), np.array([0, 2]))
    assert m["macro_f1"] == 1.0


def test_agreement_and_length_check():
    assert agreement([1, 2, 3], [1, 2, 0]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        agreement([1], [1, 2])
