"""The MNE-based Sleep-EDF reader: small written pairs, and all 20 real hypnograms with written PSGs."""
from __future__ import annotations

import time

import numpy as np
import pytest
from edf_fixtures import fpz_level, small_pair, write_psg

from sleepedge.config.settings import DataConfig
from sleepedge.train.dataset import load_dataset
from sleepedge.train.sleep_edf import edf_start, find_pairs, read_night


def test_small_pair_labels_alignment_and_units(tmp_path):
    psg, hyp = small_pair(tmp_path)
    night = read_night(psg, hyp, trim_wake_min=10)
    # sleep spans epochs 60..179; 10 min = 20 epochs of wake kept each side; movement (150, 151) dropped
    expected_index = np.array([k for k in range(40, 200) if k not in (150, 151)])
    assert np.array_equal(night.epoch_index, expected_index)
    assert night.x.shape == (len(expected_index), 3000) and night.x.dtype == np.float32
    assert night.y.dtype == np.int64 and night.epoch_index.dtype == np.int32
    assert night.y[expected_index == 65][0] == 1 and night.y[expected_index == 125][0] == 3
    assert night.y[expected_index == 145][0] == 3  # R&K stage 4 -> N3
    assert night.y[expected_index == 160][0] == 4
    # values in microvolts, and epoch k holds the marker written for epoch k of Fpz-Cz (not Pz-Oz)
    assert np.allclose(night.x.mean(axis=1), fpz_level(night.epoch_index), atol=0.05)
    assert (night.record, night.subject, night.night) == ("SC4001E0", 0, 1)


def test_other_channel_and_no_trim(tmp_path):
    psg, hyp = small_pair(tmp_path)
    night = read_night(psg, hyp, channel="EEG Pz-Oz", trim_wake_min=-1)
    assert len(night.y) == 238  # every scored epoch
    assert np.allclose(night.x.mean(axis=1), -fpz_level(night.epoch_index), atol=0.05)


def test_resample_is_explicit(tmp_path):
    psg, hyp = small_pair(tmp_path, psg_kwargs={"sfreq": 200.0})
    night = read_night(psg, hyp, resample=True)
    assert night.x.shape[1] == 3000
    assert np.allclose(night.x.mean(axis=1), fpz_level(night.epoch_index), atol=1.0)


def test_find_pairs_scorer_letter_and_recursion(tmp_path):
    small_pair(tmp_path / "a", subject=0, night=1, scorer="C")
    small_pair(tmp_path / "b" / "deep", subject=0, night=2, scorer="J")
    pairs = find_pairs(tmp_path)
    assert sorted(pairs) == ["SC4001E0", "SC4002E0"]
    assert pairs["SC4002E0"][1].name == "SC4002EJ-Hypnogram.edf"


def test_load_dataset_from_folder(tmp_path):
    small_pair(tmp_path, subject=0, night=1)
    small_pair(tmp_path, subject=0, night=2, scorer="P")
    small_pair(tmp_path, subject=3, night=1)
    cfg = DataConfig(dataset="sleep-edf", data_dir=str(tmp_path), subjects=[0], cache_dir=str(tmp_path / "c"))
    ds = load_dataset(cfg, progress=False)
    assert [n.record for n in ds.nights] == ["SC4001E0", "SC4002E0"]
    assert ds.name == "sleep-edf" and not ds.synthetic and ds.info["synthetic"] is False
    assert ds.info["subjects"] == [0] and ds.info["channel"] == "EEG Fpz-Cz"
    assert sum(ds.info["class_counts"].values()) == sum(len(n.y) for n in ds.nights)


# --- real hypnograms --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def written_real_pairs(sleep_edf_shared, tmp_path_factory):
    """For each of the 20 real hypnogram EDFs, a PSG EDF in Sleep-EDF's layout of the real length."""
    folder = tmp_path_factory.mktemp("sleep_edf_written")
    pairs = []
    for hyp in sorted((sleep_edf_shared / "hypnograms_edf").glob("SC4*-Hypnogram.edf")):
        record = hyp.name[:6] + "E0"
        labels = np.load(sleep_edf_shared / "labels" / f"{record}_labels.npz")
        psg = write_psg(folder / f"{record}-PSG.edf", edf_start(hyp).replace(tzinfo=None),
                        int(labels["psg_duration_s"]), second_eeg=False)
        dst = folder / hyp.name
        dst.write_bytes(hyp.read_bytes())
        pairs.append((record, psg, dst, labels))
    return folder, pairs


@pytest.mark.realdata
def test_reader_on_all_20_real_hypnograms(written_real_pairs):
    t0 = time.perf_counter()
    _, pairs = written_real_pairs
    assert len(pairs) == 20
    for record, psg, hyp, labels in pairs:
        night = read_night(psg, hyp)
        assert night.record == record
        assert np.array_equal(night.epoch_index, labels["epoch_index"]), record
        assert np.array_equal(night.y, labels["y"].astype(np.int64)), record
        assert np.allclose(night.x.mean(axis=1), fpz_level(night.epoch_index), atol=0.05), record
    assert time.perf_counter() - t0 < 120


@pytest.mark.realdata
def test_sc4001e0_gives_841_epochs(written_real_pairs):
    folder, _ = written_real_pairs
    cfg = DataConfig(dataset="sleep-edf", data_dir=str(folder), subjects=[0], cache_dir=str(folder / "cache"))
    ds = load_dataset(cfg, progress=False)
    first = {n.record: n for n in ds.nights}["SC4001E0"]
    assert len(first.y) == 841
    assert ds.info["class_counts"]["W"] == 188 + 183  # SC4001E0 + SC4002E0
