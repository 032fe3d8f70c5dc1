"""Architectures every stage agrees on: DeepSleepNet and its compressed variants (same class, other widths).

``arch``, ``presets`` and ``complexity`` import no torch; ``DeepSleepNet`` and the checkpoint
functions are loaded lazily so that ``import sleepedge.models`` stays cheap.
"""
from __future__ import annotations

from sleepedge.models.arch import BranchArch, DeepSleepNetArch
from sleepedge.models.complexity import count_params, macs_breakdown, macs_per_epoch, param_breakdown
from sleepedge.models.presets import ARCH_PRESETS, get_arch

__all__ = [
    "ARCH_PRESETS", "BranchArch", "DeepSleepNet", "DeepSleepNetArch", "build_model", "count_params",
    "get_arch", "load_checkpoint", "macs_breakdown", "macs_per_epoch", "param_breakdown", "save_checkpoint",
]


def __getattr__(name: str):  # PEP 562 lazy imports of the torch-dependent parts
    if name in ("DeepSleepNet", "build_model"):
        from sleepedge.models import deepsleepnet
        return getattr(deepsleepnet, name)
    if name in ("load_checkpoint", "save_checkpoint"):
        from sleepedge.models import checkpoint
        return getattr(checkpoint, name)
    raise AttributeError(name)
