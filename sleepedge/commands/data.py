"""``sleepedge data``: download Sleep-EDF, prepare (read + cache) a dataset, show what is present."""
from __future__ import annotations

import argparse

from sleepedge.commands._common import add_config_arguments, add_data_arguments, resolve_config

HELP = "download Sleep-EDF (fetch), read and cache a dataset (prepare), show what is present (info)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    fetch = sub.add_parser("fetch", help="download Sleep-EDF sleep-cassette nights with MNE's fetcher",
                           description="Download PSG + hypnogram EDF pairs (PhysioNet Sleep-EDF Expanded, "
                                       "sleep-cassette) with mne.datasets.sleep_physionet.age.fetch_data.")
    fetch.add_argument("--subjects", default="0-19",
                       help="subjects, e.g. 0-19 (Sleep-EDF-20, 39 nights; the default) or 0,3,5-7")
    fetch.add_argument("--nights", default="1,2", help="nights to fetch: 1, 2 or 1,2 (default)")
    fetch.add_argument("--data-dir", default=None,
                       help="download folder (MNE adds physionet-sleep-data/); default: MNE's folder")
    fetch.set_defaults(_data_run=_run_fetch)

    prepare = sub.add_parser("prepare", help="read a dataset, cache its epochs, print per-class counts",
                             description="Read every night (EDF via MNE, or the synthetic generator), write "
                                         "the prepared-epoch cache, and print a per-class count table.")
    _add_dataset_arguments(prepare)
    prepare.add_argument("--band-power", action="store_true",
                         help="also print relative band power and amplitude per stage (sanity check)")
    prepare.set_defaults(_data_run=_run_prepare)

    info = sub.add_parser("info", help="show which Sleep-EDF files are present and which are cached",
                          description="List PSG/hypnogram pairs in the data folder and the cache entries.")
    _add_dataset_arguments(info)
    info.set_defaults(_data_run=_run_info)


def _add_dataset_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    add_data_arguments(p)
    p.add_argument("--cache-dir", default=None, help="prepared-epoch cache folder (default: see data.cache_dir)")
    p.add_argument("--subjects", default=None,
                   help="Sleep-EDF subject numbers (0-82), e.g. 0-19 or 0,3; 0 is subject 0 (SC40xx), not a count; "
                        "info lists only their nights (default: the preset's for prepare, every night for info); "
                        "not for --dataset synthetic (use --set data.synthetic_subjects=N)")


def _data_config(args: argparse.Namespace):
    cfg = resolve_config(args).data
    if args.cache_dir:
        cfg.cache_dir = args.cache_dir
    if args.subjects is not None:
        from sleepedge.train.fetch import parse_subjects

        if cfg.dataset == "synthetic":
            from sleepedge.config.settings import ConfigError

            raise ConfigError(f"--subjects {args.subjects!r}: names Sleep-EDF subjects and means nothing for the "
                              "synthetic dataset; set how many with --set data.synthetic_subjects=N")
        cfg.subjects = parse_subjects(args.subjects)
        _check_subjects(cfg.subjects, "--subjects")
    return cfg


def _check_subjects(subjects: list[int], where: str) -> None:
    """The range rule of ``data.subjects`` for subjects given on the command line."""
    from sleepedge.config.settings import ConfigError
    from sleepedge.config.rules import RuleError, check_key

    try:
        check_key("data.subjects", subjects)
    except RuleError as exc:
        raise ConfigError(f"{where} {subjects}: {exc}") from None


def _run_fetch(args: argparse.Namespace) -> int:
    from sleepedge.train.fetch import fetch_sleep_edf, parse_subjects

    from sleepedge.config.settings import ConfigError

    nights = tuple(parse_subjects(args.nights))
    if not set(nights) <= {1, 2}:
        raise ConfigError(f"--nights {args.nights!r}: Sleep-EDF has nights 1 and 2 only")
    subjects = parse_subjects(args.subjects)
    _check_subjects(subjects, "--subjects")
    pairs = fetch_sleep_edf(subjects, args.data_dir, recording=nights)
    for psg, hyp in pairs:
        print(f"{psg}  {hyp.name}")
    folder = pairs[0][0].parent if pairs else "(none)"
    print(f"{len(pairs)} night(s) in {folder}; read them with --data-dir {folder}")
    return 0


def _run_prepare(args: argparse.Namespace) -> int:
    from sleepedge.train.data_report import format_count_table
    from sleepedge.train.dataset import load_dataset

    ds = load_dataset(_data_config(args), progress=True)
    print(format_count_table(ds))
    if ds.info.get("cache_dir"):
        print(f"cache: {ds.info['cache_dir']} ({ds.info.get('cache_hits', 0)} of {len(ds.nights)} nights from cache)")
    elif ds.synthetic:
        print("synthetic nights are regenerated on every load (deterministic; not cached)")
    if args.band_power:
        from sleepedge.train.band_power import format_band_table, stage_band_power

        print()
        print("relative band power per stage (share of 0.5-45 Hz power), median peak-to-peak")
        print(format_band_table(stage_band_power(ds.nights, sfreq=float(ds.info.get("sfreq", 100.0)))))
    return 0


def _run_info(args: argparse.Namespace) -> int:
    cfg = _data_config(args)
    if cfg.dataset == "synthetic":
        from sleepedge.train.synthetic import generator_params

        print("dataset: synthetic (SYNTHETIC: simulated EEG; regenerated on every load, not cached)")
        for key, value in generator_params(cfg).items():
            print(f"  {key}: {value}")
        return 0
    from sleepedge.train.data_report import data_info, format_info

    info = data_info(cfg)
    if args.subjects is not None:  # only the nights of the subjects asked for (never silently every night)
        info = _only_subjects(info, cfg.subjects)
    print(format_info(info))
    return 0


def _only_subjects(info: dict, subjects: list[int]) -> dict:
    """:func:`~sleepedge.train.data_report.data_info` restricted to the records of ``subjects``."""
    from sleepedge.core.errors import DataError
    from sleepedge.train.sleep_edf import record_subject_night

    wanted = set(subjects)

    def keep(rec: str) -> bool:
        try:
            return record_subject_night(rec)[0] in wanted
        except DataError:  # a cache entry of no Sleep-EDF record name belongs to no subject
            return False
    return {**info, "records": {rec: r for rec, r in info["records"].items() if keep(rec)},
            "cache_entries": [rec for rec in info["cache_entries"] if keep(rec)],
            "stale_cache_entries": [rec for rec in info["stale_cache_entries"] if keep(rec)]}


def run(args: argparse.Namespace) -> int:
    return int(args._data_run(args) or 0)
