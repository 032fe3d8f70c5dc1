"""sleepedge.compress: two-stage compression of DeepSleepNet (the method of the seed paper).

Stage 1 (:mod:`.channels`): L1-norm channel pruning of every conv layer of both CNN branches, in
cumulative steps of the original widths. Stage 2 (:mod:`.hidden`): BiLSTM hidden-size reduction,
keeping the units with the largest incoming L1 weight. Both build a physically smaller
:class:`~sleepedge.models.DeepSleepNet` (same class, smaller :class:`~sleepedge.models.DeepSleepNetArch`)
that reloads strictly. :mod:`.plan` lays out the grid, :mod:`.sweep` runs it resumably with fine-tuning
after each step, :mod:`.table` and :mod:`.figures` report it, :mod:`.stage` is ``sleepedge compress``,
and :mod:`.cost` estimates a grid's cost on a machine.

Importing this package is cheap; the torch-dependent functions load on first use.
"""
from __future__ import annotations

__all__ = ["build_plan", "prune_to", "pruned_arch", "run_compress_stage", "shrink_hidden"]


def __getattr__(name: str):  # PEP 562 lazy imports (torch is heavy)
    if name in ("prune_to", "pruned_arch"):
        from sleepedge.compress import channels
        return getattr(channels, name)
    if name == "shrink_hidden":
        from sleepedge.compress.hidden import shrink_hidden
        return shrink_hidden
    if name == "build_plan":
        from sleepedge.compress.plan import build_plan
        return build_plan
    if name == "run_compress_stage":
        from sleepedge.compress.stage import run_compress_stage
        return run_compress_stage
    raise AttributeError(name)
