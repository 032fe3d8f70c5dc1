"""Where independent work runs: in this process (``local``, the default) or as Ray tasks (``ray``).

An :class:`ExecutorSpec` never changes a result, so it is not part of the config: the CLI sets it once
(:func:`use`) and the code that fans out reads it (:func:`current`): the compression grid
(:mod:`sleepedge.compress.grid`) and the k-fold runs (:mod:`sleepedge.pipeline.kfold`). This module
only describes and validates the executor and starts Ray; it imports Ray lazily and nothing of sleepedge
but its errors, so every layer may use it.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import math
from dataclasses import dataclass
from typing import Any, Iterator

from sleepedge.core.errors import ConfigError

log = logging.getLogger(__name__)
KINDS = ("local", "ray")
EXTRA_HINT = "pip install 'sleepedge[distributed]'"
MAX_RESOURCE = 1_000_000  # CPUs, GPUs or retries per task / per local Ray: beyond any machine, a typo


@dataclass(frozen=True)
class ExecutorSpec:
    """Where independent work runs. Not part of the config: it never changes a result.

    Attributes
    ----------
    kind : ``local`` (in this process, the default) or ``ray``.
    address : a Ray cluster to join (``auto``, ``ray://head:10001``); ``None`` starts a local Ray.
    cpus_per_task : CPUs a task declares and torch threads it uses when ``train.threads`` is 0;
        0 = ``train.threads`` or 1.
    gpus_per_task : fraction of a GPU a task declares (0.25 = four fine-tunes per GPU); ``None`` = 1
        when training on CUDA, else 0.
    max_retries : retries of a task whose worker died (it resumes from its finished steps).
    num_cpus : CPUs of a local Ray (``None`` = every core); ignored with ``address``.
    """

    kind: str = "local"
    address: str | None = None
    cpus_per_task: float = 0.0
    gpus_per_task: float | None = None
    max_retries: int = 3
    num_cpus: int | None = None

    def resources(self, cfg: Any, device: str) -> dict[str, float]:
        """``num_cpus`` / ``num_gpus`` a task of this run declares."""
        cpus = self.cpus_per_task or float(cfg.train.threads or 1)
        gpus = self.gpus_per_task if self.gpus_per_task is not None else (1.0 if device.startswith("cuda") else 0.0)
        return {"num_cpus": cpus, "num_gpus": gpus}

    def threads(self, cfg: Any) -> int:
        """Torch threads inside a task: ``train.threads`` when set (same numerics as a sequential run)."""
        return int(cfg.train.threads or max(1, int(self.cpus_per_task or 1)))


LOCAL = ExecutorSpec()
_current: contextvars.ContextVar[ExecutorSpec] = contextvars.ContextVar("sleepedge_executor", default=LOCAL)


def validate(spec: ExecutorSpec) -> ExecutorSpec:
    """``spec`` when usable; ``ConfigError`` naming the setting (or the extra to install) otherwise."""
    if spec.kind not in KINDS:
        raise ConfigError(f"--executor: unknown executor {spec.kind!r} (known: {', '.join(KINDS)})")
    _check_numbers(spec)
    if spec.kind == "local" and spec.address:
        raise ConfigError("--ray-address needs --executor ray")
    if spec.kind == "ray":
        import_ray()
    return spec


def _check_resource(flag: str, value: float | None, minimum: float) -> None:
    """A finite number >= ``minimum``; above 1 a whole number (Ray's rule for resource quantities)."""
    if value is None:
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigError(f"{flag} {value!r}: expected a finite number")
    if value < minimum:
        raise ConfigError(f"{flag} {value}: must be >= {minimum:g}")
    if value > 1 and value != int(value):
        raise ConfigError(f"{flag} {value}: a quantity above 1 must be a whole number (Ray allows fractions below 1 only)")
    if value > MAX_RESOURCE:
        raise ConfigError(f"{flag} {value}: more than {MAX_RESOURCE} per task or Ray is not a plausible setting")


def _check_numbers(spec: ExecutorSpec) -> None:
    """Every numeric setting finite and in range, named by its command-line flag."""
    _check_resource("--cpus-per-task", spec.cpus_per_task, 0)
    _check_resource("--gpus-per-task", spec.gpus_per_task, 0)
    _check_resource("--ray-cpus", spec.num_cpus, 1)
    _check_resource("--max-retries", spec.max_retries, 0)
    for flag, value in (("--ray-cpus", spec.num_cpus), ("--max-retries", spec.max_retries)):
        if value is not None and value != int(value):
            raise ConfigError(f"{flag} {value}: expected a whole number")


def import_ray():
    """The ``ray`` module, or ``ConfigError`` saying which extra installs it."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"--executor ray needs Ray, which is not installed ({exc}); install the extra: {EXTRA_HINT}") from None
    return ray


@contextlib.contextmanager
def use(spec: ExecutorSpec) -> Iterator[ExecutorSpec]:
    """Run the compress stages started inside this block with ``spec`` (the CLI sets it once)."""
    token = _current.set(validate(spec))
    try:
        yield spec
    finally:
        _current.reset(token)


def current() -> ExecutorSpec:
    """The executor in effect (``local`` unless inside :func:`use`)."""
    return _current.get()


def ray_init(spec: ExecutorSpec) -> Any:
    """Join ``spec.address`` or start a local Ray (once per process); returns the ``ray`` module."""
    ray = import_ray()
    if not ray.is_initialized():
        kw: dict[str, Any] = {"address": spec.address} if spec.address else {"num_cpus": spec.num_cpus}
        ray.init(include_dashboard=False, logging_level=logging.WARNING, **kw)
        log.info("ray: %s", ray.cluster_resources())
    return ray


def check_resources(ray: Any, spec: ExecutorSpec, need: dict[str, float]) -> None:
    """Refuse tasks that a local Ray could never place (they would wait forever); a cluster may grow."""
    if spec.address:
        return
    have = ray.cluster_resources()
    for key, name in (("num_cpus", "CPU"), ("num_gpus", "GPU")):
        if need[key] > have.get(name, 0.0):
            flag = "--cpus-per-task" if name == "CPU" else "--gpus-per-task"
            raise ConfigError(f"each task asks for {need[key]:g} {name} but this Ray has {have.get(name, 0.0):g}; "
                              f"lower {flag} (or train.threads), or join a larger cluster with --ray-address")
