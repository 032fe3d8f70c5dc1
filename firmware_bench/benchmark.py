"""``run_bench``: measure every exported model of a run (or an unpacked bundle) and write RUN/bench/.

Outputs: results.json (list of rows), results.csv, results.md, predictions.npz (test-set logits per
row, for cross-device comparison), latency_vs_size.png (when matplotlib is installed), manifest.json
(parent: RUN/export).
"""
from __future__ import annotations

import io
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.config.settings import ConfigError
from sleepedge.run.locking import run_lock
from sleepedge.run.manifest import (
    atomic_write_bytes, atomic_write_json, atomic_write_text, dataset_of, dataset_title, write_manifest,
)
from sleepedge.run.transaction import stage_transaction

from sleepedge.firmware_bench.bundle import unpack_bundle
from sleepedge.firmware_bench.device import bench_device
from sleepedge.firmware_bench.measure import measure_all
from sleepedge.firmware_bench.plot import plot_latency_vs_size
from sleepedge.firmware_bench.report import results_markdown, rows_to_csv
from sleepedge.firmware_bench.rows import build_rows
from sleepedge.firmware_bench.settings import BenchSettings
from sleepedge.firmware_bench.targets import (
    BUNDLE_MANIFEST, build_targets, load_test_groups, load_test_sample, locate_test_sample, read_export,
)

log = logging.getLogger(__name__)


def run_bench(run_dir: str | Path, settings: BenchSettings, overwrite: bool = False) -> list[dict[str, Any]]:
    """Bench ``RUN/export`` on this machine and write ``RUN/bench/``; returns the rows.

    Parameters
    ----------
    run_dir : path
        Run folder with a finished export stage (or an unpacked bundle).
    settings : BenchSettings
        Threads, XNNPACK, timing rounds, runtimes, reference row.
    overwrite : bool
        Replace a finished ``RUN/bench``.
    """
    run_dir = Path(run_dir)
    with run_lock(run_dir):
        export_dir, manifest = read_export(run_dir)
        test_path = locate_test_sample(run_dir)
        x, y = load_test_sample(test_path, settings.test_sequences)
        from_bundle = (run_dir / BUNDLE_MANIFEST).is_file() and not (run_dir / "train").is_dir()
        if from_bundle and "torch" in settings.runtimes:
            log.info("bundle run: no PyTorch checkpoints in a bundle, so no torch reference rows")
        targets = build_targets(run_dir, export_dir, manifest, settings, with_torch=not from_bundle)
        check_reference(targets, settings.reference)
        # A transaction (sleepedge.run.transaction): measured into RUN/.bench.partial, swapped in when complete.
        with stage_transaction(run_dir / "bench", overwrite=overwrite) as bench_dir:
            device = bench_device()
            with tempfile.TemporaryDirectory(prefix="sleepedge-bench-") as tmp:
                window, test_x = Path(tmp) / "window.npy", Path(tmp) / "test_x.npy"
                np.save(window, x[:1])
                np.save(test_x, x)
                groups = load_test_groups(test_path, settings.test_sequences)
                if groups is not None and any(t.is_stateful for t in targets):  # stateful rows stream whole nights
                    np.save(Path(tmp) / "groups.npy", groups)
                measurements = measure_all(targets, settings, window, test_x, Path(tmp))
            rows = build_rows(measurements, y, settings, device)
            logits = {r["key"]: m.logits for r, m in zip(rows, measurements) if m.logits is not None}
            write_outputs(bench_dir, rows, logits, settings, run_dir.name, export_dir, test_path)
    return rows


def check_reference(targets: list, spec: str) -> None:
    """Refuse a ``bench.reference`` that names none of the rows about to be measured (every ratio would be empty)."""
    keys = [t.key for t in targets]
    if not any(k == spec or k.startswith(spec + "/") for k in keys):
        raise ConfigError(f"bench.reference = {spec!r}: names no row of this bench (rows: {', '.join(keys) or 'none'})")


def write_outputs(bench_dir: Path, rows: list[dict[str, Any]], logits: dict[str, np.ndarray], settings: BenchSettings,
                  title: str, export_dir: Path, test_path: Path) -> None:
    """results.json/.csv/.md, predictions.npz, the plot, then the manifest (last)."""
    dataset = dataset_of(export_dir)
    if dataset_title(dataset):
        title = f"{title}: {dataset_title(dataset)}"
    outputs = {
        "results_json": atomic_write_json(bench_dir / "results.json", rows, overwrite=True),
        "results_csv": atomic_write_text(bench_dir / "results.csv", rows_to_csv(rows), overwrite=True),
        "results_md": atomic_write_text(bench_dir / "results.md",
                                        results_markdown(rows, settings.to_dict(), title), overwrite=True),
    }
    buf = io.BytesIO()
    np.savez(buf, **{prediction_key(k): v for k, v in logits.items()})
    outputs["predictions"] = atomic_write_bytes(bench_dir / "predictions.npz", buf.getvalue(), overwrite=True)
    plot = plot_latency_vs_size(rows, bench_dir / "latency_vs_size.png", title)
    if plot is not None:
        outputs["plot"] = plot
    summary = {"rows": len(rows), "ok": sum(r["status"] == "ok" for r in rows), "reference": settings.reference,
               "emulated": bool(rows and rows[0]["emulated"])}
    write_manifest(bench_dir, "bench", outputs=outputs, inputs={"test": test_path}, parent=export_dir,
                   config={"bench": settings.to_dict()}, metrics=summary, dataset=dataset,
                   extra={"device": rows[0]["device"] if rows else {}})


def prediction_key(row_key: str) -> str:
    """Row key -> name inside predictions.npz (``/`` is not safe in an npz member name)."""
    return row_key.replace("/", "__")


def bench_from_bundle(bundle: str | Path, out_dir: str | Path, settings: BenchSettings,
                      overwrite: bool = False) -> list[dict[str, Any]]:
    """Unpack a bundle into ``out_dir`` and bench it there (``out_dir/bench/results.json``)."""
    with run_lock(out_dir):
        run_dir = unpack_bundle(bundle, out_dir)
        return run_bench(run_dir, settings, overwrite=overwrite)
