"""Transient EEG events for the synthetic dataset: spindles, K-complexes, eye movements, saw-tooth waves.

Events of one kind are drawn per epoch (Poisson, rate set by the epoch's stage mixture), their
waveforms built together as a ``(n_events, length)`` array, and added with one ``np.bincount``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

FS = 100.0
SPE = 3000

# Events per minute in each stage (columns W, N1, N2, N3, REM).
EVENT_RATES: dict[str, list[float]] = {
    "spindle": [0.0, 0.4, 6.0, 1.5, 0.0],
    "k_complex": [0.0, 0.3, 1.5, 0.6, 0.0],
    "blink": [6.0, 1.0, 0.0, 0.0, 0.2],
    "saccade": [3.0, 0.5, 0.0, 0.0, 8.0],  # rapid eye movements in REM, saccades in wake
    "slow_eye": [0.5, 3.0, 0.2, 0.0, 0.3],  # slow rolling eye movements of drowsiness
    "sawtooth": [0.0, 0.2, 0.0, 0.0, 1.5],
    "movement": [0.6, 0.2, 0.05, 0.0, 0.05],
}


def _spindle(rng, k, sp):
    t = np.arange(200) / FS
    dur = rng.uniform(0.5, 2.0, (k, 1))
    f = rng.normal(sp["spindle_hz"], 0.4, (k, 1))
    env = np.where(t < dur, np.sin(np.pi * np.minimum(t / dur, 1.0)) ** 2, 0.0)
    return rng.lognormal(np.log(25.0), 0.3, (k, 1)) * env * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3, (k, 1)))


def _k_complex(rng, k, sp):
    t = np.arange(150) / FS
    amp = rng.uniform(70.0, 130.0, (k, 1))
    return amp * (-np.exp(-(((t - 0.35) / 0.08) ** 2)) + 0.6 * np.exp(-(((t - 0.8) / 0.18) ** 2)))


def _blink(rng, k, sp):
    t = np.arange(60) / FS
    width = rng.uniform(0.06, 0.12, (k, 1))
    return rng.uniform(60.0, 150.0, (k, 1)) * np.exp(-(((t - 0.25) / width) ** 2))


def _saccade(rng, k, sp):
    t = np.arange(150) / FS
    sign = rng.choice([-1.0, 1.0], (k, 1))
    tau = rng.uniform(0.2, 0.6, (k, 1))
    return sign * rng.uniform(40.0, 110.0, (k, 1)) * (1.0 - np.exp(-t / 0.04)) * np.exp(-t / tau)


def _slow_eye(rng, k, sp):
    t = np.arange(400) / FS
    dur = rng.uniform(2.0, 4.0, (k, 1))
    sign = rng.choice([-1.0, 1.0], (k, 1))
    return sign * rng.uniform(30.0, 70.0, (k, 1)) * np.where(t < dur, np.sin(np.pi * np.minimum(t / dur, 1)) ** 2, 0)


def _sawtooth(rng, k, sp):
    t = np.arange(300) / FS
    dur = rng.uniform(1.0, 3.0, (k, 1))
    f = rng.uniform(2.0, 5.0, (k, 1))
    phase = (f * t) % 1.0
    wave = np.where(phase < 0.8, phase / 0.8, (1.0 - phase) / 0.2) * 2.0 - 1.0  # slow rise, sharp fall
    env = np.where(t < dur, np.sin(np.pi * np.minimum(t / dur, 1.0)), 0.0)
    return rng.uniform(15.0, 35.0, (k, 1)) * env * wave


def _movement(rng, k, sp):
    t = np.arange(300) / FS
    f = rng.uniform(0.5, 3.0, (k, 1))
    return rng.uniform(100.0, 300.0, (k, 1)) * np.exp(-(((t - 1.5) / 0.5) ** 2)) * np.sin(2 * np.pi * f * t)


SHAPES: dict[str, Callable] = {
    "spindle": _spindle, "k_complex": _k_complex, "blink": _blink, "saccade": _saccade,
    "slow_eye": _slow_eye, "sawtooth": _sawtooth, "movement": _movement,
}


def add_events(rng: np.random.Generator, x: np.ndarray, render: np.ndarray, sp: dict[str, float]) -> None:
    """Add every event kind to ``x`` in place (``render``: ``(n_epochs, 5)`` stage mixture per epoch)."""
    n = x.size
    for name, shape in SHAPES.items():
        rate = render @ np.asarray(EVENT_RATES[name]) / 2.0  # per 30-s epoch
        counts = rng.poisson(np.clip(rate, 0.0, None))
        k = int(counts.sum())
        if k == 0:
            continue
        starts = np.repeat(np.arange(render.shape[0]) * SPE, counts) + rng.integers(0, SPE, k)
        waves = shape(rng, k, sp)
        idx = starts[:, None] + np.arange(waves.shape[1])
        keep = idx < n
        x += np.bincount(idx[keep], weights=waves[keep], minlength=n).astype(x.dtype)
