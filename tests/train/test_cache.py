"""Prepared-epoch cache: valid entries skip EDF parsing; changed sources or parameters invalidate them."""
from __future__ import annotations

import json

import numpy as np
import pytest
from edf_fixtures import small_pair

import sleepedge.train.sleep_edf as sleep_edf
from sleepedge.config.settings import DataConfig
from sleepedge.train.dataset import load_dataset


def _cfg(tmp_path, **kw) -> DataConfig:
    return DataConfig(dataset="sleep-edf", data_dir=str(tmp_path / "edf"), subjects=[0],
                      cache_dir=str(tmp_path / "cache"), **kw)


def _forbid_edf(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("EDF parsed although the cache is valid")

    monkeypatch.setattr(sleep_edf, "read_night", boom)
    monkeypatch.setattr(sleep_edf, "_open_raw", boom)


def test_second_load_comes_from_cache_without_parsing_edf(tmp_path, monkeypatch):
    small_pair(tmp_path / "edf", night=1)
    small_pair(tmp_path / "edf", night=2, scorer="J")
    first = load_dataset(_cfg(tmp_path), progress=False)
    assert first.info["cache_hits"] == 0
    root = tmp_path / "cache" / "sleep-edf"
    manifest = json.loads((root / "cache.json").read_text())
    entry = manifest["entries"]["SC4001E0"]
    assert entry["params"]["channel"] == "EEG Fpz-Cz" and entry["params"]["trim_wake_min"] == 30.0
    assert len(entry["sources"]["psg"]["sha256"]) == 64 and len(entry["sources"]["hypnogram"]["sha256"]) == 64
    assert sorted(p.name for p in root.glob("*.npz")) == ["SC4001E0.npz", "SC4002E0.npz"]
    assert not list(root.glob(".*.tmp"))  # atomic writes leave no temporary files

    _forbid_edf(monkeypatch)
    second = load_dataset(_cfg(tmp_path), progress=False)
    assert second.info["cache_hits"] == 2
    for a, b in zip(first.nights, second.nights):
        assert a.record == b.record and a.source == b.source
        assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y) and np.array_equal(a.epoch_index, b.epoch_index)
        assert b.x.dtype == np.float32 and b.y.dtype == np.int64 and b.epoch_index.dtype == np.int32


def test_changed_source_file_invalidates_only_its_night(tmp_path, monkeypatch):
    small_pair(tmp_path / "edf", night=1)
    small_pair(tmp_path / "edf", night=2)
    load_dataset(_cfg(tmp_path), progress=False)
    # rewrite night 2's hypnogram with different scoring: same name, other content
    stages = [(0, 1800, "Sleep stage W"), (1800, 3600, "Sleep stage 2"), (5400, 1800, "Sleep stage W")]
    small_pair(tmp_path / "edf", night=2, stages=stages)
    calls = []
    real = sleep_edf.read_night

    def counting(psg, hyp, **kw):
        calls.append(psg.name)
        return real(psg, hyp, **kw)

    monkeypatch.setattr(sleep_edf, "read_night", counting)
    ds = load_dataset(_cfg(tmp_path), progress=False)
    assert calls == ["SC4002E0-PSG.edf"]
    assert ds.info["cache_hits"] == 1
    assert set(np.unique(ds.nights[1].y)) == {0, 2}


@pytest.mark.parametrize("change", [{"trim_wake_min": 10.0}, {"channel": "EEG Pz-Oz"}])
def test_changed_reader_parameters_invalidate(tmp_path, change):
    small_pair(tmp_path / "edf")
    a = load_dataset(_cfg(tmp_path), progress=False)
    b = load_dataset(_cfg(tmp_path, **change), progress=False)
    assert b.info["cache_hits"] == 0
    assert not np.array_equal(a.nights[0].x[:5], b.nights[0].x[:5]) or len(a.nights[0].y) != len(b.nights[0].y)
    c = load_dataset(_cfg(tmp_path, **change), progress=False)
    assert c.info["cache_hits"] == 1


def test_damaged_cache_file_is_rebuilt(tmp_path):
    small_pair(tmp_path / "edf")
    a = load_dataset(_cfg(tmp_path), progress=False)
    (tmp_path / "cache" / "sleep-edf" / "SC4001E0.npz").write_bytes(b"not an npz")
    b = load_dataset(_cfg(tmp_path), progress=False)
    assert b.info["cache_hits"] == 0 and np.array_equal(a.nights[0].x, b.nights[0].x)
    (tmp_path / "cache" / "sleep-edf" / "cache.json").write_text("{broken")
    c = load_dataset(_cfg(tmp_path), progress=False)
    assert c.info["cache_hits"] == 0
