"""Stage-wise sanity check of a dataset: relative EEG band power and amplitude per sleep stage."""
from __future__ import annotations

import numpy as np

from sleepedge.train.dataset import LABEL_NAMES, Night

BANDS: dict[str, tuple[float, float]] = {
    "delta": (0.5, 2.0), "delta2": (2.0, 4.0), "theta": (4.0, 7.0), "alpha": (8.0, 12.0),
    "sigma": (11.0, 16.0), "beta": (16.0, 30.0), "gamma": (30.0, 45.0),
}


def stage_band_power(nights: list[Night], sfreq: float = 100.0, max_epochs: int = 2000,
                     seed: int = 0) -> dict[str, dict[str, float]]:
    """Mean relative band power (share of 0.5-45 Hz power) and peak-to-peak amplitude per stage.

    Parameters
    ----------
    nights : list of Night
    sfreq : float
        Sampling rate of ``Night.x``.
    max_epochs : int
        At most this many epochs per stage are used (drawn with ``seed``), to stay fast.

    Returns
    -------
    dict
        ``{stage: {band: share, ..., "ptp_uv": median peak-to-peak, "epochs": n}}`` for stages present.
    """
    rng = np.random.default_rng(seed)
    x = np.concatenate([n.x for n in nights])
    y = np.concatenate([n.y for n in nights])
    freqs = np.fft.rfftfreq(x.shape[1], 1.0 / sfreq)
    total_band = (freqs >= 0.5) & (freqs < 45.0)
    out: dict[str, dict[str, float]] = {}
    for k, name in enumerate(LABEL_NAMES):
        idx = np.flatnonzero(y == k)
        if idx.size == 0:
            continue
        idx = rng.choice(idx, size=min(idx.size, max_epochs), replace=False)
        power = np.abs(np.fft.rfft(x[idx] - x[idx].mean(axis=1, keepdims=True), axis=1)) ** 2
        total = power[:, total_band].sum(axis=1)
        row = {b: float(np.mean(power[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) / total))
               for b, (lo, hi) in BANDS.items()}
        row["ptp_uv"] = float(np.median(np.ptp(x[idx], axis=1)))
        row["epochs"] = int(idx.size)
        out[name] = row
    return out


def format_band_table(table: dict[str, dict[str, float]]) -> str:
    """Plain-text table of :func:`stage_band_power` (percent of power, median peak-to-peak in uV)."""
    head = f"{'stage':<6}" + "".join(f"{b:>8}" for b in BANDS) + f"{'p2p uV':>9}{'epochs':>8}"
    lines = [head, "-" * len(head)]
    for stage, row in table.items():
        lines.append(f"{stage:<6}" + "".join(f"{100 * row[b]:>7.1f}%" for b in BANDS)
                     + f"{row['ptp_uv']:>9.0f}{row['epochs']:>8d}")
    return "\n".join(lines)
