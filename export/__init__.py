"""sleepedge.export: checkpoints -> ONNX (parity-checked), TFLite fp32 and int8 (calibrated on real
sequences), each file validated with its own runtime, plus the microcontroller view (TFLite Micro
arena, C array, board fit).

Importing this package loads no torch and no TensorFlow; the heavy modules are imported on use.

Main entry points: :func:`run_export_stage` (a run folder), :func:`export_single` (one checkpoint
with a train folder's data), :func:`export_checkpoint` (one checkpoint with given arrays -> rows).
"""
from __future__ import annotations

from sleepedge.config.formats import FORMATS, ExportFormat, get_formats

__all__ = ["FORMATS", "ExportFormat", "export_checkpoint", "export_single", "get_formats", "run_export_stage"]


def __getattr__(name: str):  # PEP 562: lazy, so `import sleepedge.export` stays light
    if name == "export_checkpoint":
        from sleepedge.export.checkpoint_export import export_checkpoint
        return export_checkpoint
    if name in ("run_export_stage", "export_single"):
        from sleepedge.export import stage
        return getattr(stage, name)
    raise AttributeError(name)
