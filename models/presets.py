"""Named architectures: ``paper`` (Supratak et al. 2017), ``quick`` (CPU demo) and ``tiny`` (tests)."""
from __future__ import annotations

import dataclasses

from sleepedge.models.arch import DeepSleepNetArch

PAPER = DeepSleepNetArch()

# quick: the paper's kernels, strides and pools with a quarter of the conv channels (16/32/32/32 in
# both branches) and a 2-layer BiLSTM of 128 units: 1.56 M parameters, 3.8 M MACs per epoch
# (count_params / macs_per_epoch); trains on a 2-core CPU in minutes.
QUICK = PAPER.with_widths(small_channels=(16, 32, 32, 32), large_channels=(16, 32, 32, 32), lstm_hidden=128)

# tiny: for tests only (a few thousand parameters, trains in seconds).
TINY = dataclasses.replace(
    PAPER.with_widths(small_channels=(8, 8, 8, 8), large_channels=(8, 8, 8, 8), lstm_hidden=16),
    lstm_layers=1,
)

ARCH_PRESETS: dict[str, DeepSleepNetArch] = {"paper": PAPER, "quick": QUICK, "tiny": TINY}


def get_arch(name: str) -> DeepSleepNetArch:
    """Architecture preset by name; raises ``KeyError`` naming the known presets."""
    try:
        return ARCH_PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown architecture preset {name!r}; known: {sorted(ARCH_PRESETS)}") from None
