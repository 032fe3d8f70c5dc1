"""The EDF header checks both readers share (``check_signal_header``): physical dimension, digital and physical
ranges, the annotation channel; each refusal is one DataError naming the file, the channel and the field."""
from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from edf_fixtures import START, fpz_level, set_signal_header, small_pair, write_psg
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sleepedge.core.errors import DataError
from sleepedge.train.sleep_edf import VOLT_SCALE, read_night, read_recording

FIELDS = {"physical_dimension": (96, 8), "physical_min": (104, 8), "physical_max": (112, 8),
          "digital_min": (120, 8), "digital_max": (128, 8)}


def set_field(path: Path, signal: int, field: str, value: bytes) -> None:
    """Overwrite one per-signal header field with raw bytes (set_signal_header writes ASCII only: no µ)."""
    raw = bytearray(path.read_bytes())
    ns = int(raw[252:256].decode("ascii"))
    base, width = FIELDS[field]
    pos = 256 + base * ns + signal * width
    raw[pos:pos + width] = value[:width].ljust(width)
    path.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return write_psg(tmp_path_factory.mktemp("hdr") / "base.edf", START, 300)


@pytest.mark.parametrize("field,value,expect", [
    ("digital_min", "32767", "'digital minimum' (32767) is not below 'digital maximum' (32767)"),
    ("digital_min", "40000", "'digital minimum' (40000) is not below"),
    ("physical_min", "200", "'physical minimum' and 'physical maximum' are both 200"),
    ("digital_max", "abc", "'digital maximum' is 'abc', not a number"),
    ("physical_min", "inf", "'physical minimum' is 'inf', not a finite number"),
])
def test_bad_ranges_are_refused_by_both_readers(tmp_path, field, value, expect):
    psg, hyp = small_pair(tmp_path)
    set_signal_header(psg, 0, field, value)
    for read in (lambda: read_night(psg, hyp), lambda: read_recording(psg)):
        with pytest.raises(DataError) as exc:
            read()
        assert str(psg) in str(exc.value) and "'EEG Fpz-Cz'" in str(exc.value) and expect in str(exc.value)


@pytest.mark.parametrize("dimension,scale", [(b"uV", 1), (b"UV", 1), ("\u00b5V".encode(), 1), (b"\xb5V", 1),
                                             ("\u03bcV".encode(), 1), (b"mV", 1e3), (b"MV", 1e3), (b"V", 1e6),
                                             (b"nV", 1)])
def test_every_voltage_spelling_is_read_at_its_own_scale(base, tmp_path, dimension, scale):
    """MNE scales only its own spellings (uV, µV, mV) and takes any other as volts: the reader corrects it."""
    psg = Path(shutil.copy(base, tmp_path / "v.edf"))
    set_field(psg, 0, "physical_dimension", dimension)
    if dimension == b"nV":  # the same microvolts written in nanovolts (else the signal is flat)
        set_field(psg, 0, "physical_min", b"-200000")
        set_field(psg, 0, "physical_max", b"200000")
    x = read_recording(psg).x
    assert np.allclose(x.mean(axis=1), fpz_level(np.arange(len(x))) * scale, rtol=1e-3, atol=0.05 * abs(scale))


@pytest.mark.parametrize("channel,dimension,expect", [
    ("EEG Fpz-Cz", b"%", "is recorded in '%', not a voltage"),
    ("EEG Fpz-Cz", b"", "has an empty 'physical dimension'"),
    ("Resp oro-nasal", b"", "has an empty 'physical dimension'"),
    ("EEG Pz-Oz", b"mmHg", "is recorded in 'mmHg'"),
])
def test_non_voltage_channel_is_refused_unless_allowed(base, tmp_path, channel, dimension, expect):
    psg = Path(shutil.copy(base, tmp_path / "n.edf"))
    index = ["EEG Fpz-Cz", "EEG Pz-Oz", "Resp oro-nasal"].index(channel)
    set_field(psg, index, "physical_dimension", dimension)
    with pytest.raises(DataError, match="--allow-non-eeg scores it anyway") as exc:
        read_recording(psg, channel=channel, sfreq=1.0 if channel.startswith("Resp") else 100.0)
    assert str(psg) in str(exc.value) and expect in str(exc.value)
    if channel.startswith("EEG"):  # allowed: the physical values, taken as microvolts
        x = read_recording(psg, channel=channel, allow_non_eeg=True).x
        assert np.allclose(np.abs(x.mean(axis=1)), np.abs(fpz_level(np.arange(len(x)))), atol=0.05)


