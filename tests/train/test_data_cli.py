"""``sleepedge data`` fetch / prepare / info: help texts, prepare on synthetic, info, fetch (offline, patched)."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from edf_fixtures import small_pair

from sleepedge.commands import data
from sleepedge.core.errors import DataError
from sleepedge.train.fetch import fetch_sleep_edf, parse_subjects


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sleepedge data", description=data.HELP)
    data.add_arguments(parser)
    return parser


def _run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    return data.run(args)


@pytest.mark.parametrize("argv", [[], ["fetch"], ["prepare"], ["info"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(argv + ["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: sleepedge data" in out
    assert {"fetch": "--subjects", "prepare": "--band-power", "info": "--cache-dir"}.get(argv[0] if argv else "",
                                                                                        "ACTION") in out


def test_module_imports_nothing_heavy():
    code = ("import sys, sleepedge.commands.data as d, argparse; p = argparse.ArgumentParser(); d.add_arguments(p); "
            "print(sorted(m for m in ('mne', 'torch', 'scipy', 'tensorflow', 'sleepedge.train.dataset') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_prepare_synthetic_prints_count_table_and_band_power(capsys):
    rc = _run(["prepare", "--dataset", "synthetic", "--band-power", "--set", "data.synthetic_subjects=2",
               "--set", "data.synthetic_hours=0.5"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "SYNTHETIC" in out and "SYN00001" in out and "SYN00102" in out
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert total.split()[1:4] == ["2", "4", str(4 * (60 + 60 + 60))]  # 2 subjects, 4 nights of 1.5 h
    assert "alpha" in out and "REM" in out and "not cached" in out


def test_prepare_and_info_on_a_folder(tmp_path, capsys):
    small_pair(tmp_path / "edf", subject=0, night=1)
    base = ["--data-dir", str(tmp_path / "edf"), "--cache-dir", str(tmp_path / "cache"), "--subjects", "0"]
    assert _run(["info"] + base) == 0
    out = capsys.readouterr().out
    assert "SC4001E0" in out and "SC4001EC-Hypnogram.edf" in out and "0 night(s) for the current" in out
    assert _run(["prepare"] + base) == 0
    assert "SC4001E0" in capsys.readouterr().out
    assert _run(["info"] + base) == 0
    assert "1 night(s) for the current" in capsys.readouterr().out


def test_parse_subjects():
    assert parse_subjects("0-19") == list(range(20))
    assert parse_subjects("0,3,5-7,3") == [0, 3, 5, 6, 7]
    for bad in ("", "a", "5-2", "-1"):
        with pytest.raises(DataError):
            parse_subjects(bad)


def test_fetch_uses_mne_fetcher(tmp_path, monkeypatch, capsys):
    from mne.datasets.sleep_physionet import age

    calls = {}

    def fake_fetch(subjects, recording, path, on_missing, **kw):
        calls.update(subjects=subjects, recording=recording, path=path, on_missing=on_missing)
        folder = Path(path) / "physionet-sleep-data"
        return [[str(folder / f"SC4{s:02d}{r}E0-PSG.edf"), str(folder / f"SC4{s:02d}{r}EC-Hypnogram.edf")]
                for s in subjects for r in recording if not (s == 13 and r == 2)]

    monkeypatch.setattr(age, "fetch_data", fake_fetch)
    pairs = fetch_sleep_edf(list(range(20)), tmp_path)
    assert calls == {"subjects": list(range(20)), "recording": [1, 2], "path": str(tmp_path), "on_missing": "warn"}
    assert len(pairs) == 39 and pairs[0][0].name == "SC4001E0-PSG.edf"
    assert _run(["fetch", "--subjects", "0-1", "--data-dir", str(tmp_path)]) == 0
    assert "4 night(s)" in capsys.readouterr().out


def test_fetch_failure_is_one_clear_error(tmp_path, monkeypatch):
    from mne.datasets.sleep_physionet import age

    def offline(**kw):
        raise ConnectionError("name resolution failed")

    monkeypatch.setattr(age, "fetch_data", offline)
    with pytest.raises(DataError, match="download of Sleep-EDF failed.*--data-dir"):
        fetch_sleep_edf([0], tmp_path)
