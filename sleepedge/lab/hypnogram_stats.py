"""Derive the synthetic generator's hypnogram statistics (train/hypnogram_stats.json) from expert label files.

    sleepedge lab hypnogram_stats --labels ../shared/data/sleep-edf/labels [--out FILE]

The derivation itself is :func:`sleepedge.train.hypnogram_stats.derive`; this tool reads the label files
and writes the JSON the package ships.
"""
from __future__ import annotations

import argparse
import json

from sleepedge.train.hypnogram_stats import STAGES, STATS_FILE, derive, load_label_nights


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Derive the synthetic generator's hypnogram statistics from label files.")
    p.add_argument("--labels", required=True, help="folder of *_labels.npz (key y: trimmed labels 0..4)")
    p.add_argument("--out", default=str(STATS_FILE), help=f"output JSON (default: {STATS_FILE})")
    a = p.parse_args(argv)
    from sleepedge.run.manifest import atomic_write_text

    stats = derive(load_label_nights(a.labels))
    atomic_write_text(a.out, json.dumps(stats, separators=(",", ":")) + "\n", overwrite=True)
    print(f"{a.out}: {stats['n_nights']} nights, class counts {dict(zip(STAGES, stats['class_counts']))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
