"""Plain-text summaries behind ``sleepedge data prepare`` and ``sleepedge data info``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sleepedge.train.dataset import LABEL_NAMES, Dataset, class_counts


def format_count_table(ds: Dataset) -> str:
    """Per-night and total epochs per class; a synthetic dataset is labelled as such in the title."""
    title = f"dataset: {ds.name}" + ("  (SYNTHETIC: simulated EEG, not real recordings)" if ds.synthetic else "")
    head = f"{'record':<10}{'subject':>8}{'night':>6}{'epochs':>8}" + "".join(f"{c:>7}" for c in LABEL_NAMES)
    lines = [title, head, "-" * len(head)]
    for n in ds.nights:
        counts = class_counts([n])
        lines.append(f"{n.record:<10}{n.subject:>8}{n.night:>6}{len(n.y):>8}"
                     + "".join(f"{counts[c]:>7}" for c in LABEL_NAMES))
    total = class_counts(ds.nights)
    n_all = sum(total.values())
    lines.append("-" * len(head))
    lines.append(f"{'total':<10}{len(ds.info.get('subjects', [])):>8}{len(ds.nights):>6}{n_all:>8}"
                 + "".join(f"{total[c]:>7}" for c in LABEL_NAMES))
    lines.append(f"{'share':<24}{'':>8}" + "".join(f"{100 * total[c] / max(n_all, 1):>6.1f}%" for c in LABEL_NAMES))
    return "\n".join(lines)


def data_info(cfg) -> dict[str, Any]:
    """What is present and cached for ``cfg`` (Sleep-EDF), without reading any EDF signal.

    Returns
    -------
    dict
        ``data_dir``, ``exists``, ``records`` ({record: {"psg", "hypnogram", "cached"}}), ``cache_dir``,
        ``cache_entries`` (records whose entry was made with the current reader parameters).
    """
    from sleepedge.train.cache import NightCache, reader_params
    from sleepedge.train.dataset import resolve_cache_dir, resolve_data_dir
    from sleepedge.train.sleep_edf import find_pairs

    data_dir = resolve_data_dir(cfg)
    pairs = find_pairs(data_dir) if data_dir.is_dir() else {}
    cache = NightCache(resolve_cache_dir(cfg, data_dir) / "sleep-edf", reader_params(cfg))
    entries = cache.manifest()["entries"]
    current = {rec for rec, e in entries.items() if e.get("params") == cache.params}
    records = {rec: {"psg": str(psg), "hypnogram": str(hyp) if hyp else None, "cached": rec in current}
               for rec, (psg, hyp) in pairs.items()}
    return {"data_dir": str(data_dir), "exists": data_dir.is_dir(), "records": records,
            "cache_dir": str(cache.root), "cache_entries": sorted(current),
            "stale_cache_entries": sorted(set(entries) - current)}


def format_info(info: dict[str, Any]) -> str:
    """Plain-text form of :func:`data_info`."""
    recs = info["records"]
    state = "" if info["exists"] else ("  (not a folder)" if Path(info["data_dir"]).exists() else "  (missing)")
    lines = [f"data dir:  {info['data_dir']}" + state,
             f"nights:    {len(recs)} PSG files, {sum(1 for r in recs.values() if r['hypnogram'])} with a hypnogram",
             f"cache dir: {info['cache_dir']}",
             f"cached:    {len(info['cache_entries'])} night(s) for the current reader parameters"
             + (f", {len(info['stale_cache_entries'])} made with other parameters" if info["stale_cache_entries"] else ""),
             "(a cached night is re-read from EDF when its files' sha256 changed)"]
    if recs:
        lines.append(f"{'record':<10} {'hypnogram':<28} cached")
        for rec, r in recs.items():
            hyp = Path(r["hypnogram"]).name if r["hypnogram"] else "MISSING"
            lines.append(f"{rec:<10} {hyp:<28} {'yes' if r['cached'] else 'no'}")
    return "\n".join(lines)
