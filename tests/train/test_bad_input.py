"""Each kind of bad input gives one DataError that names the file and the problem."""
from __future__ import annotations

import datetime as dt
import os

import numpy as np
import pytest
from edf_fixtures import SMALL_SECONDS, SMALL_STAGES, START, set_signal_header, small_pair, write_hypnogram, \
    write_psg

from sleepedge.config.settings import DataConfig
from sleepedge.core.errors import DataError
from sleepedge.train.dataset import load_dataset
from sleepedge.train.sleep_edf import read_night


def _read_error(psg, hyp, **kwargs) -> str:
    with pytest.raises(DataError) as err:
        read_night(psg, hyp, **kwargs)
    return str(err.value)


def test_missing_channel(tmp_path):
    psg, hyp = small_pair(tmp_path, psg_kwargs={"channel": "EEG Fp1-Cz"})
    msg = _read_error(psg, hyp)
    assert str(psg) in msg and "no channel 'EEG Fpz-Cz'" in msg and "EEG Fp1-Cz" in msg


def test_wrong_sampling_rate_is_refused_not_resampled(tmp_path):
    psg, hyp = small_pair(tmp_path, psg_kwargs={"sfreq": 200.0})
    msg = _read_error(psg, hyp)
    assert str(psg) in msg and "200 Hz" in msg and "expected 100 Hz" in msg and "data.resample" in msg


def test_hypnogram_starting_after_the_psg(tmp_path):
    psg, _ = small_pair(tmp_path)
    hyp = write_hypnogram(tmp_path / "late" / "SC4001EC-Hypnogram.edf", START + dt.timedelta(minutes=30),
                          SMALL_STAGES[:-2])
    msg = _read_error(psg, hyp)
    assert str(hyp) in msg and "not the same recording" in msg


def test_hypnogram_of_another_recording(tmp_path):
    psg, _ = small_pair(tmp_path)
    hyp = write_hypnogram(tmp_path / "other" / "SC4001EC-Hypnogram.edf", dt.datetime(1991, 7, 2, 22, 40),
                          SMALL_STAGES)
    assert "not the same recording" in _read_error(psg, hyp)


def test_hypnogram_scoring_beyond_the_recording(tmp_path):
    stages = SMALL_STAGES[:-1] + [(5400, 1800 + 3600, "Sleep stage W")]
    psg, hyp = small_pair(tmp_path, stages=stages)
    msg = _read_error(psg, hyp)
    assert str(hyp) in msg and "beyond the end of the recording" in msg


def test_hypnogram_not_covering_the_recording(tmp_path):
    stages = [(0, 900, "Sleep stage W"), (900, 900, "Sleep stage 2")]  # 60 of 240 epochs
    psg, hyp = small_pair(tmp_path, stages=stages)
    msg = _read_error(psg, hyp)
    assert str(hyp) in msg and "does not cover the recording" in msg


def test_truncated_edf(tmp_path):
    psg, hyp = small_pair(tmp_path)
    data = psg.read_bytes()
    psg.write_bytes(data[: len(data) * 2 // 3])
    msg = _read_error(psg, hyp)
    assert str(psg) in msg and "truncated" in msg


@pytest.mark.parametrize("damage", ["random", "header_only"])
def test_corrupt_edf(tmp_path, damage):
    psg, hyp = small_pair(tmp_path)
    psg.write_bytes(os.urandom(4096) if damage == "random" else psg.read_bytes()[:300])
    msg = _read_error(psg, hyp)
    assert str(psg) in msg and "not a readable EDF file" in msg


def test_nan_in_signal(tmp_path):
    psg, hyp = small_pair(tmp_path)
    set_signal_header(psg, 0, "physical_max", "nan")  # a damaged calibration: every sample becomes NaN
    msg = _read_error(psg, hyp)
    assert str(psg) in msg and "NaN" in msg


def test_flat_signal(tmp_path):
    psg, hyp = small_pair(tmp_path, psg_kwargs={"eeg": np.zeros(SMALL_SECONDS * 100)})
    msg = _read_error(psg, hyp)
    assert str(psg) in msg and "flat" in msg


def test_empty_folder(tmp_path):
    cfg = DataConfig(dataset="sleep-edf", data_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match="no Sleep-EDF PSG files") as err:
        load_dataset(cfg, progress=False)
    assert str(tmp_path) in str(err.value) and "sleepedge data fetch" in str(err.value)
    assert "--dataset synthetic" in str(err.value)


def test_missing_folder(tmp_path):
    cfg = DataConfig(dataset="sleep-edf", data_dir=str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="nowhere"):
        load_dataset(cfg, progress=False)


def test_subject_requested_but_absent(tmp_path):
    small_pair(tmp_path, subject=0)
    cfg = DataConfig(dataset="sleep-edf", data_dir=str(tmp_path), subjects=[0, 5, 7],
                     cache_dir=str(tmp_path / "cache"))
    with pytest.raises(DataError, match=r"subject\(s\) 5, 7 requested"):
        load_dataset(cfg, progress=False)


def test_psg_without_hypnogram(tmp_path):
    write_psg(tmp_path / "SC4001E0-PSG.edf", START, SMALL_SECONDS)
    cfg = DataConfig(dataset="sleep-edf", data_dir=str(tmp_path), subjects=[0], cache_dir=str(tmp_path / "c"))
    with pytest.raises(DataError, match="SC4001E0-PSG.edf: no matching"):
        load_dataset(cfg, progress=False)


def test_duplicate_night_in_folder(tmp_path):
    small_pair(tmp_path / "a")
    small_pair(tmp_path / "b")
    cfg = DataConfig(dataset="sleep-edf", data_dir=str(tmp_path), subjects=[0], cache_dir=str(tmp_path / "c"))
    with pytest.raises(DataError, match="two PSG files for SC4001E0"):
        load_dataset(cfg, progress=False)


def test_cli_prints_one_line_and_exits_2(tmp_path, capsys):
    from sleepedge.commands.cli import main

    rc = main(["data", "prepare", "--data-dir", str(tmp_path), "--cache-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith("sleepedge data: error: ") and str(tmp_path) in err[0]
