"""The front door of the data layer: :func:`load_dataset` turns a ``DataConfig`` into a :class:`Dataset`.

``cfg.dataset == "sleep-edf"`` reads PSG + hypnogram EDF pairs with MNE (:mod:`.sleep_edf`) through the
prepared-epoch cache (:mod:`.cache`); nothing is downloaded here (``sleepedge data fetch`` does that).
``cfg.dataset == "synthetic"`` regenerates the offline simulator's nights (:mod:`.synthetic`); they are
deterministic and fast, so they are not cached.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.train.night import LABEL_NAMES, Dataset, Night, class_counts  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)


def default_data_dir() -> Path:
    """MNE's Sleep-PhysioNet folder, where ``sleepedge data fetch`` puts files.

    ``PHYSIONET_SLEEP_PATH``, else ``MNE_DATA``, else ``~/mne_data``, plus ``physionet-sleep-data`` (the
    rule of ``mne.datasets.sleep_physionet.age.data_path``, which would also create the folder: reading
    must not, so the rule is applied here without side effects).
    """
    import mne

    base = mne.get_config("PHYSIONET_SLEEP_PATH") or mne.get_config("MNE_DATA") or "~/mne_data"
    return Path(base).expanduser() / "physionet-sleep-data"


def resolve_data_dir(cfg) -> Path:
    """``cfg.data_dir`` or MNE's default download folder."""
    return Path(cfg.data_dir).expanduser() if cfg.data_dir else default_data_dir()


def resolve_cache_dir(cfg, data_dir: Path) -> Path:
    """``cfg.cache_dir``; else ``<data_dir>/.sleepedge-cache`` when writable, else ``~/.cache/sleepedge``."""
    if cfg.cache_dir:
        return Path(cfg.cache_dir).expanduser()
    if data_dir.is_dir() and os.access(data_dir, os.W_OK):
        return data_dir / ".sleepedge-cache"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sleepedge"
    log.warning("%s is not a writable folder; caching prepared epochs in %s", data_dir, base)
    return base


def _missing_data_message(data_dir: Path) -> str:
    return (f"{data_dir}: no Sleep-EDF PSG files (SC4ssNE0-PSG.edf) found. Run `sleepedge data fetch` "
            f"to download them, pass --data-dir DIR pointing at a folder of SC*-PSG.edf + SC*-Hypnogram.edf "
            f"files, or use --dataset synthetic")


def select_pairs(data_dir: Path, subjects: list[int]) -> list[tuple[str, Path, Path]]:
    """``[(record, psg, hypnogram)]`` for the requested subjects, in record order.

    Raises
    ------
    DataError
        Folder missing or without PSG files, a requested subject absent, or a PSG without hypnogram.
    """
    from sleepedge.train.sleep_edf import find_pairs, record_subject_night

    if not data_dir.is_dir():
        raise DataError(_missing_data_message(data_dir))
    pairs = find_pairs(data_dir)
    if not pairs:
        raise DataError(_missing_data_message(data_dir))
    wanted = set(int(s) for s in subjects)
    chosen = {rec: p for rec, p in pairs.items() if record_subject_night(rec)[0] in wanted}
    absent = sorted(wanted - {record_subject_night(rec)[0] for rec in chosen})
    if absent:
        raise DataError(f"{data_dir}: subject(s) {', '.join(map(str, absent))} requested but no PSG file "
                        f"for them is there (run `sleepedge data fetch --subjects ...` or change data.subjects)")
    orphans = [str(psg) for psg, hyp in chosen.values() if hyp is None]
    if orphans:
        raise DataError(f"{orphans[0]}: no matching SC4ssN?-Hypnogram.edf beside it"
                        + (f" (and {len(orphans) - 1} more)" if len(orphans) > 1 else ""))
    return [(rec, psg, hyp) for rec, (psg, hyp) in chosen.items()]


def _load_sleep_edf(cfg, progress: bool) -> Dataset:
    from sleepedge.train.cache import NightCache, reader_params
    from sleepedge.train.sleep_edf import read_night

    data_dir = resolve_data_dir(cfg)
    pairs = select_pairs(data_dir, cfg.subjects)
    params = reader_params(cfg)
    cache = NightCache(resolve_cache_dir(cfg, data_dir) / "sleep-edf", params)
    nights, hits = [], 0
    for record, psg, hyp in _progress(pairs, progress, "reading Sleep-EDF"):
        sources = {"psg": psg, "hypnogram": hyp}
        digests = cache.digests(sources)
        night = cache.load(record, sources, digests)
        if night is None:
            night = read_night(psg, hyp, channel=cfg.channel, sfreq=cfg.sfreq,
                               trim_wake_min=cfg.trim_wake_min, resample=cfg.resample)
            cache.store(night, sources, digests)
        else:
            hits += 1
        nights.append(night)
    log.info("sleep-edf: %d nights (%d from the cache in %s)", len(nights), hits, cache.root)
    info = {
        "dataset": "sleep-edf", "synthetic": False, "channel": cfg.channel, "sfreq": cfg.sfreq,
        "epoch_sec": 30, "trim_wake_min": cfg.trim_wake_min, "resample": cfg.resample,
        "subjects": sorted({n.subject for n in nights}), "records": [n.record for n in nights],
        "n_nights": len(nights), "n_epochs": int(sum(len(n.y) for n in nights)),
        "class_counts": class_counts(nights), "label_names": list(LABEL_NAMES),
        "data_dir": str(data_dir), "cache_dir": str(cache.root), "cache_hits": hits,
    }
    return Dataset(name="sleep-edf", synthetic=False, nights=nights, info=info)


def _progress(items: list, enabled: bool, desc: str):
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="night", disable=None)


def load_dataset(cfg, progress: bool = True) -> Dataset:
    """Load the dataset ``cfg.dataset`` names (``sleepedge.config.settings.DataConfig``).

    Parameters
    ----------
    cfg : sleepedge.config.settings.DataConfig
        ``dataset`` ("sleep-edf" or "synthetic"), folders, channel, subjects, sampling rate, trimming.
    progress : bool
        Show a progress bar while reading.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Files missing or bad (see :func:`sleepedge.train.sleep_edf.read_night`).
    """
    if cfg.dataset == "synthetic":
        from sleepedge.train.synthetic import synthetic_dataset

        return synthetic_dataset(cfg)
    if cfg.dataset == "sleep-edf":
        return _load_sleep_edf(cfg, progress)
    from sleepedge.config.settings import ConfigError

    raise ConfigError(f"data.dataset: unknown dataset {cfg.dataset!r} (known: sleep-edf, synthetic)")