def test_non_eeg_label_in_volts_is_refused(tmp_path):
    psg = write_psg(tmp_path / "ecg.edf", START, 300, channel="ECG")  # written in uV: a voltage, but not EEG
    with pytest.raises(DataError, match="labelled as a ECG signal"):
        read_recording(psg, channel="ECG")
    assert read_recording(psg, channel="ECG", allow_non_eeg=True).x.shape == (10, 3000)


def test_annotation_channel_is_refused_always(tmp_path):
    from edfio import Edf, EdfAnnotation, EdfSignal, Patient, Recording

    sig = EdfSignal(np.random.default_rng(0).standard_normal(30000) * 20, 100, label="EEG Fpz-Cz",
                    physical_dimension="uV", physical_range=(-200, 200))
    path = tmp_path / "plus.edf"
    Edf([sig], patient=Patient(name="X"), recording=Recording(startdate=START.date()), starttime=START.time(),
        annotations=[EdfAnnotation(0, 30, "Sleep stage W")]).write(path)
    assert read_recording(path).x.shape == (10, 3000)
    for allow in (False, True):
        with pytest.raises(DataError, match="is the EDF\\+ annotation channel") as exc:
            read_recording(path, channel="EDF Annotations", allow_non_eeg=allow)
        assert str(path) in str(exc.value)


def test_two_signals_with_the_channel_label_are_refused(base, tmp_path):
    psg = Path(shutil.copy(base, tmp_path / "dup.edf"))
    set_signal_header(psg, 1, "label", "EEG Fpz-Cz")
    with pytest.raises(DataError, match="2 signals are labelled 'EEG Fpz-Cz'"):
        read_recording(psg)


# --- property: any header values are read or refused with a DataError naming the file, never another error -----

NUMBER = st.one_of(st.integers(-(10 ** 7), 10 ** 8 - 1).map(lambda v: str(v).encode()),
                   st.floats(allow_nan=True, allow_infinity=True).map(lambda v: repr(v).encode()[:8]),
                   st.sampled_from([b"", b"-", b"1e999", b"nan", b" 12 ", b"0x10", b"1_0"]),
                   st.binary(max_size=8))
DIMENSION = st.one_of(st.sampled_from([b"uV", b"UV", b"mV", b"V", b"nV", b"\xb5V", "\u03bcV".encode(), b"%", b"",
                                       b"mmHg", b"degC"]), st.binary(max_size=8))


def _number(raw: bytes) -> float | None:
    try:
        text = raw.strip().decode("utf-8")
    except UnicodeDecodeError:
        text = raw.strip().decode("latin-1")
    try:
        return float(text)
    except ValueError:
        return None


RANGES = ("physical_min", "physical_max", "digital_min", "digital_max")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dimension=DIMENSION, values=st.tuples(NUMBER, NUMBER, NUMBER, NUMBER), keep=st.sets(st.sampled_from(RANGES)),
       allow=st.booleans())
def test_random_header_fields_are_read_or_refused_naming_the_file(base, dimension, values, keep, allow):
    """``keep``: range fields left as written (valid), so that accepted headers are drawn too."""
    with tempfile.TemporaryDirectory() as tmp:
        psg = Path(shutil.copy(base, Path(tmp) / "h.edf"))
        set_field(psg, 0, "physical_dimension", dimension)
        for field, value in zip(RANGES, values):
            if field not in keep:
                set_field(psg, 0, field, value)
        raw = psg.read_bytes()
        try:
            rec = read_recording(psg, allow_non_eeg=allow)
        except DataError as exc:
            event("refused")
            assert str(psg) in str(exc) and "\n" not in str(exc)
            return
    event("accepted")
    ns = int(raw[252:256])
    written = [raw[256 + FIELDS[f][0] * ns: 256 + FIELDS[f][0] * ns + 8] for f in RANGES]
    values = [_number(v) for v in written]
    assert all(v is not None and math.isfinite(v) for v in values), values  # accepted: every range is a number,
    assert values[2] < values[3] and values[0] != values[1]  # digital min below max, physical min and max differ
    if not allow:
        assert dimension.strip() == b"\x83\xcaV" or any(
            dimension.decode(enc, "ignore").strip().casefold() in VOLT_SCALE for enc in ("utf-8", "latin-1"))
    assert np.isfinite(rec.x).all()
