"""``sleepedge bench``: latency, memory, size and accuracy of a run's exported models (host or ARM board).

    sleepedge bench --run RUN                         bench RUN/export, write RUN/bench/
    sleepedge bench --run RUN --bundle OUT.tar        pack models + test sample + manifests for a board
    sleepedge bench --from-bundle OUT.tar --out DIR   on the board: unpack into DIR, write DIR/bench/
    sleepedge bench --merge a.json b.json --out m.md  one comparison table across devices
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

HELP = "benchmark exported models (latency, memory, size, accuracy); bundle for / merge from ARM boards"

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--run", help="run folder with a finished export stage")
    mode.add_argument("--from-bundle", metavar="TAR", help="bundle made by --bundle (needs --out)")
    mode.add_argument("--merge", nargs="+", metavar="RESULTS_JSON", help="results.json files of several devices (needs --out)")
    p.add_argument("--bundle", metavar="OUT_TAR", help="with --run: write a bundle instead of benching (a file; not '-')")
    p.add_argument("--out", help="folder for --from-bundle (not '-'); markdown file for --merge, '-' = print the "
                                 "merged table to standard output only")
    p.add_argument("--preset", default=None,
                   help="config preset or TOML file (default: the config recorded in the export manifest)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value, e.g. --set bench.rounds=5 (repeatable)")
    p.add_argument("--threads", type=int, help="inference threads (default: bench.threads, 1)")
    p.add_argument("--xnnpack", choices=["on", "off", "both"], help="TFLite XNNPACK delegate (default: bench.xnnpack)")
    p.add_argument("--runtimes", help="comma list: onnxruntime,tflite,ai-edge-litert,tflite-runtime,torch")
    p.add_argument("--reference", metavar="MODEL/FORMAT/RUNTIME",
                   help="row the ratios refer to (default: bench.reference, baseline/onnx_fp32/onnxruntime)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bench folder / bundle / merged file")


def _settings(args: argparse.Namespace, recorded: dict | None):
    """--preset/--set/flags; without --preset, the [bench] section recorded in the export manifest + --set/flags."""
    from sleepedge.config.settings import Config, apply_dict, apply_overrides, load_config
    from sleepedge.firmware_bench.settings import BenchSettings

    overrides = list(args.overrides) + [f"bench.{k}={getattr(args, k)}" for k in ("threads", "runtimes", "reference")
                                        if getattr(args, k) is not None]
    cfg = load_config(args.preset) if args.preset else Config()
    if recorded and not args.preset:
        apply_dict(cfg, {"bench": recorded}, source="export manifest config")
    apply_overrides(cfg, overrides)
    return BenchSettings.from_config(cfg.bench, xnnpack=args.xnnpack)


def _recorded_bench(manifest_text: str | bytes | None) -> dict:
    """The ``config.bench`` table of an export manifest's text, or {}."""
    try:
        bench = json.loads(manifest_text or "{}").get("config", {}).get("bench")
    except (ValueError, AttributeError):  # not JSON, or not an object: the manifest check reports it
        return {}
    return bench if isinstance(bench, dict) else {}


def run(args: argparse.Namespace) -> int:
    from sleepedge.config.settings import ConfigError

    if (args.from_bundle or args.merge) and not args.out:
        raise ConfigError("--from-bundle and --merge need --out")
    if args.bundle and not args.run:
        raise ConfigError("--bundle needs --run")
    _refuse_stdout(args)
    if args.merge:
        return _merge(args)
    if args.from_bundle:
        return _from_bundle(args)
    return _run(args)


def _refuse_stdout(args: argparse.Namespace) -> None:
    """``-`` (standard output) makes sense for the merged table only: a bundle is a tar file, --from-bundle a folder."""
    from sleepedge.config.settings import ConfigError

    if args.from_bundle and args.out == "-":
        raise ConfigError("--out -: --from-bundle unpacks into a folder and writes DIR/bench/; "
                          "standard output cannot hold it, name a folder")
    if args.bundle == "-":
        raise ConfigError("--bundle -: a bundle is a tar file for the board; name a file, not standard output")


def _merge(args: argparse.Namespace) -> int:
    from sleepedge.firmware_bench import merge_markdown
    from sleepedge.run.manifest import atomic_write_text

    if args.out != "-" and Path(args.out).exists() and not args.overwrite:  # refused before any file is read
        raise FileExistsError(f"{args.out}: exists; refusing to overwrite (pass --overwrite to replace it)")
    text = merge_markdown(args.merge)
    if args.out == "-":  # standard output: the table alone, no file written
        sys.stdout.write(text)
        return 0
    atomic_write_text(args.out, text, overwrite=args.overwrite)
    print(text)
    return 0


def _from_bundle(args: argparse.Namespace) -> int:
    from sleepedge.firmware_bench import bench_from_bundle
    from sleepedge.firmware_bench.bundle import recorded_export_manifest, refuse_symlinks

    refuse_symlinks(Path(args.out))  # before the run lock is taken there: nothing is written through a link
    # the archive is checked against the bundle limits (docs/raspberry-pi.md) before its manifest is read
    recorded = _recorded_bench(recorded_export_manifest(args.from_bundle))
    rows = bench_from_bundle(args.from_bundle, args.out, _settings(args, recorded), overwrite=args.overwrite)
    return _print_results(Path(args.out) / "bench", rows)


def _run(args: argparse.Namespace) -> int:
    from sleepedge.firmware_bench import make_bundle, run_bench

    run_dir = Path(args.run)
    manifest = run_dir / "export" / "manifest.json"
    settings = _settings(args, _recorded_bench(manifest.read_bytes() if manifest.is_file() else None))
    if args.bundle:
        out = make_bundle(run_dir, args.bundle, test_sequences=settings.test_sequences, overwrite=args.overwrite)
        print(f"bundle written: {out} ({out.stat().st_size / 2**20:.1f} MiB)")
        return 0
    rows = run_bench(run_dir, settings, overwrite=args.overwrite)
    return _print_results(run_dir / "bench", rows)


def _print_results(bench_dir: Path, rows: list) -> int:
    print((bench_dir / "results.md").read_text("utf-8"))
    print(f"results: {bench_dir / 'results.json'}")
    failed = [r["key"] for r in rows if r["status"] == "failed"]
    if failed:  # reported in the table with their reasons; the bench itself ran, so exit 0
        log.warning("rows that failed: %s", ", ".join(failed))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m sleepedge.commands.bench ...``: the same as ``sleepedge bench ...`` but imports only this
    subcommand (handy on a board or under an emulator, where every import costs)."""
    from sleepedge.commands.cli import run_command

    parser = argparse.ArgumentParser(prog="sleepedge bench", description=HELP)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("--debug", action="store_true")
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose + 1, 2), format="%(levelname)s %(name)s: %(message)s")
    return run_command("bench", lambda: run(args), debug=args.debug or args.verbose >= 2)


if __name__ == "__main__":
    raise SystemExit(main())
