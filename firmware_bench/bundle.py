"""One-file bundle for a board: the export folder (manifest + every output), the test sample, bundle.json.

Unpacked, a bundle is a run folder the bench reads like any other (``export/`` verifies against its own
manifest; ``bundle.json`` names the test sample and its sha256), so ``--from-bundle`` writes the same
results.json as a run on the host.
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath
import numpy as np

from sleepedge.core.envinfo import environment_info
from sleepedge.core.errors import DataError
from sleepedge.run.manifest import atomic_copy, atomic_write_bytes, file_entry, sha256_file
from sleepedge.run.transaction import reading_run

from sleepedge.firmware_bench.targets import BUNDLE_MANIFEST, load_test_sample, locate_test_sample, read_export

SCHEMA = "sleepedge.bench-bundle/1"
# What a bench run itself puts into the --out folder (results, its build folder, the run lock).
OWN_ENTRIES = {"bench", ".bench.partial", ".bench.old", ".sleepedge.lock"}
TEST_NAME = "test.npz"


def make_bundle(run_dir: str | Path, out_tar: str | Path, test_sequences: int = 0, overwrite: bool = False) -> Path:
    """Pack ``RUN/export`` and the test sample (first ``test_sequences`` sequences; 0 = all) into ``out_tar``."""
    run_dir, out_tar = Path(run_dir), Path(out_tar)
    if out_tar.exists() and not overwrite:
        raise FileExistsError(f"{out_tar}: exists; refusing to overwrite (pass --overwrite to replace it)")
    with reading_run(run_dir):  # no command may replace the export while it is packed
        return _pack(run_dir, out_tar, test_sequences, overwrite)


def _pack(run_dir: Path, out_tar: Path, test_sequences: int, overwrite: bool) -> Path:
    export_dir, manifest = read_export(run_dir)
    test_src = locate_test_sample(run_dir)
    with tempfile.TemporaryDirectory(prefix="sleepedge-bundle-") as tmp:
        test_path = Path(tmp) / TEST_NAME
        x, y = load_test_sample(test_src, test_sequences)
        buf = io.BytesIO()
        np.savez(buf, x=x, y=y)
        atomic_write_bytes(test_path, buf.getvalue())
        info = {
            "schema": SCHEMA, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "source_run": str(run_dir.resolve()), "source_test_sha256": sha256_file(test_src),
            "test": {**file_entry(test_path, tmp), "sequences": int(x.shape[0]), "seq_len": int(x.shape[1])},
            "env": environment_info(),
        }
        tmp_tar = Path(tmp) / "bundle.tar"
        with tarfile.open(tmp_tar, "w") as tar:
            _add_bytes(tar, BUNDLE_MANIFEST, json.dumps(info, indent=2).encode())
            tar.add(test_path, arcname=TEST_NAME)
            tar.add(export_dir / "manifest.json", arcname="export/manifest.json")
            for name, entry in manifest["outputs"].items():
                rel = PurePosixPath(entry["path"])
                if rel.is_absolute() or ".." in rel.parts:
                    raise DataError(f"{export_dir}/manifest.json: output {name!r} lies outside the export folder")
                tar.add(export_dir / rel, arcname=f"export/{rel}")
        return atomic_copy(tmp_tar, out_tar, overwrite=overwrite)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mtime = int(_dt.datetime.now().timestamp())
    tar.addfile(ti, io.BytesIO(data))


def unpack_bundle(tar_path: str | Path, out_dir: str | Path) -> Path:
    """Extract a bundle into ``out_dir`` (regular files only, no paths outside it); returns ``out_dir``.

    Extracting again into a folder holding the same bundle is a no-op; a folder holding other files is refused.
    ``bundle.json`` is written last, so a folder without it holds at most an interrupted unpack (redone).
    Member paths are checked by hand because ``tarfile``'s ``filter="data"`` is missing from the Python 3.11.2
    of Debian bookworm / Raspberry Pi OS.
    """
    tar_path, out_dir = Path(tar_path), Path(out_dir)
    if not tar_path.is_file():
        raise FileNotFoundError(f"{tar_path}: bundle not found")
    try:
        tar = tarfile.open(tar_path, "r")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{tar_path}: not a tar file ({exc})") from None
    with tar:
        members = _checked_members(tar, tar_path)
        try:
            raw = tar.extractfile(members[BUNDLE_MANIFEST]).read()
            info = json.loads(raw)
        except (OSError, ValueError, tarfile.TarError) as exc:
            raise DataError(f"{tar_path}: {BUNDLE_MANIFEST} is not readable JSON ({exc})") from None
        if not isinstance(info, dict) or info.get("schema") != SCHEMA:
            schema = info.get("schema") if isinstance(info, dict) else None
            raise DataError(f"{tar_path}: unknown bundle schema {schema!r} (expected {SCHEMA})")
        existing = out_dir / BUNDLE_MANIFEST
        if existing.is_file() and existing.read_bytes() == raw:
            return out_dir  # already unpacked here (the bench re-verifies every checksum)
        # Without bundle.json (written last), bundle files there are an interrupted unpack: replaced.
        mine = OWN_ENTRIES | ({"export", TEST_NAME} if not existing.exists() else set())
        if out_dir.exists() and any(p.name not in mine for p in out_dir.iterdir()):
            raise FileExistsError(f"{out_dir}: not empty and holds no copy of this bundle; choose an empty --out folder")
        try:
            for name, m in sorted(members.items(), key=lambda nm: nm[0] == BUNDLE_MANIFEST):
                atomic_write_bytes(out_dir / name, tar.extractfile(m).read(), overwrite=True)
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise DataError(f"{tar_path}: damaged bundle ({exc})") from None
    return out_dir


def _checked_members(tar: tarfile.TarFile, tar_path: Path) -> dict[str, tarfile.TarInfo]:
    """Regular-file members of a bundle: bundle.json, test.npz and files under export/ (nothing else)."""
    try:
        all_members = tar.getmembers()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{tar_path}: damaged tar file ({exc})") from None
    names = {PurePosixPath(m.name).as_posix() for m in all_members}
    for need in (BUNDLE_MANIFEST, "export/manifest.json"):
        if need not in names:
            raise DataError(f"{tar_path}: not a sleepedge bench bundle (no {need})")
    members: dict[str, tarfile.TarInfo] = {}
    for m in all_members:
        p = PurePosixPath(m.name)
        if m.isdir():
            continue
        allowed = p.as_posix() in (BUNDLE_MANIFEST, TEST_NAME) or (len(p.parts) > 1 and p.parts[0] == "export")
        if not m.isfile() or p.is_absolute() or ".." in p.parts or not allowed:
            raise DataError(f"{tar_path}: unsafe or unexpected member {m.name!r}")
        members[p.as_posix()] = m
    return members
