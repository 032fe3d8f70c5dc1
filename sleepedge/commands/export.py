"""``sleepedge export``: checkpoints -> ONNX / TFLite fp32 / TFLite int8, each checked with its own runtime."""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = ("export the baseline and compressed models to ONNX and TFLite (fp32, int8 calibrated on real "
        "sequences); check parity, accuracy, Flex ops and the TFLite Micro arena (exit 1 if a format failed)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", metavar="RUN", help="run folder: exports RUN/train/model.pt and, when present, "
                     "RUN/compress's selected model into RUN/export")
    src.add_argument("--from", dest="from_stage", metavar="STAGE_DIR",
                     help="RUN/compress (baseline + selected) or RUN/train (baseline only); writes RUN/export")
    src.add_argument("--checkpoint", metavar="X.pt", help="one checkpoint; needs --data and --out")
    p.add_argument("--data", metavar="TRAIN_DIR", help="with --checkpoint: folder holding test.npz and calib.npz")
    p.add_argument("--out", metavar="DIR", help="with --checkpoint: output folder")
    p.add_argument("--name", default="model", help="with --checkpoint: model name in rows and file paths")
    p.add_argument("--preset", default=None,
                   help="preset name or TOML file (default: the config the run was trained with, else quick)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set export.calib_sequences=64 (repeatable)")
    p.add_argument("--overwrite", action="store_true",
                   help="redo a finished export (the old one is kept until the new one is complete)")


def _config(args: argparse.Namespace, manifest_dir: Path | None):
    """``--preset`` + ``--set``; without ``--preset`` the config recorded in ``manifest_dir``'s manifest."""
    from sleepedge.config.settings import apply_overrides, config_from_dict, load_config
    from sleepedge.run.manifest import MANIFEST_NAME, read_manifest

    if args.preset is None and manifest_dir is not None and (manifest_dir / MANIFEST_NAME).is_file():
        cfg = config_from_dict(read_manifest(manifest_dir, verify=False).get("config") or {})
        return apply_overrides(cfg, args.overrides)
    return load_config(args.preset or "quick", args.overrides)


def _export(args: argparse.Namespace) -> Path:
    import re

    from sleepedge.config.settings import ConfigError
    from sleepedge.export.stage import export_single, run_export_stage

    if args.checkpoint:
        if not args.data or not args.out:
            raise FileNotFoundError("--checkpoint needs --data TRAIN_DIR (test.npz, calib.npz) and --out DIR")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", args.name):  # a folder name inside --out, nothing else
            raise ConfigError(f"--name {args.name!r}: expected a plain name (letters, digits, '_', '.', '-')")
        cfg = _config(args, Path(args.data))
        return export_single(args.checkpoint, args.data, args.out, cfg, args.name, overwrite=args.overwrite)
    from sleepedge.run.locking import run_lock

    if args.run:
        run_dir, compressed = Path(args.run), None
    else:
        stage = Path(args.from_stage)
        if stage.name not in ("train", "compress"):
            raise FileNotFoundError(f"--from {stage}: expected a RUN/train or RUN/compress folder")
        run_dir, compressed = stage.parent, stage.name == "compress"
    if not run_dir.exists():
        raise FileNotFoundError(f"{run_dir}: run folder not found")
    with run_lock(run_dir):  # a second command on this run refuses at once, before any work
        cfg = _config(args, run_dir / "train")
        return run_export_stage(run_dir, cfg, overwrite=args.overwrite, compressed=compressed)


def run(args: argparse.Namespace) -> int:
    from sleepedge.run.manifest import read_manifest

    out = _export(args)
    rows = read_manifest(out)["metrics"]["rows"]
    print((out / "formats.md").read_text(encoding="utf-8"))
    print(f"export: {sum(r['status'] == 'ok' for r in rows)}/{len(rows)} formats ok -> {out}")
    return 0 if all(r["status"] == "ok" for r in rows) else 1
