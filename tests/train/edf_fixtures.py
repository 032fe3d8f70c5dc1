"""Test helpers: write PSG EDF files in Sleep-EDF's layout with edfio (a maintained EDF writer).

Sleep-EDF cassette PSG files hold EEG Fpz-Cz, EEG Pz-Oz and EOG horizontal at 100 Hz and four
1-Hz channels, in 30-s data records. The EEG written here is a cheap marker signal: epoch ``k`` of
``EEG Fpz-Cz`` holds a constant :func:`fpz_level` (plus a small sine), ``EEG Pz-Oz`` its negative,
so a test can tell from the values which 30-s epoch of which channel the reader returned.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from edfio import Edf, EdfSignal, Patient, Recording

SLOW_CHANNELS = ("Resp oro-nasal", "EMG submental", "Temp rectal", "Event marker")  # 1 Hz in Sleep-EDF


def fpz_level(k: np.ndarray | int) -> np.ndarray:
    """Marker value (microvolts) of epoch ``k`` of the written Fpz-Cz channel."""
    return ((np.asarray(k) * 37) % 160 - 80).astype(np.float64)


def marker_eeg(n_epochs: int, sfreq: float = 100.0) -> np.ndarray:
    """Fpz-Cz marker signal: per-epoch constant plus a 5-uV 3-Hz sine."""
    spe = int(round(30 * sfreq))
    one_epoch = 5.0 * np.sin(2 * np.pi * 3.0 * np.arange(spe) / sfreq)  # whole cycles: tiles seamlessly
    return (fpz_level(np.arange(n_epochs))[:, None] + one_epoch[None, :]).ravel()


def write_psg(
    path: str | Path,
    start: dt.datetime,
    duration_s: int,
    eeg: np.ndarray | None = None,
    sfreq: float = 100.0,
    channel: str = "EEG Fpz-Cz",
    slow_channels: bool = True,
    second_eeg: bool = True,
) -> Path:
    """Write a Sleep-EDF-like PSG: ``channel`` (``eeg`` or the marker signal), ``EEG Pz-Oz`` (its negative,
    unless ``second_eeg`` is false) and the four 1-Hz channels, in 30-s data records."""
    n_epochs = int(duration_s // 30)
    fpz = marker_eeg(n_epochs, sfreq) if eeg is None else np.asarray(eeg, dtype=np.float64)
    lim = max(200.0, float(np.nanmax(np.abs(fpz))) + 1.0) if np.isfinite(fpz).any() else 200.0
    signals = [EdfSignal(fpz, sfreq, label=channel, physical_dimension="uV", physical_range=(-lim, lim))]
    if second_eeg:
        signals.append(EdfSignal(-fpz, sfreq, label="EEG Pz-Oz", physical_dimension="uV",
                                 physical_range=(-lim, lim)))
    if slow_channels:
        for name in SLOW_CHANNELS:
            signals.append(EdfSignal(np.zeros(int(duration_s)), 1.0, label=name, physical_range=(-1.0, 1.0)))
    edf = Edf(signals, patient=Patient(name="X"), recording=Recording(startdate=start.date()),
              starttime=start.time(), data_record_duration=30)
    edf.write(Path(path))
    return Path(path)


def write_hypnogram(path: str | Path, start: dt.datetime, stages: list[tuple[float, float, str]]) -> Path:
    """Write an EDF+ hypnogram (annotations only, like Sleep-EDF's) of ``(onset_s, duration_s, text)``."""
    from edfio import EdfAnnotation

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    edf = Edf([], patient=Patient(name="X"), recording=Recording(startdate=start.date()), starttime=start.time(),
              annotations=[EdfAnnotation(float(o), float(d), t) for o, d, t in stages])
    edf.write(Path(path))
    return Path(path)


def set_signal_header(path: str | Path, signal: int, field: str, value: str) -> None:
    """Overwrite one per-signal header field in place (e.g. ``"digital_max"``) to make a damaged file."""
    offsets = {"label": (0, 16), "physical_min": (104, 8), "physical_max": (112, 8),
               "digital_min": (120, 8), "digital_max": (128, 8)}
    raw = bytearray(Path(path).read_bytes())
    ns = int(raw[252:256].decode("ascii"))
    base, width = offsets[field]
    pos = 256 + base * ns + signal * width
    raw[pos:pos + width] = value.ljust(width).encode("ascii")[:width]
    Path(path).write_bytes(bytes(raw))


START = dt.datetime(1989, 4, 24, 16, 13, 0)
SMALL_STAGES = [(0, 1800, "Sleep stage W"), (1800, 300, "Sleep stage 1"), (2100, 1500, "Sleep stage 2"),
                (3600, 600, "Sleep stage 3"), (4200, 300, "Sleep stage 4"), (4500, 60, "Movement time"),
                (4560, 840, "Sleep stage R"), (5400, 1800, "Sleep stage W")]
SMALL_SECONDS = 7200  # 240 epochs; sleep from epoch 60 to 179, movement at epochs 150-151


def small_pair(folder: str | Path, subject: int = 0, night: int = 1, scorer: str = "C",
               stages: list | None = None, psg_kwargs: dict | None = None) -> tuple[Path, Path]:
    """A 2-hour PSG + hypnogram pair named like Sleep-EDF (``SC4ssNE0-PSG.edf``, ``SC4ssN<scorer>-Hypnogram.edf``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"SC4{subject:02d}{night}"
    kwargs = {"start": START, "duration_s": SMALL_SECONDS, **(psg_kwargs or {})}
    psg = write_psg(folder / f"{stem}E0-PSG.edf", **kwargs)
    hyp = write_hypnogram(folder / f"{stem}E{scorer}-Hypnogram.edf", START, stages or SMALL_STAGES)
    return psg, hyp
