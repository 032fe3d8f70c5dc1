"""Prepared-epoch cache: one compressed ``.npz`` per night plus ``cache.json`` with checksums.

An entry is valid only while the sha256 of each source file (PSG and hypnogram), the reader
parameters (channel, sampling rate, trimming, resampling, reader version) and the ``.npz`` file's own
sha256 all match what the manifest recorded; anything else makes it stale and the night is read
again from EDF. Every file is written atomically (:mod:`sleepedge.run.manifest`).
"""
from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.run.manifest import atomic_write_bytes, atomic_write_json, sha256_file

from sleepedge.train.night import Night

log = logging.getLogger(__name__)

MANIFEST = "cache.json"
SCHEMA = "sleepedge.datacache/1"
READER_VERSION = 1  # bump when sleep_edf/hypnogram change what a night's arrays hold


def reader_params(cfg) -> dict[str, Any]:
    """The ``DataConfig`` fields that change a prepared night (part of each cache entry's key)."""
    return {"channel": cfg.channel, "sfreq": float(cfg.sfreq), "trim_wake_min": float(cfg.trim_wake_min),
            "resample": bool(cfg.resample), "reader_version": READER_VERSION}


class NightCache:
    """Cache of prepared nights in ``root`` for one set of reader parameters.

    Parameters
    ----------
    root : path
        Folder of ``<record>.npz`` files and ``cache.json``.
    params : dict
        Reader parameters (:func:`reader_params`); an entry made with others is stale.
    """

    def __init__(self, root: str | Path, params: dict[str, Any]):
        self.root = Path(root)
        self.params = dict(params)

    def manifest(self) -> dict[str, Any]:
        """The cache manifest (``{"schema", "entries": {record: entry}}``); empty when absent or unreadable."""
        path = self.root / MANIFEST
        try:
            data = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            return {"schema": SCHEMA, "entries": {}}
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("%s: unreadable cache manifest (%s); every night will be read again", path, exc)
            return {"schema": SCHEMA, "entries": {}}
        if data.get("schema") != SCHEMA or not isinstance(data.get("entries"), dict):
            log.warning("%s: unknown cache schema; every night will be read again", path)
            return {"schema": SCHEMA, "entries": {}}
        return data

    @staticmethod
    def digests(sources: dict[str, Path]) -> dict[str, dict[str, Any]]:
        """``{name: {"path", "sha256", "bytes"}}`` of the source files."""
        return {k: {"path": str(Path(p).resolve()), "sha256": sha256_file(p), "bytes": Path(p).stat().st_size}
                for k, p in sources.items()}

    def _stale_reason(self, entry: dict[str, Any] | None, digests: dict[str, dict[str, Any]]) -> str | None:
        if entry is None:
            return "not cached"
        if entry.get("params") != self.params:
            return "reader parameters changed"
        old = {k: v.get("sha256") for k, v in entry.get("sources", {}).items()}
        if old != {k: v["sha256"] for k, v in digests.items()}:
            return "a source file changed (sha256 differs)"
        npz = self.root / entry.get("file", "")
        if not npz.is_file() or sha256_file(npz) != entry.get("sha256"):
            return "cached file missing or changed"
        return None

    def load(self, record: str, sources: dict[str, Path], digests: dict[str, dict[str, Any]] | None = None
             ) -> Night | None:
        """The cached night, or ``None`` when there is no valid entry (logged with the reason)."""
        digests = digests or self.digests(sources)
        entry = self.manifest()["entries"].get(record)
        reason = self._stale_reason(entry, digests)
        if reason:
            log.info("%s: %s; reading EDF", record, reason)
            return None
        with np.load(self.root / entry["file"]) as z:
            return Night(record=record, subject=int(entry["subject"]), night=int(entry["night"]),
                         x=z["x"].astype(np.float32, copy=False), y=z["y"].astype(np.int64),
                         epoch_index=z["epoch_index"].astype(np.int32), source=entry["night_source"])

    def store(self, night: Night, sources: dict[str, Path], digests: dict[str, dict[str, Any]] | None = None
              ) -> Path:
        """Write ``night`` and its manifest entry (atomically, replacing a stale entry)."""
        digests = digests or self.digests(sources)
        buf = io.BytesIO()
        np.savez_compressed(buf, x=night.x.astype(np.float32), y=night.y.astype(np.int64),
                            epoch_index=night.epoch_index.astype(np.int32))
        npz = atomic_write_bytes(self.root / f"{night.record}.npz", buf.getvalue(), overwrite=True)
        manifest = self.manifest()
        manifest["entries"][night.record] = {
            "file": npz.name, "sha256": sha256_file(npz), "subject": night.subject, "night": night.night,
            "n_epochs": int(len(night.y)), "night_source": night.source, "sources": digests,
            "params": self.params,
            "class_counts": np.bincount(night.y, minlength=5)[:5].tolist(),
        }
        atomic_write_json(self.root / MANIFEST, manifest, overwrite=True)
        return npz
