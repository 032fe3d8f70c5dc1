"""The compression grid as data: which steps run, in which order, from which parent.

Stage 1 is one chain: baseline -> ratio ``step`` -> ``2 * step`` ... -> ``stage1_max``; each step prunes
its parent (the previous, fine-tuned step) to ``keep_count(ratio, C0)`` channels per layer, where
``C0`` is the BASELINE's channel count (cumulative ratios of the original widths).
Stage 2 is one chain per start ratio in ``stage2_from`` (0 = the baseline): hidden sizes
``H0 - hidden_step, H0 - 2 * hidden_step, ... >= hidden_floor``, then each ``hidden_extra`` size below
the last one, each step shrinking its fine-tuned parent.
"""
from __future__ import annotations

from dataclasses import dataclass

from sleepedge.config.settings import CompressConfig, ConfigError
from sleepedge.models import DeepSleepNetArch

from sleepedge.compress.channels import pruned_arch

BASELINE = "baseline"


@dataclass(frozen=True)
class Step:
    """One model of the grid. ``parent`` is the id of the model it is cut from."""

    id: str
    stage: int
    ratio: float
    hidden: int
    parent: str


def _pct(ratio: float) -> str:
    return f"{round(ratio * 100, 4):g}pct"


def step_id(stage: int, ratio: float, hidden: int | None = None) -> str:
    """``s1-25pct`` / ``s2-25pct-h96``."""
    return f"s1-{_pct(ratio)}" if stage == 1 else f"s2-{_pct(ratio)}-h{hidden}"


def stage1_ratios(c: CompressConfig, step: float | None = None, top: float | None = None) -> list[float]:
    """``step, 2 * step, ... <= top`` (rounded to 1e-6 so that 3 * 0.05 is 0.15).

    ``step`` defaults to ``compress.stage1_step`` (a recipe may set its own), ``top`` to ``stage1_max``.
    """
    step = c.stage1_step if step is None else step
    top = c.stage1_max if top is None else top
    if not 0.0 < step < 1.0:
        raise ConfigError(f"compress.stage1_step must be in (0, 1), got {step}")
    if not 0.0 <= top < 1.0:
        raise ConfigError(f"compress.stage1_max must be in [0, 1), got {top}")
    out, k = [], 1
    while round(k * step, 6) <= top + 1e-9:
        out.append(round(k * step, 6))
        k += 1
    return out


def hidden_sizes(h0: int, c: CompressConfig) -> list[int]:
    """Stage-2 hidden sizes below ``h0``: ``h0 - step`` down to the floor, then the extra sizes below."""
    if c.hidden_step < 1 or c.hidden_floor < 1 or any(h < 1 for h in c.hidden_extra):
        raise ConfigError("compress.hidden_step, hidden_floor and hidden_extra must be >= 1")
    sizes, h = [], h0 - c.hidden_step
    while h >= c.hidden_floor:
        sizes.append(h)
        h -= c.hidden_step
    last = sizes[-1] if sizes else h0
    return sizes + sorted({e for e in c.hidden_extra if e < last}, reverse=True)


def build_plan(base: DeepSleepNetArch, c: CompressConfig, sweep: bool = True, step: float | None = None) -> list[Step]:
    """Every step of the grid in run order (a parent always comes before its children).

    Without ``sweep`` only the stage-1 chain and the stage-2 chain from the largest ``stage2_from``
    ratio run (one path to the smallest model instead of the whole grid). ``step`` is the recipe's
    stage-1 step (default ``compress.stage1_step``).
    """
    ratios = stage1_ratios(c, step)
    steps, parent = [], BASELINE
    for r in ratios:
        steps.append(Step(step_id(1, r), 1, r, base.lstm_hidden, parent))
        parent = steps[-1].id
    starts = sorted({round(r, 6) for r in c.stage2_from})
    for r in starts:
        if r != 0.0 and r not in ratios:
            raise ConfigError(f"compress.stage2_from: {r} is not a stage-1 ratio (those are {ratios})")
    if not sweep and starts:
        starts = starts[-1:]
    for r in starts:
        parent = BASELINE if r == 0.0 else step_id(1, r)
        for h in hidden_sizes(base.lstm_hidden, c):
            steps.append(Step(step_id(2, r, h), 2, r, h, parent))
            parent = steps[-1].id
    return steps


def step_arch(base: DeepSleepNetArch, step: Step) -> DeepSleepNetArch:
    """The architecture a step produces (known before any pruning runs)."""
    return pruned_arch(base, step.ratio).with_widths(lstm_hidden=step.hidden)


def path_plan(base: DeepSleepNetArch, c: CompressConfig, ratio: float, hidden: int, step: float) -> list[Step]:
    """One chain to a given model: stage 1 in ``step`` increments up to ``ratio`` (ending exactly on it),
    then stage 2 down the hidden sizes of the grid to ``hidden``.

    This is how a comparison recipe reaches the sweep's selected architecture with its own step sizes.
    """
    ratios = [r for r in stage1_ratios(c, step, top=max(ratio, step)) if r < ratio - 1e-9] + ([round(ratio, 6)] if ratio > 0 else [])
    steps, parent = [], BASELINE
    for r in ratios:
        steps.append(Step(step_id(1, r), 1, r, base.lstm_hidden, parent))
        parent = steps[-1].id
    if hidden < base.lstm_hidden:
        sizes = [h for h in hidden_sizes(base.lstm_hidden, c) if h > hidden] + [hidden]
        for h in sizes:
            steps.append(Step(step_id(2, ratio, h), 2, ratio, h, parent))
            parent = steps[-1].id
    return steps
