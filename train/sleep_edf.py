"""Read one Sleep-EDF night (PSG EDF + hypnogram EDF+) with MNE into a :class:`~sleepedge.train.dataset.Night`.

Pairing: ``SC4ssNE0-PSG.edf`` with ``SC4ssN?-Hypnogram.edf`` (the scorer letter ``?`` varies).
Every problem with the files becomes one :class:`~sleepedge.core.errors.DataError` naming the file.
"""
from __future__ import annotations

import datetime as _dt
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sleepedge.core.errors import DataError

from sleepedge.train.night import Night
from sleepedge.train.hypnogram import EPOCH_SEC, annotations_to_grid, trim_wake

log = logging.getLogger(__name__)

PSG_RE = re.compile(r"^(SC4(\d\d)(\d))E0-PSG\.edf$", re.IGNORECASE)
HYP_RE = re.compile(r"^(SC4(\d\d)(\d))E.-Hypnogram\.edf$", re.IGNORECASE)
MIN_COVERAGE = 0.5  # a hypnogram scoring under half of the PSG's epochs is taken as not this recording's
FLAT_UV = 0.1  # a channel whose standard deviation is below this (microvolts) is flat (disconnected)
_TRUNCATED = "Number of records from the header does not match the file size"


def find_pairs(data_dir: str | Path) -> dict[str, tuple[Path, Path | None]]:
    """Find ``{record: (psg, hypnogram or None)}`` under ``data_dir``, searched recursively.

    Raises
    ------
    DataError
        The same record appears twice (two PSG or two hypnogram files for one night).
    """
    psgs: dict[str, Path] = {}
    hyps: dict[str, Path] = {}
    for path in sorted(Path(data_dir).rglob("*.[eE][dD][fF]")):
        for regex, found, kind in ((PSG_RE, psgs, "PSG"), (HYP_RE, hyps, "hypnogram")):
            m = regex.match(path.name)
            if not m:
                continue
            stem = m.group(1).upper()
            if stem in found:
                raise DataError(f"{data_dir}: two {kind} files for {stem}E0: {found[stem]} and {path}")
            found[stem] = path
    return {f"{stem}E0": (psg, hyps.get(stem)) for stem, psg in sorted(psgs.items())}


def record_subject_night(record: str) -> tuple[int, int]:
    """``"SC4012E0"`` -> ``(1, 2)`` (subject 1, night 2)."""
    m = PSG_RE.match(f"{record}-PSG.edf")
    if not m:
        raise DataError(f"{record}: not a Sleep-EDF cassette record name (SC4ssNE0)")
    return int(m.group(2)), int(m.group(3))


def edf_start(path: str | Path) -> _dt.datetime:
    """Start date and time from an EDF header (bytes 168-184, ``dd.mm.yyhh.mm.ss``).

    ``mne.read_annotations`` does not return the hypnogram's start (``orig_time`` is None for EDF
    files), so these 16 header bytes are read directly; years 85-99 are 19xx, others 20xx (EDF spec).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(184)
        date, time = head[168:176].decode("ascii"), head[176:184].decode("ascii")
        day, month, year = (int(v) for v in date.split("."))
        hour, minute, second = (int(v) for v in time.split("."))
        year += 1900 if year >= 85 else 2000
        return _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.timezone.utc)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable EDF file (bad start date/time in the header: {exc})") from exc


def _open_raw(psg: Path, channel: str):
    """``mne.io.read_raw_edf`` of one channel, with corrupt/truncated files turned into ``DataError``."""
    import mne

    def read(include):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw = mne.io.read_raw_edf(psg, include=include, preload=False, verbose="warning")
        for w in caught:
            if _TRUNCATED in str(w.message):
                raise DataError(f"{psg}: truncated EDF file (the header promises more data records than the "
                                f"file holds)")
            if include is not None:
                log.warning("%s: %s", psg, w.message)
        return raw

    try:
        names = read(None).ch_names
        if channel not in names:
            raise DataError(f"{psg}: no channel {channel!r} (channels: {', '.join(names)})")
        return read([channel])
    except DataError:
        raise
    except Exception as exc:  # MNE raises ValueError/IndexError/... on a damaged header
        raise DataError(f"{psg}: not a readable EDF file ({type(exc).__name__}: {exc})") from exc


def _check_rate(raw, psg: Path, sfreq: float, resample: bool):
    have = float(raw.info["sfreq"])
    if abs(have - sfreq) < 1e-6:
        return raw
    if not resample:
        raise DataError(f"{psg}: channel {raw.ch_names[0]!r} is sampled at {have:g} Hz, expected {sfreq:g} Hz "
                        f"(set data.resample=true to resample it explicitly)")
    log.info("%s: resampling %s from %g Hz to %g Hz (data.resample=true)", psg, raw.ch_names[0], have, sfreq)
    return raw.load_data(verbose="error").resample(sfreq, verbose="error")


def _hypnogram_grid(hyp: Path, psg_start: _dt.datetime | None, n_epochs: int) -> np.ndarray:
    """The hypnogram on the PSG's epoch grid, checked to belong to the same recording."""
    import mne

    start = edf_start(hyp)
    if psg_start is not None and abs((start - psg_start).total_seconds()) > 0.5:
        raise DataError(f"{hyp}: hypnogram starts at {start:%Y-%m-%d %H:%M:%S}, the PSG at "
                        f"{psg_start:%Y-%m-%d %H:%M:%S}: not the same recording")
    try:
        annot = mne.read_annotations(hyp)
    except Exception as exc:
        raise DataError(f"{hyp}: cannot read hypnogram annotations ({type(exc).__name__}: {exc})") from exc
    y_full = annotations_to_grid(annot.onset, annot.duration, list(annot.description), n_epochs, source=str(hyp))
    covered = float(np.mean(y_full >= 0)) if n_epochs else 0.0
    if covered < MIN_COVERAGE:
        raise DataError(f"{hyp}: scores only {covered:.0%} of the {n_epochs} epochs of the PSG: the hypnogram "
                        f"does not cover the recording")
    return y_full


