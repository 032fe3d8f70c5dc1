"""Class-stratified calibration picker and the C-array round trip (no TensorFlow needed)."""
from __future__ import annotations

import numpy as np
import pytest

from sleepedge.core.errors import DataError
from sleepedge.export.calibration import calibration_sample
from sleepedge.train.sequences import stratified_sequences
from sleepedge.export.carray import read_c_array, write_c_array


def _labels():
    y = np.full((40, 10), 2)  # mostly N2
    y[3, :4] = 1  # one sequence with some N1
    y[7:9, :] = 3  # two N3 sequences
    y[20:30, 5:] = 0
    y[35, :] = 4
    return y


def test_stratified_sample_covers_every_stage():
    y = _labels()
    idx = stratified_sequences(y, 5, seed=0)
    assert len(idx) == 5 and len(set(idx)) == 5
    assert set(np.unique(y[idx])) == {0, 1, 2, 3, 4}
    assert 3 in idx  # the only N1 sequence is chosen
    np.testing.assert_array_equal(idx, stratified_sequences(y, 5, seed=0))


def test_stratified_sample_all_and_errors():
    y = _labels()
    np.testing.assert_array_equal(stratified_sequences(y, 100), np.arange(40))
    with pytest.raises(DataError):
        stratified_sequences(y, 0)
    with pytest.raises(DataError):
        calibration_sample(np.zeros((40, 10, 3000), np.float32), y, 4)


def test_calibration_sample_takes_the_chosen_sequences():
    y = _labels()
    x = np.arange(40, dtype=np.float32)[:, None, None, None] * np.ones((1, 10, 1, 30), np.float32)
    got = calibration_sample(x, y, 5)
    np.testing.assert_array_equal(got[:, 0, 0, 0], stratified_sequences(y, 5).astype(np.float32))
    assert got.dtype == np.float32


def test_c_array_round_trips_bytes(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8).tobytes() + b"\x00\xff"
    src = tmp_path / "m.tflite"
    src.write_bytes(data)
    cc, h = write_c_array(src, tmp_path / "c", symbol="g_model")
    assert read_c_array(cc) == data
    text = cc.read_text()
    assert "alignas(16) const unsigned char g_model[]" in text and f"g_model_len = {len(data)};" in text
    assert "extern const unsigned char g_model[];" in h.read_text()
    with pytest.raises(FileExistsError):
        write_c_array(src, tmp_path / "c")


def test_c_array_reader_rejects_wrong_length(tmp_path):
    p = tmp_path / "bad.cc"
    p.write_text("const unsigned char g[] = {0x01, 0x02};\nconst unsigned int g_len = 3;\n")
    with pytest.raises(ValueError, match="2 bytes"):
        read_c_array(p)


def test_clip_range_bounds_the_input_at_a_percentile():
    from sleepedge.core.errors import DataError
    from sleepedge.export.calibration import clip_range

    x = np.concatenate([np.linspace(-100, 100, 999), [5000.0]]).astype(np.float32)
    clipped, bound = clip_range(x, 99.0)
    assert bound == pytest.approx(np.percentile(np.abs(x), 99.0)) and bound < 101
    assert clipped.max() == pytest.approx(bound) and clipped.min() >= -bound and clipped.dtype == np.float32
    same, none = clip_range(x, 100.0)
    assert none is None and same is x
    with pytest.raises(DataError, match="calib_clip_percentile"):
        clip_range(x, 0.0)
