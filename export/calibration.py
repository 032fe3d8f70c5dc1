"""Class-stratified sample of real training sequences for int8 calibration, with a clipped input range.

Calibration on the sequences the model will see (raw microvolt EEG, every sleep stage present),
never onnx2tf's default image set. The train stage writes ``RUN/train/calib.npz`` with the same picker
(:func:`sleepedge.train.sequences.stratified_sequences`);
export can also draw the sample from given arrays.

The TFLite converter calibrates every tensor's int8 range by min/max over the calibration data, so the
input's range is set by the largest artefact in the sample (movement, K-complexes: +-550 uV on the
demo's data), which makes one int8 input step about 4 uV: coarse for 20-50 uV EEG. Measured with
``python -m sleepedge.lab.quant_report`` on the demo's models, that input rounding alone cost
about half of the int8 model's macro-F1 loss. :func:`clip_range` clips the calibration sequences at a
percentile of |x| (99.9 by default, about +-230 uV), so the input grid is finer and rarer large
samples saturate, as an ADC's range would make them.
"""
from __future__ import annotations

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.train.sequences import stratified_sequences


def calibration_sample(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``x[stratified_sequences(y, n, seed=seed)]`` as float32, after shape checks."""
    x = np.asarray(x)
    if x.ndim != 4 or x.shape[2] != 1 or x.shape[:2] != np.asarray(y).shape:
        raise DataError(f"calibration data: expected x (N, T, 1, samples) matching y (N, T); got {x.shape} and {np.shape(y)}")
    return np.ascontiguousarray(x[stratified_sequences(y, n, seed=seed)], dtype=np.float32)


def clip_range(x: np.ndarray, percentile: float) -> tuple[np.ndarray, float | None]:
    """``x`` clipped to +-(the ``percentile`` of |x|), and that bound in the data's unit (None: not clipped).

    ``percentile`` in (0, 100); 100 or more keeps the data's own min/max (no clipping).
    """
    if percentile >= 100:
        return x, None
    if not 0 < percentile < 100:
        raise DataError(f"export.calib_clip_percentile must be in (0, 100], got {percentile}")
    bound = float(np.percentile(np.abs(x), percentile))
    if bound <= 0:
        return x, None
    return np.clip(x, -bound, bound).astype(np.float32, copy=False), bound
