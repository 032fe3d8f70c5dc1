"""One-file bundle for a board: the export folder (manifest + every output), the test sample, bundle.json.

Unpacked, a bundle is a run folder the bench reads like any other (``export/`` verifies against its own
manifest; ``bundle.json`` names the test sample and its sha256), so ``--from-bundle`` writes the same
results.json as a run on the host.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import io
import json
import os
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

import numpy as np

from sleepedge.core.envinfo import environment_info
from sleepedge.core.errors import DataError
from sleepedge.run.atomic import atomic_write_stream
from sleepedge.run.manifest import atomic_copy, atomic_write_bytes, file_entry, sha256_file
from sleepedge.run.transaction import reading_run

from sleepedge.firmware_bench.targets import BUNDLE_MANIFEST, load_test_sample, locate_test_sample, read_export

SCHEMA = "sleepedge.bench-bundle/1"
# What a bench run itself puts into the --out folder (results, its build folder, the run lock).
OWN_ENTRIES = {"bench", ".bench.partial", ".bench.old", ".sleepedge.lock"}
TEST_NAME = "test.npz"
EXPORT_MANIFEST = "export/manifest.json"
# Limits of --from-bundle (docs/raspberry-pi.md): generous for the paper-size models (~100 MB a bundle),
# far below what would exhaust a board's memory or SD card. A bundle beyond them is refused before unpacking.
MAX_TOTAL_BYTES = 1 << 30  # 1 GiB: every member together
MAX_MEMBERS = 2_000
MAX_MEMBER_BYTES = 512 << 20  # 512 MiB: one member
MAX_JSON_BYTES = 64 << 20  # bundle.json and export/manifest.json, the two members read into memory


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


@dataclass(frozen=True)
class BundleLimits:
    """How much a bundle may unpack; anything beyond is refused before a byte of it is written.

    Attributes
    ----------
    total_bytes : the members' sizes together.
    members : how many members (files and folders) the archive may hold.
    member_bytes : the size of one member.
    json_bytes : the size of ``bundle.json`` and ``export/manifest.json``, the two members read into memory.
    """

    total_bytes: int
    members: int
    member_bytes: int
    json_bytes: int


def default_limits() -> BundleLimits:
    """The limits of the module constants (read at call time, so a test may lower them)."""
    return BundleLimits(MAX_TOTAL_BYTES, MAX_MEMBERS, MAX_MEMBER_BYTES, MAX_JSON_BYTES)


def unpack_bundle(tar_path: str | Path, out_dir: str | Path, limits: BundleLimits | None = None) -> Path:
    """Extract a bundle into ``out_dir`` (regular files only, no paths outside it); returns ``out_dir``.

    Only the members the bundle lists are unpacked: ``bundle.json``, ``test.npz``, ``export/manifest.json``
    and the outputs that manifest names; each is streamed to disk, never read whole into memory, and the
    archive is refused before anything is written when it breaks ``limits`` (:func:`default_limits`:
    1 GiB in all, 2,000 members, 512 MiB per member) or when ``out_dir`` holds a symbolic link.
    Extracting again into a folder holding the same bundle is a no-op; a folder holding other files is refused.
    ``bundle.json`` is written last, so a folder without it holds at most an interrupted unpack (redone).
    Member paths are checked by hand because ``tarfile``'s ``filter="data"`` is missing from the Python 3.11.2
    of Debian bookworm / Raspberry Pi OS.
    """
    tar_path, out_dir = Path(tar_path), Path(out_dir)
    limits = limits or default_limits()
    refuse_symlinks(out_dir)
    with _open_bundle(tar_path, limits) as (tar, members):
        raw = _read_json_member(tar, members, BUNDLE_MANIFEST, tar_path, limits)
        _check_schema(raw, tar_path)
        existing = out_dir / BUNDLE_MANIFEST
        if existing.is_file() and existing.stat().st_size == len(raw) and existing.read_bytes() == raw:
            return out_dir  # already unpacked here (the bench re-verifies every checksum)
        # Without bundle.json (written last), bundle files there are an interrupted unpack: replaced.
        mine = OWN_ENTRIES | ({"export", TEST_NAME} if not existing.exists() else set())
        if out_dir.exists() and any(p.name not in mine for p in out_dir.iterdir()):
            raise FileExistsError(f"{out_dir}: not empty and holds no copy of this bundle; choose an empty --out folder")
        _extract(tar, members, out_dir, tar_path)
    return out_dir


def recorded_export_manifest(tar_path: str | Path, limits: BundleLimits | None = None) -> bytes:
    """The bytes of a bundle's ``export/manifest.json``, read within ``limits`` (the archive checked as for unpacking)."""
    tar_path = Path(tar_path)
    limits = limits or default_limits()
    with _open_bundle(tar_path, limits) as (tar, members):
        return _read_json_member(tar, members, EXPORT_MANIFEST, tar_path, limits)


def refuse_symlinks(out_dir: Path) -> None:
    """Refuse a symbolic link anywhere inside ``out_dir``: unpacking or benching must never write through one."""
    if not out_dir.is_dir():
        return
    for folder, dirs, files in os.walk(out_dir, followlinks=False):
        for name in sorted(dirs + files):
            if os.path.islink(os.path.join(folder, name)):
                raise FileExistsError(f"{os.path.join(folder, name)}: a symbolic link inside --out {out_dir}; "
                                      "sleepedge never writes through one: remove it or choose an empty --out folder")


