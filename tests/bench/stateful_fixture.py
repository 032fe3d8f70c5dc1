"""A small stateful pair in ONNX for the tests (no TensorFlow): what the export writes, built by hand.

``make_causal()`` is a seeded causal model (quick CNN, look-ahead 1, 16 hidden units); ``write_pair(folder)``
exports its feature model and one-step head with the contract's tensor names and a provenance carrying the
``stateful`` entry; ``write_export(export_dir)`` adds the export manifest with a ``causal/stateful_onnx_fp32`` row.
"""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np

SCHEMA = "sleepedge.provenance/1"
STEP_IO = {"inputs": {"features": 0, "h": 1, "c": 2}, "outputs": {"logits": 0, "h_out": 1, "c_out": 2}}


def make_causal(seed: int = 0, lookahead: int = 1):
    import torch

    from sleepedge.models import build_model, get_arch

    torch.manual_seed(seed)
    model = build_model(get_arch("quick").causal(lookahead=lookahead, lstm_hidden=16)).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so the shortcut matters
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def _onnx_bytes(module, args, inputs, outputs) -> bytes:
    import torch

    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buf, dynamo=False, opset_version=17, input_names=list(inputs),
                          output_names=list(outputs))
    return buf.getvalue()


def _with_provenance(data: bytes, doc: dict, path: Path) -> Path:
    import onnx

    m = onnx.load_from_string(data)
    entry = m.metadata_props.add()
    entry.key, entry.value = "sleepedge.provenance", json.dumps(doc)
    onnx.save(m, str(path))
    return path


def provenance(model, part: str) -> dict:
    a = model.arch
    return {"schema": SCHEMA, "part": part, "untrained": False, "format": "stateful_onnx_fp32",
            "dataset": {"name": "synthetic", "synthetic": True, "label": "synthetic test set"},
            "stateful": {"step_io": STEP_IO, "lookahead": a.lookahead, "state_layers": a.lstm_layers,
                         "state_hidden": a.lstm_hidden, "state_dtype": "float32"}}


def write_pair(folder: Path, model=None, with_provenance: bool = True) -> tuple[Path, Path, object]:
    """``(features.onnx, step.onnx, model)`` in ``folder``."""
    import torch

    from sleepedge.models.causal import STEP_INPUTS, STEP_OUTPUTS, CausalStep
    from sleepedge.models.streaming import EpochFeatures

    model = model if model is not None else make_causal()
    a = model.arch
    folder.mkdir(parents=True, exist_ok=True)
    feats = _onnx_bytes(EpochFeatures(model).eval(), (torch.zeros(1, 1, 1, a.epoch_samples),), ["x"], ["features"])
    state = torch.zeros(1, a.lstm_layers, a.lstm_hidden)
    step = _onnx_bytes(CausalStep(model).eval(), (torch.zeros(1, a.cnn_features), state, state), STEP_INPUTS,
                       STEP_OUTPUTS)
    out = []
    for name, data, part in (("features.onnx", feats, "features"), ("step.onnx", step, "step")):
        path = folder / name
        if with_provenance:
            _with_provenance(data, provenance(model, part), path)
        else:
            path.write_bytes(data)
        out.append(path)
    return out[0], out[1], model


def export_row(export_dir: Path, fmt: str = "stateful_onnx_fp32", **extra) -> dict:
    folder = export_dir / "causal" / fmt
    f, s = (folder / "features.onnx"), (folder / "step.onnx")
    row = {"model": "causal", "format": fmt, "status": "ok", "reason": "", "kind": "stateful",
           "files": {"features": str(f.relative_to(export_dir)), "step": str(s.relative_to(export_dir))},
           "file_bytes": f.stat().st_size + s.stat().st_size, "file_bytes_features": f.stat().st_size,
           "file_bytes_step": s.stat().st_size, "lookahead": 1, "lag_s": 30, "state_layers": 2, "state_hidden": 16,
           "state_dtype": "float32", "state_bytes": 2 * 2 * 16 * 4, "epoch_bytes": 3000 * 4, "step_io": STEP_IO,
           "accuracy": 0.5, "macro_f1": 0.4, "kappa": 0.3, "agreement_torch": 1.0, "params": 1000}
    row.update(extra)
    return row


def write_export(export_dir: Path, rows_extra: dict | None = None, fmt: str = "stateful_onnx_fp32") -> tuple[Path, object]:
    """An export folder holding only ``causal/<fmt>`` (ONNX files) and its manifest; returns (export_dir, model)."""
    from sleepedge.run.manifest import write_manifest

    f, s, model = write_pair(export_dir / "causal" / fmt)
    row = export_row(export_dir, fmt, **(rows_extra or {}))
    write_manifest(export_dir, "export", outputs={f"causal/{fmt}/features": f, f"causal/{fmt}/step": s},
                   metrics={"rows": [row]})
    return export_dir, model


def night_with_gap(n: int = 14, gap: tuple[int, int] = (5, 8), seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(epochs (n, 3000) float32, starts)``: random EEG-like epochs with a flat gap (zeros) in ``gap``."""
    from sleepedge.models.stateful import segment_starts

    rng = np.random.default_rng(seed)
    x = (20 * rng.standard_normal((n, 3000))).astype(np.float32)
    x[gap[0]:gap[1]] = 0.0
    flat = np.ptp(x, axis=1) == 0
    return x, segment_starts(flat)
