"""int8 or int16 LSTM state for the stateful step: a measurement on a causal model over whole nights.

    sleepedge lab state_quant RUN [--checkpoint CAUSAL.pt] [--nights N]

Converts the causal model's one-step head (:mod:`sleepedge.export.keras_build`, kind ``step``) twice, calibrated
as the export does (:func:`sleepedge.export.stateful_export.stateful_calibration` on ``RUN/train/calib.npz``):
full int8 (``h`` and ``c`` int8, like every activation) and 16x8 (int16 activations and state, int8 weights;
TensorFlow's ``EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8``). Each step runs over the test nights
(``RUN/train/test.npz`` joined by record) on PyTorch's CNN features, so only the step's quantisation differs from
PyTorch, with the state carried (:func:`sleepedge.models.stateful.run_stateful`). Per variant: stage agreement
with PyTorch, macro-F1 minus PyTorch's, the state error (max |h|, |c| against PyTorch's state) over the first and
the last hour of each night (drift) and at the night's last step, the step's TFLite Micro arena and file size.
The causal model is ``RUN/compress``'s output ``causal`` unless ``--checkpoint`` names one.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

VARIANTS = {"int8": "full_integer_quant", "int16 (16x8)": "full_integer_quant_with_int16_act"}


def run_inputs(run: Path, checkpoint: str | None, n_nights: int) -> tuple[Any, np.ndarray, list[dict]]:
    """The causal model, the calibration sequences and the first ``n_nights`` test nights of a run folder."""
    from sleepedge.core.errors import ConfigError
    from sleepedge.export.stage import load_records, load_sequences, load_subjects
    from sleepedge.export.stateful_export import test_nights
    from sleepedge.models import load_checkpoint
    from sleepedge.run.manifest import output_path, read_manifest

    ckpt = Path(checkpoint) if checkpoint else output_path(run / "compress", read_manifest(run / "compress"), "causal")
    model, payload = load_checkpoint(ckpt)
    model.state_range = (payload.get("meta") or {}).get("state_range")  # calibrated like the export does
    if model.arch.bidirectional:
        raise ConfigError(f"{ckpt}: a bidirectional model; the state quantisation concerns a causal one")
    test = run / "train" / "test.npz"
    x, y = load_sequences(test)
    nights = test_nights(x, y, load_records(test), load_subjects(test))
    return model, load_sequences(run / "train" / "calib.npz")[0], nights[:n_nights or None]


def measure_variant(model, path: Path, nights: list[dict], ref: tuple, feats: list[np.ndarray]) -> dict[str, Any]:
    """Agreement, macro-F1 difference, state error and drift of one step file over the nights (PyTorch features)."""
    from sleepedge.core.metrics import classification_metrics
    from sleepedge.export.stateful_export import state_drift, tflite_step, tflite_step_io
    from sleepedge.models.stateful import run_stateful

    a, step = model.arch, tflite_step(path, tflite_step_io(path))
    logits, states = [], []
    for n, f in zip(nights, feats):
        seen: list = []

        def record(fv, h, c):
            out = step(fv, h, c)
            seen.append(np.stack([out[1].reshape(a.lstm_layers, -1), out[2].reshape(a.lstm_layers, -1)]))
            return out

        logits.append(run_stateful(record, f, a.lstm_layers, a.lstm_hidden, a.lookahead, n["starts"]))
        states.append(np.stack(seen))
    y, pred, tpred = (np.concatenate(v) for v in ([n["y"] for n in nights], [g.argmax(1) for g in logits],
                                                  [g.argmax(1) for g in ref[0]]))
    end = max(float(np.abs(s[-1] - r[-1]).max()) for s, r in zip(states, ref[1]))
    return {"agreement": float((pred == tpred).mean()),
            "macro_f1_delta": classification_metrics(y, pred)["macro_f1"] - classification_metrics(y, tpred)["macro_f1"],
            "state_error_end": end, **state_drift(states, ref[1])}


def convert_steps(model, calib: dict, work: Path) -> dict[str, Path]:
    """Both step variants from one Keras child: ``{variant: .tflite path}``."""
    from sleepedge.core.errors import DataError
    from sleepedge.export.keras_convert import run_keras

    job = run_keras(model, "step", 1, work / "step", calib["step"], list(VARIANTS.values()), 1800, name="state_quant",
                    attempts=4)
    if not job.ok:
        raise DataError(f"the step could not be converted: {job.reason}")
    return {name: job.files[out] for name, out in VARIANTS.items()}


def table(results: dict[str, dict], arenas: dict[str, int | None], sizes: dict[str, int]) -> str:
    """The markdown table of the figures."""
    fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
    lines = ["| state | agreement with PyTorch % | macro-F1 - PyTorch (points) | state error, first hour (mean) | "
             "last hour (mean) | max | at the night's end | step arena | step file |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        lines.append(f"| {name} | {100 * r['agreement']:.2f} | {100 * r['macro_f1_delta']:+.2f} | "
                     f"{fmt(r['state_error_first_hour'], '.4f')} | {fmt(r['state_error_last_hour'], '.4f')} | "
                     f"{r['state_max_abs_error']:.4f} | {r['state_error_end']:.4f} | {fmt(arenas[name], ',')} B | {sizes[name]:,} B |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a run folder with train (and compress, unless --checkpoint) stages")
    p.add_argument("--checkpoint", default=None, help="a causal checkpoint instead of RUN/compress's output 'causal'")
    p.add_argument("--nights", type=int, default=0, help="test nights used (0 = all)")
    a = p.parse_args(argv)
    from sleepedge.export.stateful_export import stateful_calibration, torch_reference, tflm_inputs_zero
    from sleepedge.export.tflm import measure_arena
    from sleepedge.models.causal import night_features

    model, calib_x, nights = run_inputs(Path(a.run), a.checkpoint, a.nights)
    calib = stateful_calibration(model, calib_x[:64], model.state_range)
    ref = torch_reference(model, nights)
    feats = [night_features(model, n["x"]) for n in nights]
    with tempfile.TemporaryDirectory(prefix="sleepedge-state-quant-") as tmp:
        files = convert_steps(model, calib, Path(tmp))
        results = {k: measure_variant(model, f, nights, ref, feats) for k, f in files.items()}
        arenas = {k: measure_arena(f, tflm_inputs_zero(f))["tflm_arena_bytes"] for k, f in files.items()}
        sizes = {k: f.stat().st_size for k, f in files.items()}
    print(f"Causal model (look-ahead {model.arch.lookahead}, {model.arch.lstm_layers} x {model.arch.lstm_hidden}) of "
          f"`{a.run}`: {len(nights)} test night(s), {sum(len(n['y']) for n in nights)} epochs; the step on PyTorch's "
          "features, state carried; errors against PyTorch's state.\n")
    print(table(results, arenas, sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
