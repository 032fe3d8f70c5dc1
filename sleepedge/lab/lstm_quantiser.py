"""Which TensorFlow quantiser keeps the fused int8 LSTM accurate: a measurement, run on a finished export.

    python -m sleepedge.lab.lstm_quantiser --run RUN [--model compressed] [--windows 200]

Builds the run's model's sequence head in tf_keras (:mod:`.keras_build`, one fused
``UNIDIRECTIONAL_SEQUENCE_LSTM`` per direction), converts it to full-integer int8 with each quantiser
(TensorFlow's default MLIR quantiser, and the older calibrating one that :mod:`.keras_build` uses),
and compares both with the fp32 Keras head on the PyTorch CNN features of the run's test windows:
mean |logit error| and agreement of the predicted stage. Calibration: the run's calibration windows,
as the export uses them. Prints a markdown table (docs/generated/lstm_quantiser.md).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

QUANTISERS = {"mlir (TensorFlow's default)": True, "calibrating (experimental_new_quantizer=False)": False}


def head_inputs(run: Path, model_name: str, windows: int) -> tuple[object, np.ndarray, np.ndarray]:
    """The checkpoint's model, and its PyTorch features for calibration and test windows ``(N, L, 1, F)``."""
    from sleepedge.models.checkpoint import load_checkpoint

    from sleepedge.export.stream_export import part_features

    ckpt = run / ("compress/selected.pt" if model_name == "compressed" else "train/model.pt")
    model, _ = load_checkpoint(ckpt)
    with np.load(run / "train" / "calib.npz") as c, np.load(run / "train" / "test.npz") as t:
        calib, test = c["x"], t["x"][:windows]
    return model, part_features(model, calib)[:, :, None, :], part_features(model, test)[:, :, None, :]


def int8_head(tf, keras_model, calib: np.ndarray, new_quantizer: bool) -> bytes:
    conv = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1].astype(np.float32)] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.experimental_new_quantizer = new_quantizer
    return conv.convert()


def run_head(tf, flatbuffer: bytes, x: np.ndarray) -> np.ndarray:
    it = tf.lite.Interpreter(model_content=flatbuffer)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    out = []
    for w in x.astype(np.float32):
        it.reset_all_variables()  # the fused LSTM's state: every window starts from zero, as in PyTorch
        it.set_tensor(i["index"], w[None])
        it.invoke()
        out.append(it.get_tensor(o["index"])[0])
    return np.stack(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True)
    p.add_argument("--model", default="compressed", choices=("compressed", "baseline"))
    p.add_argument("--windows", type=int, default=200, help="test windows scored")
    a = p.parse_args(argv)
    from sleepedge.export.keras_build import build, import_keras

    model, calib, test = head_inputs(Path(a.run), a.model, a.windows)
    weights = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    tf, _ = import_keras()
    keras_head = build(model.arch, weights, "head", test.shape[1])
    ref = keras_head.predict(test.astype(np.float32), batch_size=1, verbose=0)
    print(f"{a.model} head of `{a.run}`: {test.shape[0]} test windows of {test.shape[1]} epochs, "
          f"{len(calib)} calibration windows; int8 against the fp32 Keras head.\n")
    print("| quantiser | mean abs logit error | stage agreement with fp32 | file bytes |\n|---|---:|---:|---:|")
    for name, new in QUANTISERS.items():
        fb = int8_head(tf, keras_head, calib, new)
        y = run_head(tf, fb, test)
        agree = float((y.argmax(-1) == ref.argmax(-1)).mean())
        print(f"| {name} | {np.abs(y - ref).mean():.3f} | {100 * agree:.1f} % | {len(fb):,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
