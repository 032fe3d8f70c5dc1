"""The yardstick: paper-size DeepSleepNet with seeded random weights, exported beside the run's models.

Latency, file size and memory depend on the architecture, not on trained weights, so an untrained
copy of the published model measures what a user who starts from DeepSleepNet would deploy. Its rows
say so (``untrained: true``, ``label`` "untrained reference") and carry no accuracy. It takes the run's
window (``seq_len``) so per-epoch figures compare one to one, and by default only ONNX (seconds; its
onnx2tf conversion took 12.5 min on 2 cores): add TFLite formats with ``export.reference_formats``.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from sleepedge.export.checkpoint_export import export_model, export_section

log = logging.getLogger(__name__)

REFERENCE_MODEL = "deepsleepnet"
LABEL = "DeepSleepNet, paper size ({arch} preset), untrained reference (random weights, seed {seed})"


def reference_model(arch_name: str, seed: int):
    """A seeded, randomly initialised DeepSleepNet of the named architecture preset, in eval mode."""
    import torch

    from sleepedge.models import DeepSleepNet, get_arch

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return DeepSleepNet(get_arch(arch_name)).eval()
    finally:
        torch.random.set_rng_state(state)  # the reference must not shift the seeds of anything else


def export_reference(out_dir: str | Path, calib_x: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, cfg,
                     overwrite: bool = False, extra_info: dict | None = None) -> list[dict]:
    """Export the untrained reference into ``out_dir/deepsleepnet/``; returns its rows ([] when disabled).

    Its parity is checked on ``export.reference_test_sequences`` test sequences; accuracy fields stay None.
    ``extra_info`` is added to its rows (the export's ``provenance`` context).
    """
    ecfg = export_section(cfg)
    if not ecfg.reference_arch or not ecfg.reference_formats:
        return []
    model = reference_model(ecfg.reference_arch, ecfg.reference_seed)
    sub = dataclasses.replace(ecfg, formats=list(ecfg.reference_formats), test_sequences=ecfg.reference_test_sequences,
                              c_array=False)
    label = LABEL.format(arch=ecfg.reference_arch, seed=ecfg.reference_seed)
    log.info("exporting the yardstick: %s (%s)", label, ", ".join(sub.formats))
    rows = export_model(model, out_dir, calib_x, test_x, test_y, sub, REFERENCE_MODEL, overwrite,
                        extra_info={**(extra_info or {}), "untrained": True, "label": label,
                                    "reference_seed": ecfg.reference_seed})
    return rows
