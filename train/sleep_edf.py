"""Read one Sleep-EDF night (PSG EDF + hypnogram EDF+) with MNE into a :class:`~sleepedge.train.dataset.Night`.

Pairing: ``SC4ssNE0-PSG.edf`` with ``SC4ssN?-Hypnogram.edf`` (the scorer letter ``?`` varies).
Every problem with the files becomes one :class:`~sleepedge.core.errors.DataError` naming the file. The
header fields MNE hides or has already applied (physical dimension, digital and physical ranges) are
checked first, from the fixed-width header (:func:`check_signal_header`).
"""
from __future__ import annotations

import datetime as _dt
import logging
import math
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


# The EDF header is read by hand for these checks. MNE turns a signal's physical dimension into a scale
# factor (an unknown spelling silently becomes 1, i.e. volts, and get_data(units="uV") then multiplies by
# 1e6) and keeps the digital and physical ranges only in a private attribute, after using them (a digital
# minimum above the maximum flips the signal, equal ones divide by zero); edfio exposes the fields but a
# malformed one is a bare ValueError naming no field. The header is fixed-width ASCII (EDF spec: 256 bytes,
# then 256 bytes per signal, each field an array over the signals), so the six fields are read directly.
EDF_ANNOTATIONS = "EDF Annotations"
VOLT_SCALE = {"v": 1.0, "mv": 1e-3, "uv": 1e-6, "\u03bcv": 1e-6, "nv": 1e-9}  # casefolded: µ (micro sign) folds to μ
_SJIS_MICRO_V = b"\x83\xcaV"  # μV in Shift-JIS, which MNE also reads as microvolts
# EDF+ labels start with the signal type ("EEG Fpz-Cz", "ECG", "SaO2"): these types are not EEG even when
# recorded in volts (an ECG in mV passes the dimension rule)
NON_EEG_TYPES = ("ECG", "EKG", "EOG", "EMG", "ERG", "MEG", "MCG", "Resp", "SaO2", "SpO2", "Pleth", "Temp", "Light",
                 "Sound", "Event")
_NON_EEG_LABEL = re.compile(rf"^({'|'.join(NON_EEG_TYPES)})(?![a-z])", re.IGNORECASE)
SIGNAL_FIELDS = {"label": (0, 16), "physical dimension": (96, 8), "physical minimum": (104, 8),
                 "physical maximum": (112, 8), "digital minimum": (120, 8), "digital maximum": (128, 8)}


@dataclass(frozen=True)
class SignalHeader:
    """The checked header of the signal a reader reads.

    ``volt_scale`` is volts per physical unit (``None``: the dimension is not a voltage); ``gain_to_mne``
    takes MNE's microvolts to this reader's: the dimension's true scale over the one MNE applied (a
    non-voltage channel's physical values are passed on as if they were microvolts).
    """

    label: str
    dimension: str
    volt_scale: float | None
    gain_to_mne: float


def _field_text(raw: bytes) -> str:
    """A header field as text: UTF-8 where it decodes (μ, µ), else Latin-1 (every byte decodes)."""
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def read_signal_headers(psg: Path) -> list[dict[str, bytes]]:
    """The :data:`SIGNAL_FIELDS` of every signal of ``psg`` (stripped bytes), from the fixed-width header.

    Raises
    ------
    DataError
        The header declares no signal, or is shorter than it declares.
    """
    with open(psg, "rb") as f:
        head = f.read(256)
        try:
            ns = int(head[252:256].decode("ascii")) if len(head) == 256 else 0
        except (ValueError, UnicodeDecodeError):
            ns = 0
        block = f.read(256 * ns) if ns > 0 else b""
    if ns <= 0 or len(block) != 256 * ns:
        raise DataError(f"{psg}: not a readable EDF file (the header declares no signal, or is shorter than it "
                        "declares)")
    return [{name: block[base * ns + i * width: base * ns + (i + 1) * width].strip()
             for name, (base, width) in SIGNAL_FIELDS.items()} for i in range(ns)]


