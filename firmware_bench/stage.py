"""Pipeline entry point: the bench stage of a run folder with the run's resolved config."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sleepedge.firmware_bench.benchmark import run_bench
from sleepedge.firmware_bench.settings import BenchSettings


def run_bench_stage(run_dir: str | Path, cfg: Any, overwrite: bool = False) -> Path:
    """Bench ``RUN/export`` with ``cfg.bench`` (a :class:`sleepedge.config.settings.Config`); returns ``RUN/bench``."""
    run_bench(run_dir, BenchSettings.from_config(cfg.bench), overwrite=overwrite)
    return Path(run_dir) / "bench"
