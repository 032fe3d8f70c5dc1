"""R&K -> AASM mapping, the 30-s grid and wake trimming; checked on all 39 real Sleep-EDF-20 nights."""
from __future__ import annotations

import numpy as np
import pytest

from sleepedge.core.errors import DataError
from sleepedge.train.hypnogram import STAGE_MAP, annotations_to_grid, class_counts, trim_wake


def test_stage_map_merges_3_and_4_and_drops_movement_and_unknown():
    assert [STAGE_MAP[f"Sleep stage {s}"] for s in "W1234R"] == [0, 1, 2, 3, 3, 4]
    assert STAGE_MAP["Movement time"] == -1 and STAGE_MAP["Sleep stage ?"] == -1


def test_grid_places_annotations_and_cuts_unknown_past_the_end():
    y = annotations_to_grid(np.array([0, 60, 90, 150]), np.array([60, 30, 60, 600]),
                            ["Sleep stage W", "Sleep stage 1", "Sleep stage R", "Sleep stage ?"], n_epochs=7)
    assert y.tolist() == [0, 0, 1, 4, 4, -1, -1]
    y = annotations_to_grid(np.array([0.0]), np.array([60.0]), ["Sleep stage 2"], n_epochs=4)
    assert y.tolist() == [2, 2, -1, -1]  # epochs the hypnogram does not reach stay unscored


@pytest.mark.parametrize("onsets, durations, texts, match", [
    ([0], [45], ["Sleep stage W"], "30-s epoch grid"),
    ([0], [60], ["Sleep stage 5"], "unknown hypnogram annotation"),
    ([0, 60], [60, 120], ["Sleep stage W", "Sleep stage 2"], "beyond the end"),
])
def test_grid_errors_name_the_file(onsets, durations, texts, match):
    with pytest.raises(DataError, match=match) as err:
        annotations_to_grid(np.array(onsets, float), np.array(durations, float), texts, n_epochs=3,
                            source="SC4001EC-Hypnogram.edf")
    assert "SC4001EC-Hypnogram.edf" in str(err.value)


def test_trim_wake_counts_in_the_scored_sequence():
    y = np.array([0] * 10 + [-1] + [0] * 5 + [2, 2, 4] + [0] * 3 + [-1] + [0] * 10)
    idx = trim_wake(y, trim_wake_min=3.0)  # 6 epochs of wake each side, counted after dropping -1
    assert idx.tolist() == [9] + list(range(11, 22)) + list(range(23, 26))
    assert trim_wake(y, trim_wake_min=-1).tolist() == [k for k in range(len(y)) if y[k] >= 0]
    with pytest.raises(DataError, match="no sleep epoch"):
        trim_wake(np.zeros(20, dtype=int))


@pytest.mark.realdata
def test_trimming_reproduces_all_39_nights_and_the_published_totals(sleep_edf_shared):
    files = sorted((sleep_edf_shared / "labels").glob("SC4*_labels.npz"))
    assert len(files) == 39
    total = {k: 0 for k in ("W", "N1", "N2", "N3", "REM")}
    for f in files:
        d = np.load(f)
        idx = trim_wake(d["y_full"], 30.0)
        assert np.array_equal(idx, d["epoch_index"]), f.name
        assert np.array_equal(d["y_full"][idx], d["y"]), f.name
        for k, v in class_counts(d["y_full"][idx]).items():
            total[k] += v
    assert total == {"W": 8285, "N1": 2804, "N2": 17799, "N3": 5703, "REM": 7717}


@pytest.mark.realdata
def test_real_hypnogram_edfs_give_the_label_grids(sleep_edf_shared):
    import mne

    hyps = sorted((sleep_edf_shared / "hypnograms_edf").glob("SC4*-Hypnogram.edf"))
    assert len(hyps) == 20
    for hyp in hyps:
        d = np.load(sleep_edf_shared / "labels" / f"{hyp.name[:6]}E0_labels.npz")
        annot = mne.read_annotations(hyp)
        y = annotations_to_grid(annot.onset, annot.duration, list(annot.description),
                                int(d["psg_duration_s"]) // 30, source=str(hyp))
        assert np.array_equal(y, d["y_full"]), hyp.name