def volt_scale(dimension: bytes) -> float | None:
    """Volts per unit of an EDF physical dimension (uV, µV, μV, mV, V, nV in any case); ``None`` otherwise."""
    if dimension.strip() == _SJIS_MICRO_V:
        return 1e-6
    return VOLT_SCALE.get(_field_text(dimension).casefold())


def _mne_volt_scale(dimension: bytes) -> float:
    """The scale MNE's EDF reader applies: its microvolt spellings 1e-6, ``mV`` 1e-3, anything else 1."""
    unit = dimension.strip().decode("latin-1")
    return 1e-6 if unit in ("\u03bcV", "\u00b5V", "\x83\xcaV", "uV") else 1e-3 if unit == "mV" else 1.0


def _header_number(psg: Path, channel: str, fields: dict[str, bytes], name: str) -> float:
    text = _field_text(fields[name])
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{psg}: channel {channel!r}: header field '{name}' is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{psg}: channel {channel!r}: header field '{name}' is {text!r}, not a finite number "
                        "(NaN or infinite)")
    return value


def _check_ranges(psg: Path, channel: str, fields: dict[str, bytes]) -> None:
    """Digital minimum below maximum, physical minimum unequal to maximum (else the samples cannot be scaled)."""
    pmin, pmax, dmin, dmax = (_header_number(psg, channel, fields, f"{kind} {end}")
                              for kind in ("physical", "digital") for end in ("minimum", "maximum"))
    if dmin >= dmax:
        raise DataError(f"{psg}: channel {channel!r}: header field 'digital minimum' ({dmin:g}) is not below "
                        f"'digital maximum' ({dmax:g}); the samples cannot be scaled")
    if pmin == pmax:
        raise DataError(f"{psg}: channel {channel!r}: header fields 'physical minimum' and 'physical maximum' "
                        f"are both {pmin:g}; the samples cannot be scaled")


def _find_signal(psg: Path, channel: str, signals: list[dict[str, bytes]]) -> dict[str, bytes]:
    """The header fields of ``channel`` (labels compared as MNE decodes them: Latin-1, stripped)."""
    labels = [s["label"].decode("latin-1").strip() for s in signals]
    if channel.strip() == EDF_ANNOTATIONS:
        raise DataError(f"{psg}: channel {channel!r} is the EDF+ annotation channel (text, not a signal); "
                        "name an EEG channel")
    hits = [i for i, label in enumerate(labels) if label == channel]
    if not hits:
        names = ", ".join(label for label in labels if label != EDF_ANNOTATIONS)
        raise DataError(f"{psg}: no channel {channel!r} (channels: {names})")
    if len(hits) > 1:
        raise DataError(f"{psg}: {len(hits)} signals are labelled {channel!r}; cannot tell which one to read")
    return signals[hits[0]]


def _refuse_non_eeg(psg: Path, channel: str, dimension: str, scale: float | None) -> None:
    """Refuse a channel that is not a voltage, or whose EDF+ label names a non-EEG signal type."""
    typed = _NON_EEG_LABEL.match(channel.strip())
    if scale is not None and not typed:
        return
    if scale is None:
        what = f"is recorded in {dimension!r}, not a voltage (uV, mV, V)" if dimension else \
            "has an empty 'physical dimension', not a voltage (uV, mV, V)"
    else:
        what = f"is labelled as a {typed.group(1)} signal (the EDF+ signal type of its label)"
    raise DataError(f"{psg}: channel {channel!r} {what}: not an EEG channel; --allow-non-eeg scores it anyway")