@contextlib.contextmanager
def _open_bundle(tar_path: Path, limits: BundleLimits) -> Iterator[tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]]:
    """The open archive and its checked members (every one listed by the bundle, every limit kept)."""
    if not tar_path.is_file():
        raise FileNotFoundError(f"{tar_path}: bundle not found")
    try:
        tar = tarfile.open(tar_path, "r")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{tar_path}: not a tar file ({exc})") from None
    with tar:
        members = _checked_members(tar, tar_path, limits)
        _refuse_unlisted(members, _listed(_read_json_member(tar, members, EXPORT_MANIFEST, tar_path, limits)), tar_path)
        yield tar, members


def _read_json_member(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str, tar_path: Path,
                      limits: BundleLimits) -> bytes:
    """The bytes of one small member (``bundle.json``, the export manifest), refused above ``limits.json_bytes``."""
    m = members[name]
    if m.size > limits.json_bytes:
        raise DataError(f"{tar_path}: member {name!r} claims {m.size:,} bytes, more than the {limits.json_bytes:,} "
                        "a bundle's JSON may have")
    try:
        return tar.extractfile(m).read()
    except (OSError, tarfile.TarError, EOFError, zlib.error) as exc:
        raise DataError(f"{tar_path}: damaged bundle, {name} unreadable ({exc})") from None


def _check_schema(raw: bytes, tar_path: Path) -> None:
    try:
        info = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise DataError(f"{tar_path}: {BUNDLE_MANIFEST} is not readable JSON ({exc})") from None
    if not isinstance(info, dict) or info.get("schema") != SCHEMA:
        schema = info.get("schema") if isinstance(info, dict) else None
        raise DataError(f"{tar_path}: unknown bundle schema {schema!r} (expected {SCHEMA})")


def _listed(manifest_raw: bytes) -> set[str]:
    """Members a bundle may hold: its two JSON files, the test sample, and the outputs its export manifest names.

    An entry without a usable relative path lists nothing (the bench's manifest check reports it).
    """
    listed = {BUNDLE_MANIFEST, TEST_NAME, EXPORT_MANIFEST}
    try:
        outputs = json.loads(manifest_raw).get("outputs")
    except (ValueError, AttributeError):  # not JSON, or not an object: the bench's manifest check reports it
        return listed
    for entry in (outputs.values() if isinstance(outputs, dict) else []):
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and not PurePosixPath(path).is_absolute():
            listed.add((PurePosixPath("export") / path).as_posix())
    return listed


def _refuse_unlisted(members: dict[str, tarfile.TarInfo], listed: set[str], tar_path: Path) -> None:
    extra = sorted(set(members) - listed)
    if extra:
        more = f" and {len(extra) - 3} more" if len(extra) > 3 else ""
        raise DataError(f"{tar_path}: member(s) {', '.join(map(repr, extra[:3]))}{more} not listed in its "
                        f"{EXPORT_MANIFEST}; a bundle holds only what its manifests name")


def _extract(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo], out_dir: Path, tar_path: Path) -> None:
    """Stream every member to its file (``bundle.json`` last), each written atomically."""
    try:
        for name, m in sorted(members.items(), key=lambda nm: nm[0] == BUNDLE_MANIFEST):
            with tar.extractfile(m) as src:
                atomic_write_stream(out_dir / name, src, overwrite=True)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise DataError(f"{tar_path}: damaged bundle ({exc})") from None


def _checked_members(tar: tarfile.TarFile, tar_path: Path, limits: BundleLimits) -> dict[str, tarfile.TarInfo]:
    """Regular-file members of a bundle: bundle.json, test.npz and files under export/ (nothing else).

    Headers are read one at a time, so an archive of too many members or a member claiming too many
    bytes is refused at its header, before the rest is read.
    """
    members: dict[str, tarfile.TarInfo] = {}
    unsafe: list[str] = []
    total = 0
    try:
        for count, m in enumerate(tar, 1):
            _check_limits(m, count, total + m.size, tar_path, limits)
            total += m.size
            name = None if m.isdir() else _safe_name(m)
            if name is None and not m.isdir():
                unsafe.append(m.name)
            elif name in members:
                raise DataError(f"{tar_path}: member {m.name!r} appears twice")
            elif name is not None:
                members[name] = m
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise DataError(f"{tar_path}: damaged tar file ({exc})") from None
    for need in (BUNDLE_MANIFEST, EXPORT_MANIFEST):
        if need not in members:
            raise DataError(f"{tar_path}: not a sleepedge bench bundle (no {need})")
    if unsafe:
        raise DataError(f"{tar_path}: unsafe or unexpected member {unsafe[0]!r}")
    return members


def _check_limits(m: tarfile.TarInfo, count: int, total: int, tar_path: Path, limits: BundleLimits) -> None:
    if count > limits.members:
        raise DataError(f"{tar_path}: more than {limits.members:,} members; not a sleepedge bench bundle "
                        "(limit: firmware_bench.bundle.MAX_MEMBERS)")
    if m.size > limits.member_bytes:
        raise DataError(f"{tar_path}: member {m.name!r} claims {m.size:,} bytes, more than the {limits.member_bytes:,} "
                        "allowed per member (limit: firmware_bench.bundle.MAX_MEMBER_BYTES)")
    if total > limits.total_bytes:
        raise DataError(f"{tar_path}: members add up to more than {limits.total_bytes:,} bytes "
                        "(limit: firmware_bench.bundle.MAX_TOTAL_BYTES)")


def _safe_name(m: tarfile.TarInfo) -> str | None:
    """The member's path when it is a regular file at a place a bundle uses, else None."""
    p = PurePosixPath(m.name)
    allowed = p.as_posix() in (BUNDLE_MANIFEST, TEST_NAME) or (len(p.parts) > 1 and p.parts[0] == "export")
    if not m.isfile() or p.is_absolute() or ".." in p.parts or not allowed:
        return None
    return p.as_posix()
