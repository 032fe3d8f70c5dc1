"""Pipeline entry point: the bench stage of a run folder with the run's resolved config."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .benchmark import run_bench
from .settings import BenchSettings


def run_bench_stage(run_dir: str | Path, cfg: Any, overwrite: bool = False) -> Path:
    """Bench ``RUN/export`` with ``cfg.bench`` (a :class:`sleepedge.config.Config`); returns ``RUN/bench``."""
    run_bench(run_dir, BenchSettings.from_config(cfg.bench), overwrite=overwrite)
    return Path(run_dir) / "bench"