def _signal(raw, psg: Path, epoch_index: np.ndarray) -> np.ndarray:
    """``(n_epochs, 30 * sfreq)`` float32 microvolts of the kept epochs; NaN and flat signals refused."""
    spe = int(round(EPOCH_SEC * raw.info["sfreq"]))
    first, last = int(epoch_index[0]), int(epoch_index[-1])
    data = raw.get_data(start=first * spe, stop=(last + 1) * spe, units="uV", verbose="error")[0]
    x = data.reshape(-1, spe)[epoch_index - first].astype(np.float32)
    channel = raw.ch_names[0]
    bad = ~np.isfinite(x)
    if bad.any():
        raise DataError(f"{psg}: channel {channel!r} holds {int(bad.sum())} NaN/infinite samples in "
                        f"{int(bad.any(axis=1).sum())} kept epoch(s)")
    if float(np.std(x)) < FLAT_UV:
        raise DataError(f"{psg}: channel {channel!r} is flat (standard deviation {np.std(x):.3g} uV over the "
                        f"kept epochs)")
    return x


@dataclass
class Recording:
    """The EEG of one recording without a hypnogram: every full 30-s epoch from the start, in microvolts."""

    path: Path
    channel: str
    sfreq: float
    start: _dt.datetime  # from the EDF header
    x: np.ndarray  # float32 (n_epochs, 30 * sfreq)


def read_recording(psg: str | Path, channel: str = "EEG Fpz-Cz", sfreq: float = 100.0,
                   resample: bool = False) -> Recording:
    """Read one EDF recording for scoring (``sleepedge predict``): the same reader and refusals as training.

    Every full 30-s epoch from the start of the recording is returned (a trailing partial epoch is
    dropped); no hypnogram is needed and no wake is trimmed.

    Raises
    ------
    DataError
        File missing, corrupt or truncated EDF, no such channel, another sampling rate (unless
        ``resample``), a recording shorter than one epoch, NaN or flat signal.
    """
    psg = Path(psg)
    _require_files(psg)
    raw = _check_rate(_open_raw(psg, channel), psg, float(sfreq), resample)
    x = _signal(raw, psg, np.arange(_full_epochs(raw, psg)))
    return Recording(path=psg, channel=channel, sfreq=float(raw.info["sfreq"]), start=edf_start(psg), x=x)


def _require_files(*paths: Path) -> None:
    for path in paths:
        if not path.is_file():
            raise DataError(f"{path}: file not found")


def _full_epochs(raw, psg: Path) -> int:
    """Whole 30-s epochs in the recording; ``DataError`` when there is none."""
    n_epochs = int(raw.n_times // int(round(EPOCH_SEC * raw.info["sfreq"])))
    if n_epochs == 0:
        raise DataError(f"{psg}: recording is shorter than one 30-s epoch")
    return n_epochs


def read_night(
    psg: str | Path,
    hyp: str | Path,
    channel: str = "EEG Fpz-Cz",
    sfreq: float = 100.0,
    trim_wake_min: float = 30.0,
    resample: bool = False,
) -> Night:
    """Read one PSG + hypnogram pair into a :class:`Night` (EEG in microvolts, labels 0..4).

    Parameters
    ----------
    psg, hyp : path
        ``SC4ssNE0-PSG.edf`` and its ``SC4ssN?-Hypnogram.edf``.
    channel : str
        EEG channel to read.
    sfreq : float
        Expected sampling rate; another rate is refused unless ``resample``.
    trim_wake_min : float
        Minutes of wake kept before the first and after the last sleep epoch (negative: keep all).
    resample : bool
        Resample a channel of another rate to ``sfreq`` (explicit opt-in, logged).

    Raises
    ------
    DataError
        Missing channel, other sampling rate, corrupt/truncated EDF, hypnogram not matching the
        recording, NaN or flat signal.
    """
    psg, hyp = Path(psg), Path(hyp)
    _require_files(psg, hyp)
    raw = _check_rate(_open_raw(psg, channel), psg, float(sfreq), resample)
    n_epochs = _full_epochs(raw, psg)
    y_full = _hypnogram_grid(hyp, raw.info["meas_date"], n_epochs)
    epoch_index = trim_wake(y_full, trim_wake_min, source=str(hyp))
    x = _signal(raw, psg, epoch_index)
    record = psg.name[: len("SC4ssNE0")].upper()
    subject, night = record_subject_night(record)
    return Night(record=record, subject=subject, night=night, x=x, y=y_full[epoch_index].astype(np.int64),
                 epoch_index=epoch_index.astype(np.int32), source=f"{psg}, {hyp}")
