"""Offline synthetic Sleep-EDF-like dataset: stage-dependent EEG on a 1/f background, realistic hypnograms.

Each night follows a hypnogram from :mod:`.synthetic_hypnogram` (stage bouts and transitions drawn
from the 39 expert-scored Sleep-EDF-20 nights). Its Fpz-Cz-like signal (100 Hz,
microvolts) sums, with per-epoch amplitudes set by the stage:

* a 1/f background mixing a shallow and a steep spectrum (steeper in deeper sleep);
* narrow-band rhythms: alpha (8-12 Hz, wake), theta (4-7 Hz, N1/REM), delta slow waves
  (0.5-2 Hz, > 75 uV peak to peak in N3) and high-frequency muscle activity (wake > NREM > REM);
* events: spindles (11-16 Hz, 0.5-2 s) and K-complexes in N2, eye blinks and saccades in wake, slow
  eye movements in N1, rapid eye movements and saw-tooth waves in REM, movement artefacts.

It is made hard on purpose: amplitudes jitter per epoch, each subject has its own gains and peak
frequencies, stage profiles blend linearly across epoch boundaries, and many epochs (most N1
epochs) are rendered as a mixture of their stage and a neighbouring one (W/REM for N1), like the
epochs human scorers disagree on. Nights are a pure function of (seed, subject, night) and are
regenerated on every load (no cache: about 0.1 s per night).

Written with numpy/scipy rather than neurodsp: the components need per-sample, stage-driven
amplitude envelopes over a whole night, which one batched FFT per night gives directly, whereas
neurodsp simulates stationary segments per call (and would add a dependency).
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fft

from sleepedge.train.night import LABEL_NAMES, Dataset, Night, class_counts
from sleepedge.train.synthetic_events import EVENT_RATES, add_events
from sleepedge.train.synthetic_hypnogram import synthetic_hypnogram

FS = 100.0
SPE = 3000  # samples per 30-s epoch
GENERATOR_VERSION = 2  # 2: hypnograms drawn from Sleep-EDF-20 bout statistics

# Per-stage RMS amplitude (uV) of each continuous component, columns W, N1, N2, N3, REM.
PROFILE: dict[str, list[float]] = {
    "background": [9.0, 11.0, 13.0, 15.0, 9.5],
    "steepness": [0.25, 0.5, 0.7, 0.9, 0.4],  # share of the steep (1/f^2.4) background
    "alpha": [11.0, 4.0, 1.5, 1.0, 2.5],  # wake with eyes open: see EYES_OPEN
    "theta": [2.5, 6.5, 5.0, 4.0, 6.0],
    "delta": [3.0, 6.0, 13.0, 34.0, 5.0],
    "emg": [4.0, 2.2, 1.6, 1.3, 1.0],
}
# Per stage: share of epochs rendered as a blend, the stages blended in (weights), the largest blend.
AMBIGUITY: dict[int, tuple[float, list[tuple[int, float]], float]] = {
    0: (0.50, [(1, 0.8), (4, 0.2)], 0.55),
    1: (0.90, [(0, 0.45), (4, 0.35), (2, 0.20)], 0.60),
    2: (0.35, [(1, 0.5), (3, 0.5)], 0.45),
    3: (0.35, [(2, 1.0)], 0.45),
    4: (0.50, [(1, 0.7), (0, 0.3)], 0.50),
}
EPOCH_JITTER = 0.4  # log-normal sigma of each component's amplitude, per epoch
EYES_OPEN = (0.5, 0.25)  # share of wake epochs with eyes open, and their alpha amplitude factor


def subject_params(seed: int, subject: int) -> dict[str, float]:
    """Per-subject gains and peak frequencies (deterministic in ``seed``, ``subject``)."""
    rng = np.random.default_rng([seed, subject, 7919])
    return {
        "amplitude": float(rng.lognormal(0.0, 0.25)), "alpha_hz": float(rng.uniform(8.5, 11.5)),
        "alpha_gain": float(rng.lognormal(0.0, 0.5)), "theta_hz": float(rng.uniform(4.5, 6.5)),
        "spindle_hz": float(rng.uniform(11.5, 14.5)), "delta_gain": float(rng.lognormal(0.0, 0.2)),
        "emg_gain": float(rng.lognormal(0.0, 0.3)),
    }


def _render_profile(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    """``(n, 5)`` stage mixture used to render each epoch (one-hot of ``y``, blended for ambiguous epochs)."""
    r = np.eye(5)[y]
    for stage, (share, others, max_mix) in AMBIGUITY.items():
        idx = np.flatnonzero((y == stage) & (rng.random(y.size) < share))
        stages = np.array([s for s, _ in others])
        weights = np.array([w for _, w in others])
        picks = stages[rng.choice(len(stages), size=idx.size, p=weights / weights.sum())]
        mix = rng.uniform(0.0, max_mix, size=idx.size)
        r[idx, stage] -= mix
        r[idx, picks] += mix
    return r


def _spectral_shapes(n: int, sp: dict[str, float]) -> np.ndarray:
    """``(6, n_freq)`` float32 amplitude spectra: background shallow/steep, alpha, theta, delta, emg."""
    f = scipy.fft.rfftfreq(n, 1.0 / FS).astype(np.float32)
    log_knee = np.log(f ** 2 + np.float32(0.25 ** 2))
    hp = 1.0 / (1.0 + (np.float32(0.3) / np.maximum(f, np.float32(1e-6))) ** 4)
    return np.stack([
        np.exp(np.float32(-0.45) * log_knee), np.exp(np.float32(-1.2) * log_knee),
        np.exp(np.float32(-0.5) * ((f - sp["alpha_hz"]) / np.float32(0.7)) ** 2),
        np.exp(np.float32(-0.5) * ((f - sp["theta_hz"]) / np.float32(0.8)) ** 2),
        hp * np.exp(np.float32(-0.5) * ((f - np.float32(1.0)) / np.float32(0.5)) ** 2),
        1.0 / (1.0 + np.exp(np.float32(20.0) - f)) / (1.0 + np.exp(f - np.float32(47.0))),
    ]).astype(np.float32)


def _components(rng: np.random.Generator, n: int, sp: dict[str, float]) -> np.ndarray:
    """``(6, n)`` unit-RMS Gaussian noise components shaped by :func:`_spectral_shapes`.

    White noise is drawn directly as a spectrum (one inverse FFT per component, no forward FFT).
    The two backgrounds share one spectrum (they are mixed per stage, like one changing slope); the
    four rhythms share another, which is fine because their bands do not overlap (disjoint frequency
    bins of Gaussian white noise are independent).
    """
    size = scipy.fft.next_fast_len(n, real=True)
    n_freq = size // 2 + 1
    white = rng.standard_normal((2, 2, n_freq), dtype=np.float32)
    spectrum = (white[:, 0] + 1j * white[:, 1]).astype(np.complex64)
    spec = spectrum[[0, 0, 1, 1, 1, 1]] * _spectral_shapes(size, sp)
    spec[:, 0] = 0.0  # no DC
    comp = scipy.fft.irfft(spec, n=size, axis=1, workers=1)[:, :n]
    comp /= comp.std(axis=1, keepdims=True) + np.float32(1e-12)
    return comp


def _envelopes(rng: np.random.Generator, render: np.ndarray, sp: dict[str, float], n: int) -> np.ndarray:
    """``(6, n)`` per-sample amplitudes, linearly interpolated between epoch centres (transitions blend)."""
    gains = {"alpha": sp["alpha_gain"], "delta": sp["delta_gain"], "emg": sp["emg_gain"]}
    steep = render @ np.array(PROFILE["steepness"])
    bg = render @ np.array(PROFILE["background"])
    per_epoch = [bg * np.sqrt(1.0 - steep), bg * np.sqrt(steep)]
    for name in ("alpha", "theta", "delta", "emg"):
        per_epoch.append(render @ np.array(PROFILE[name]) * gains.get(name, 1.0))
    amp = np.stack(per_epoch) * rng.lognormal(0.0, EPOCH_JITTER, size=(len(per_epoch), render.shape[0]))
    eyes_open = (render[:, 0] > 0.5) & (rng.random(render.shape[0]) < EYES_OPEN[0])
    amp[2, eyes_open] *= EYES_OPEN[1]
    # Linear interpolation between epoch centres, written as 2-D broadcasting (np.interp is float64-only).
    amp = amp.astype(np.float32)
    prev = np.concatenate([amp[:, :1], amp[:, :-1]], axis=1)[:, :, None]
    nxt = np.concatenate([amp[:, 1:], amp[:, -1:]], axis=1)[:, :, None]
    ramp = ((np.arange(SPE, dtype=np.float32) + 0.5) / SPE - 0.5)[None, None, :]
    cur = amp[:, :, None]
    env = cur + np.maximum(ramp, 0) * (nxt - cur) + np.minimum(ramp, 0) * (cur - prev)
    return env.reshape(amp.shape[0], n)


def synthetic_night(seed: int, subject: int, night: int, sleep_hours: float, wake_min: float = 30.0) -> Night:
    """One synthetic night (deterministic in ``seed``, ``subject``, ``night``)."""
    sp = subject_params(seed, subject)
    rng = np.random.default_rng([seed, subject, night])
    y = synthetic_hypnogram(rng, sleep_hours, margin_min=wake_min)
    n = y.size * SPE
    render = _render_profile(rng, y)
    x = np.einsum("cn,cn->n", _envelopes(rng, render, sp, n), _components(rng, n, sp))
    add_events(rng, x, render, sp)
    x += rng.standard_normal(n, dtype=np.float32) * 1.0
    x *= sp["amplitude"] * rng.lognormal(0.0, 0.08)
    return Night(record=f"SYN{subject:03d}{night:02d}", subject=subject, night=night,
                 x=x.reshape(-1, SPE).astype(np.float32), y=y.astype(np.int64),
                 epoch_index=np.arange(y.size, dtype=np.int32), source="synthetic")


def night_jobs(cfg) -> list[tuple[int, int]]:
    """``(subject, night)`` of every synthetic night: two per subject, one for ``synthetic_single_night``."""
    single = set(getattr(cfg, "synthetic_single_night", None) or [])
    return [(s, k) for s in range(cfg.synthetic_subjects) for k in (1, 2) if not (k == 2 and s in single)]


def generator_params(cfg) -> dict:
    """Everything that determines the synthetic nights (for ``Dataset.info`` and manifests)."""
    single = sorted(getattr(cfg, "synthetic_single_night", None) or [])
    extra = {"single_night_subjects": single} if single else {}  # absent when unused: older manifests stay equal
    return {"version": GENERATOR_VERSION, "seed": cfg.synthetic_seed, "subjects": cfg.synthetic_subjects, **extra,
            "nights_per_subject": 2, "sleep_hours": cfg.synthetic_hours, "wake_margin_min": cfg.trim_wake_min,
            "hypnogram": "semi-Markov bouts from Sleep-EDF-20 statistics (train/hypnogram_stats.json, ODC-By 1.0)",
            "sfreq": FS, "profile_uv_rms": PROFILE, "event_rates_per_min": EVENT_RATES,
            "ambiguity": {LABEL_NAMES[k]: v[0] for k, v in AMBIGUITY.items()}, "epoch_jitter": EPOCH_JITTER,
            "eyes_open": EYES_OPEN}


_last: dict[str, list[Night]] = {}  # the last generated set of nights, by generator settings (one entry)


def _generate(cfg, jobs: list[tuple[int, int]], wake_min: float) -> list[Night]:
    """The nights of ``jobs``; the last set is kept per process (read-only arrays), so the train and
    compress stages of one process (or the folds of a k-fold run) do not regenerate a paper-size set."""
    key = json.dumps([generator_params(cfg), jobs, wake_min], sort_keys=True, default=str)
    if key in _last:
        return list(_last[key])
    # numpy/scipy release the GIL in FFTs and array maths, so threads overlap; each night has its own RNG.
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        nights = list(pool.map(lambda j: synthetic_night(cfg.synthetic_seed, j[0], j[1], cfg.synthetic_hours,
                                                         wake_min), jobs))
    for n in nights:
        for arr in (n.x, n.y, n.epoch_index):
            arr.flags.writeable = False
    _last.clear()
    _last[key] = nights
    return list(nights)


def synthetic_dataset(cfg) -> Dataset:
    """``cfg.synthetic_subjects`` subjects x 2 nights (1 for ``synthetic_single_night``) of ``cfg.synthetic_hours``
    of sleep (plus wake margins)."""
    wake_min = max(0.0, float(cfg.trim_wake_min))
    jobs = night_jobs(cfg)
    nights = _generate(cfg, jobs, wake_min)
    info = {
        "dataset": "synthetic", "synthetic": True, "channel": "synthetic Fpz-Cz-like EEG", "sfreq": FS,
        "epoch_sec": 30, "subjects": list(range(cfg.synthetic_subjects)), "records": [n.record for n in nights],
        "n_nights": len(nights), "n_epochs": int(sum(len(n.y) for n in nights)),
        "class_counts": class_counts(nights), "label_names": list(LABEL_NAMES), "cache_dir": None,
        "cached": False, "generator": generator_params(cfg),
    }
    return Dataset(name="synthetic", synthetic=True, nights=nights, info=info)