def check_signal_header(psg: str | Path, channel: str, require_eeg: bool = False) -> SignalHeader:
    """Check the header of ``channel`` in ``psg`` before MNE reads it (shared by both readers).

    Raises
    ------
    DataError
        A header too short, no such channel or two of that name, the EDF+ annotation channel, a
        digital/physical minimum or maximum that is not a finite number, a digital minimum not below
        the maximum, equal physical minimum and maximum, or (``require_eeg``) a physical dimension that
        is not a voltage or a label of a non-EEG signal type (:data:`NON_EEG_TYPES`). Each names the
        file, the channel and the field.
    """
    psg = Path(psg)
    fields = _find_signal(psg, channel, read_signal_headers(psg))
    _check_ranges(psg, channel, fields)
    dimension = fields["physical dimension"]
    scale = volt_scale(dimension)
    text = _field_text(dimension)
    if require_eeg:
        _refuse_non_eeg(psg, channel, text, scale)
    gain = (scale if scale is not None else 1e-6) / _mne_volt_scale(dimension)
    return SignalHeader(channel, text, scale, gain)


def _open_raw(psg: Path, channel: str, require_eeg: bool = False):
    """``(raw, gain)``: ``mne.io.read_raw_edf`` of one channel, with corrupt/truncated files and bad header
    fields (:func:`check_signal_header`) turned into ``DataError``; ``gain`` corrects MNE's scaling."""
    import mne

    gain = check_signal_header(psg, channel, require_eeg).gain_to_mne

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
        return read([channel]), gain
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


def _signal(raw, psg: Path, epoch_index: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """``(n_epochs, 30 * sfreq)`` float32 microvolts of the kept epochs; NaN and flat signals refused.

    ``gain`` multiplies MNE's microvolts (see :attr:`SignalHeader.gain_to_mne`).
    """
    spe = int(round(EPOCH_SEC * raw.info["sfreq"]))
    first, last = int(epoch_index[0]), int(epoch_index[-1])
    data = raw.get_data(start=first * spe, stop=(last + 1) * spe, units="uV", verbose="error")[0] * gain
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
                   resample: bool = False, allow_non_eeg: bool = False) -> Recording:
    """Read one EDF recording for scoring (``sleepedge predict``): the same reader and refusals as training.

    Every full 30-s epoch from the start of the recording is returned (a trailing partial epoch is
    dropped); no hypnogram is needed and no wake is trimmed. Unless ``allow_non_eeg``, the channel's
    physical dimension must be a voltage (:data:`VOLT_SCALE`) and its label not of a non-EEG signal type
    (:data:`NON_EEG_TYPES`); with it, a non-voltage channel's physical values are returned as if they
    were microvolts.

    Raises
    ------
    DataError
        File missing, corrupt or truncated EDF, no such channel, the annotation channel, a bad header
        field (:func:`check_signal_header`), a non-voltage channel (unless ``allow_non_eeg``), another
        sampling rate (unless ``resample``), a recording shorter than one epoch, NaN or flat signal.
    """
    psg = Path(psg)
    _require_files(psg)
    raw, gain = _open_raw(psg, channel, require_eeg=not allow_non_eeg)
    raw = _check_rate(raw, psg, float(sfreq), resample)
    x = _signal(raw, psg, np.arange(_full_epochs(raw, psg)), gain)
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
        Missing channel, a bad header field (:func:`check_signal_header`), other sampling rate,
        corrupt/truncated EDF, hypnogram not matching the recording, NaN or flat signal.
    """
    psg, hyp = Path(psg), Path(hyp)
    _require_files(psg, hyp)
    raw, gain = _open_raw(psg, channel)
    n_epochs = _full_epochs(raw := _check_rate(raw, psg, float(sfreq), resample), psg)
    y_full = _hypnogram_grid(hyp, raw.info["meas_date"], n_epochs)
    epoch_index = trim_wake(y_full, trim_wake_min, source=str(hyp))
    x = _signal(raw, psg, epoch_index, gain)
    record = psg.name[: len("SC4ssNE0")].upper()
    subject, night = record_subject_night(record)
    return Night(record=record, subject=subject, night=night, x=x, y=y_full[epoch_index].astype(np.int64),
                 epoch_index=epoch_index.astype(np.int32), source=f"{psg}, {hyp}")
