"""Measure targets in worker subprocesses: load, interleaved timing rounds, memory, test-set predictions.

With ``interleave`` every worker stays alive across rounds and round ``r`` times the targets in a
rotated order (A, B, C / B, C, A / ...), so slow drifts of a shared machine hit every model alike and
each round gives paired figures. Only one worker runs at a time; the others wait on their pipe.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.firmware_bench.client import WorkerClient, WorkerError
from sleepedge.firmware_bench.settings import BenchSettings
from sleepedge.firmware_bench.targets import Target

log = logging.getLogger(__name__)


@dataclass
class Measurement:
    """Raw figures of one target (the row is assembled from these in ``rows``)."""

    target: Target
    load: dict[str, Any] = field(default_factory=dict)
    rounds_ms: list[list[float]] = field(default_factory=list)  # a streaming pair: its feature model (one epoch)
    head_rounds_ms: list[list[float]] = field(default_factory=list)  # a streaming pair: its head (one decision)
    memory: dict[str, Any] = field(default_factory=dict)
    logits: np.ndarray | None = None


def measure_all(targets: list[Target], settings: BenchSettings, window: Path, test_x: Path,
                work_dir: Path) -> list[Measurement]:
    """Measure every target whose status is ``pending``; a failure marks that target ``failed`` with a reason."""
    results = [Measurement(t) for t in targets]
    todo = [m for m in results if m.target.status == "pending"]
    if settings.interleave:
        _run_group(todo, settings, window, test_x, work_dir)
    else:
        for m in todo:
            _run_group([m], settings, window, test_x, work_dir)
    for m in todo:
        if m.target.status == "pending":
            m.target.status = "ok"
    return results


def _run_group(group: list[Measurement], settings: BenchSettings, window: Path, test_x: Path, work_dir: Path) -> None:
    clients: dict[int, WorkerClient] = {}
    try:
        for i, m in enumerate(group):
            log.info("loading %s", m.target.key)
            try:
                clients[i] = WorkerClient(m.target.key, settings.worker_timeout_s)
            except OSError as exc:
                m.target.status, m.target.reason = "failed", f"cannot start a worker: {exc}"
                continue
            _step(m, clients, i, lambda c: _load(m, c, settings, window))
        for r in range(settings.rounds):
            order = [(r + k) % len(group) for k in range(len(group))]
            for i in order:
                _step(group[i], clients, i, lambda c, m=group[i]: _time_round(m, c, settings))
            log.info("round %d/%d done", r + 1, settings.rounds)
        for i, m in enumerate(group):
            _step(m, clients, i, lambda c: _finish(m, c, test_x, work_dir / f"logits_{i}.npy"))
    finally:
        for c in clients.values():
            c.close()


def _step(m: Measurement, clients: dict[int, WorkerClient], i: int, fn) -> None:
    """Run one request step on target ``i`` unless it already failed; a failure marks it and stops its worker."""
    if m.target.status != "pending":
        return
    try:
        fn(clients[i])
    except (WorkerError, OSError, ValueError) as exc:
        m.target.status, m.target.reason = "failed", str(exc)
        log.warning("%s failed: %s", m.target.key, exc)
        clients[i].kill()


def _time_round(m: Measurement, client: WorkerClient, settings: BenchSettings) -> None:
    """One timing round; a streaming or stateful pair times its two parts back to back, each for half the minimum time."""
    if not (m.target.is_pair or m.target.is_stateful):
        m.rounds_ms.append(client.request("time", warmup=settings.warmup, min_time_s=settings.min_time_s,
                                          min_runs=settings.min_runs)["times_ms"])
        return
    second = "step" if m.target.is_stateful else "head"
    for part, store in (("features", m.rounds_ms), (second, m.head_rounds_ms)):
        store.append(client.request("time", warmup=settings.warmup, min_time_s=settings.min_time_s / 2,
                                    min_runs=settings.min_runs, part=part)["times_ms"])


def _load(m: Measurement, client: WorkerClient, settings: BenchSettings, window: Path) -> None:
    t = m.target
    m.load = client.request("load", runtime=t.runtime, path=str(t.path), threads=settings.threads,
                            xnnpack=t.xnnpack, window=str(window),
                            head_path=str(t.head_path) if t.head_path else None,
                            **({"stateful": True} if t.is_stateful else {}))
    log.info("%s: load %.1f ms, first inference %.1f ms", t.key, m.load["load_ms"], m.load["first_inference_ms"])


def _finish(m: Measurement, client: WorkerClient, test_x: Path, out: Path) -> None:
    """Memory first (so the test set held during prediction does not count), then test-set logits."""
    m.memory = client.request("memory")
    if m.target.untrained:  # random weights: its stages mean nothing, and scoring the test set would cost time
        return
    groups = test_x.with_name("groups.npy")  # stateful pairs stream whole test nights (written by run_bench)
    extra = {"groups": str(groups)} if m.target.is_stateful and groups.is_file() else {}
    client.request("predict", x=str(test_x), out=str(out), **extra)
    m.logits = np.load(out)
