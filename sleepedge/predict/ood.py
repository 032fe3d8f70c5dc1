"""Out-of-distribution guard: does a recording look like the data the model was trained on?

``input_report(x, stats)`` compares one recording's epochs ``x`` (n_epochs, S) in uV with the training input
statistics an export writes into every model file (``provenance["input_stats"]``,
:func:`sleepedge.export.provenance.input_stats`). Three checks, each with its threshold:

* **range**: the fraction of samples beyond the int8 calibration range (the clip bound, else the calibration
  sample's largest |x|). The calibration clips at the 99.9th percentile of |x|, so training data has about
  0.1 % there (nights of other subjects of the training generator: up to 0.8 %); more than
  :data:`MAX_OUTSIDE` (2 %, twenty times the training's share) saturates the int8 input too often.
* **level**: the median |x| against the training's. A ratio above :data:`MAX_LEVEL_RATIO` (4, i.e. 12 dB) or
  below its inverse is another gain or unit (mV, V) or another montage's amplitude.
* **spectrum**: each epoch's band powers (dB re 1 uV^2, :func:`~sleepedge.export.provenance.band_powers_db`)
  against the nearest training profile (each stage's and the overall mean): the mean absolute dB difference
  over the bands, then the median over epochs (a night is a mixture of stages; each epoch is compared with
  the stage it looks most like). Above :data:`MAX_SPECTRAL_DB` (8 dB) is another spectral shape (another
  montage or reference, other filters) or another level. Nights of unseen subjects of the training generator
  lie at 2 to 5 dB from profiles of three training subjects; the same night low-pass filtered at 8 Hz (same
  RMS) at about 30 dB, scaled x10 at 16 dB (tests/predict/test_ood.py).
"""
from __future__ import annotations

from typing import Any

import numpy as np

MAX_OUTSIDE = 0.02
MAX_LEVEL_RATIO = 4.0
MAX_SPECTRAL_DB = 8.0


def calibration_bound(stats: dict[str, Any]) -> float | None:
    """The int8 calibration range (+- uV) of the statistics: the clip bound, else the sample's largest |x|."""
    cal = stats.get("calibration") or {}
    if cal.get("clip_uv"):
        return float(cal["clip_uv"])
    ends = [abs(float(cal[k])) for k in ("min_uv", "max_uv") if cal.get(k) is not None]
    return max(ends) if ends else None


def spectral_distance(x: np.ndarray, spectrum: dict[str, Any]) -> tuple[float, dict[str, int]]:
    """Median over epochs of the mean |dB difference| to the nearest training profile, and how many epochs
    each profile was nearest to."""
    from sleepedge.export.provenance import band_powers_db

    db, bands = band_powers_db(x, float(spectrum["sfreq_hz"]))
    n = min(len(bands), len(spectrum["bands_hz"]))
    names = list(spectrum["profiles_db"])
    prof = np.asarray([spectrum["profiles_db"][k][:n] for k in names], dtype=np.float64)
    dist = np.abs(db[:, None, :n] - prof[None]).mean(axis=-1)  # (epochs, profiles)
    nearest = dist.argmin(axis=1)
    counts = {names[k]: int(np.sum(nearest == k)) for k in range(len(names)) if np.any(nearest == k)}
    return float(np.median(dist.min(axis=1))), counts


def input_report(x: np.ndarray, stats: dict[str, Any]) -> dict[str, Any]:
    """The OOD report of one recording ``x`` (n_epochs, S) float32 uV against the training ``stats``.

    Returns
    -------
    dict
        ``outside_fraction`` (of samples beyond ``calibration_bound_uv``), ``level_ratio`` (median |x| over the
        training's), ``spectral_distance_db`` (see the module), ``nearest_profiles``, ``thresholds``, ``ood``
        (bool) and ``reasons`` (one short string per failed check).
    """
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    bound = calibration_bound(stats)
    outside = float(np.mean(np.abs(x) > bound)) if bound else None
    train_median = float(stats["abs_uv"][list(stats["percentiles"]).index(50.0)])
    median = float(np.median(np.abs(x)))
    ratio = median / train_median if train_median > 0 else None
    distance, nearest = spectral_distance(x, stats["spectrum"])
    report = {"epochs": int(len(x)), "calibration_bound_uv": bound, "outside_fraction": outside,
              "median_abs_uv": median, "training_median_abs_uv": train_median, "level_ratio": ratio,
              "spectral_distance_db": distance, "nearest_profiles": nearest,
              "thresholds": {"outside_fraction": MAX_OUTSIDE, "level_ratio": MAX_LEVEL_RATIO,
                             "spectral_distance_db": MAX_SPECTRAL_DB}}
    report["reasons"] = _reasons(report)
    report["ood"] = bool(report["reasons"])
    return report


def _reasons(r: dict[str, Any]) -> list[str]:
    reasons = []
    if r["outside_fraction"] is not None and r["outside_fraction"] > MAX_OUTSIDE:
        reasons.append(f"amplitude: {r['outside_fraction']:.1%} of samples beyond the int8 calibration range "
                       f"+-{r['calibration_bound_uv']:.0f} uV (limit {MAX_OUTSIDE:.0%})")
    ratio = r["level_ratio"]
    if ratio is not None and not 1 / MAX_LEVEL_RATIO <= ratio <= MAX_LEVEL_RATIO:
        reasons.append(f"amplitude: median |x| {r['median_abs_uv']:.3g} uV is {ratio:.3g}x the training's "
                       f"{r['training_median_abs_uv']:.3g} uV (limit {MAX_LEVEL_RATIO:g}x either way)")
    if r["spectral_distance_db"] > MAX_SPECTRAL_DB:
        reasons.append(f"spectrum: band powers {r['spectral_distance_db']:.1f} dB from the nearest training stage "
                       f"profile (limit {MAX_SPECTRAL_DB:g} dB)")
    return reasons
