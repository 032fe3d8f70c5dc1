"""Download Sleep-EDF (sleep-cassette) nights with MNE's fetcher: ``sleepedge data fetch``."""
from __future__ import annotations

import logging
from pathlib import Path

from sleepedge.core.errors import DataError

log = logging.getLogger(__name__)

SLEEP_EDF_20 = list(range(20))  # subjects 0-19: 39 nights (subject 13 has no second night)


def parse_subjects(text: str) -> list[int]:
    """``"0-19"``, ``"0,3,5-7"`` -> sorted unique subject numbers.

    Raises
    ------
    DataError
        Malformed text or a negative number.
    """
    subjects: set[int] = set()
    try:
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            lo, dash, hi = part.partition("-")
            first, last = int(lo), int(hi) if dash else int(lo)
            if first < 0 or last < first:
                raise ValueError
            subjects.update(range(first, last + 1))
    except ValueError:
        raise DataError(f"--subjects {text!r}: expected numbers and ranges such as 0-19 or 0,3,5-7") from None
    if not subjects:
        raise DataError(f"--subjects {text!r}: no subject given")
    return sorted(subjects)


def fetch_sleep_edf(subjects: list[int], data_dir: str | Path | None = None,
                    recording: tuple[int, ...] = (1, 2)) -> list[tuple[Path, Path]]:
    """Download (or find already downloaded) PSG + hypnogram pairs with
    ``mne.datasets.sleep_physionet.age.fetch_data``.

    Parameters
    ----------
    subjects : list of int
        Sleep-cassette subjects (0-82; Sleep-EDF-20 is 0-19).
    data_dir : path, optional
        Folder to download into (MNE adds ``physionet-sleep-data/``); None = MNE's default folder.
    recording : tuple of int
        Nights (1 and/or 2). Nights that do not exist (e.g. subject 13, night 2) are skipped with a warning.

    Returns
    -------
    list of (psg, hypnogram) paths

    Raises
    ------
    DataError
        The download failed (no network, server error, checksum mismatch).
    """
    from mne.datasets.sleep_physionet import age

    path = str(Path(data_dir).expanduser()) if data_dir else None
    log.info("fetching Sleep-EDF subjects %s, nights %s into %s", subjects, list(recording), path or "MNE's folder")
    try:
        pairs = age.fetch_data(subjects=list(subjects), recording=list(recording), path=path, on_missing="warn")
    except Exception as exc:  # network, HTTP and checksum errors come from pooch/requests in many types
        raise DataError(f"download of Sleep-EDF failed ({type(exc).__name__}: {exc}); offline? pass --data-dir "
                        f"DIR with SC*-PSG.edf + SC*-Hypnogram.edf files, or use --dataset synthetic") from exc
    return [(Path(psg), Path(hyp)) for psg, hyp in pairs]
