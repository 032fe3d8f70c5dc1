"""The default TFLite converter: DeepSleepNet rebuilt in tf_keras from its architecture dataclass, PyTorch weights
copied in, converted with TensorFlow's own TFLite converter. Runs in a child process (TensorFlow).

    python -m sleepedge.export.keras_build --arch ARCH.json --weights W.npz --kind window|features|head
        --seq-len L --out DIR [--calib CALIB.npy] [--outputs float32,full_integer_quant,integer_quant] [--attempts N]
        [--lstm fused|unrolled]

Why not only onnx2tf (kept as the ``*_onnx2tf`` formats): it unrolls the BiLSTM into ~70 operators per time step whatever its width,
and TFLite Micro's persistent per-operator data then dominates the arena of a small model. A tf_keras
``LSTM`` (Keras 2, ``TF_USE_LEGACY_KERAS=1``) is recognised by the converter and becomes one fused
``UNIDIRECTIONAL_SEQUENCE_LSTM`` operator per direction and layer. Keras 3 layers are not fused.
``--lstm unrolled`` builds the LSTM with ``unroll=True`` instead: the converter writes it out step by step
(fully connected, logistic, tanh, mul, add), which TFLite's int8 x86 kernels run faster than the fused
int8 LSTM, at the cost of a larger file and arena (docs/converters.md).

The graph mirrors :class:`sleepedge.models.deepsleepnet.DeepSleepNet` layer by layer: SAME padding
inside the convs and pools (PyTorch pads zeros explicitly with the same split; a separate TFLite PAD on the
one-channel signal cost about as much as the conv after it, timed on x86), bias-free convs with batch norm (eps 1e-3), max-pools, a channel-major flatten (Permute
before Flatten, as PyTorch flattens ``(channels, length)``), bidirectional LSTMs (gate order i, f, g, o
in both frameworks; PyTorch's two biases summed), the shortcut and the classifier. Output files are
named like onnx2tf's (``model_<output>.tflite``), so the export rows treat both converters alike.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

STEM = "model"
OUTPUTS = ("float32", "full_integer_quant", "integer_quant")
LSTM_MODES = ("fused", "unrolled")


def import_keras():
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.keras -> tf_keras (Keras 2): fused LSTM conversion
    import tensorflow as tf
    import tf_keras as keras

    return tf, keras


def _conv_block(keras, x, w: dict, prefix: str, c_out: int, kernel: int, stride: int):
    conv = keras.layers.Conv1D(c_out, kernel, strides=stride, padding="same", use_bias=False)
    x = conv(x)
    conv.set_weights([w[f"{prefix}.conv.weight"].transpose(2, 1, 0)])  # (out, in, k) -> (k, in, out)
    x = _batch_norm(keras, x, w, f"{prefix}.bn")
    return keras.layers.ReLU()(x)


def _batch_norm(keras, x, w: dict, prefix: str):
    bn = keras.layers.BatchNormalization(epsilon=1e-3)
    x = bn(x)
    bn.set_weights([w[f"{prefix}.weight"], w[f"{prefix}.bias"], w[f"{prefix}.running_mean"], w[f"{prefix}.running_var"]])
    return x


def _pool(keras, x, kernel: int):
    # SAME max-pool ignores the padding; PyTorch pads zeros. Equal, because a ReLU precedes every pool.
    return keras.layers.MaxPool1D(kernel, strides=kernel, padding="same")(x)


def _branch(keras, x, w: dict, name: str, b):
    """One CNN branch on ``(epochs, samples, 1)``; returns ``(epochs, channels * length)`` channel-major."""
    x = _conv_block(keras, x, w, f"{name}.blocks.0", b.channels[0], b.first_kernel, b.first_stride)
    x = _pool(keras, x, b.pool1)
    for i in range(1, len(b.channels)):
        x = _conv_block(keras, x, w, f"{name}.blocks.{i}", b.channels[i], b.kernel, 1)
    x = _pool(keras, x, b.pool2)
    return keras.layers.Flatten()(keras.layers.Permute((2, 1))(x))


def _cnn(tf, keras, x, w: dict, arch):
    """``(n, samples, 1)`` -> ``(n, cnn_features)``."""
    parts = [_branch(keras, x, w, n, getattr(arch, n)) for n in ("small", "large")]
    return keras.layers.Concatenate(axis=1)(parts)


def _lstm_weights(w: dict, layer: int, suffix: str) -> list[np.ndarray]:
    k = f"lstm.weight_ih_l{layer}{suffix}"
    return [w[k].T, w[f"lstm.weight_hh_l{layer}{suffix}"].T,
            w[f"lstm.bias_ih_l{layer}{suffix}"] + w[f"lstm.bias_hh_l{layer}{suffix}"]]


def _sequence(tf, keras, f, w: dict, arch, seq_len: int, lstm: str = "fused"):
    """Cached features ``(1, L, F)`` -> logits ``(1, L, n_classes)`` (BiLSTM + shortcut + classifier)."""
    seq = f
    for layer in range(arch.lstm_layers):
        cell = keras.layers.LSTM(arch.lstm_hidden, return_sequences=True, unroll=lstm == "unrolled")
        bi = keras.layers.Bidirectional(cell, merge_mode="concat")
        seq = bi(seq)
        bi.forward_layer.set_weights(_lstm_weights(w, layer, ""))
        bi.backward_layer.set_weights(_lstm_weights(w, layer, "_reverse"))
    dense = keras.layers.Dense(arch.shortcut_out, use_bias=False)
    short = dense(f)
    dense.set_weights([w["shortcut.weight"].T])
    short = keras.layers.ReLU()(_batch_norm(keras, short, w, "shortcut_bn"))
    head = keras.layers.Dense(arch.n_classes)
    out = head(keras.layers.Add()([seq, short]))
    head.set_weights([w["head.weight"].T, w["head.bias"]])
    return out


def build(arch, weights: dict, kind: str, seq_len: int, lstm: str = "fused"):
    """A tf_keras model of ``kind`` (``window``, ``features`` or ``head``) with the given PyTorch weights;
    ``lstm`` is ``fused`` or ``unrolled`` (see the module docstring).

    Input and output shapes are those of the ONNX exports: window ``(1, L, 1, S)`` -> ``(1, L, C)``;
    features ``(1, 1, 1, S)`` -> ``(1, F)``; head ``(1, L, 1, F)`` -> ``(1, L, C)``.
    """
    if lstm not in LSTM_MODES:
        raise ValueError(f"unknown lstm mode {lstm!r} ({', '.join(LSTM_MODES)})")
    tf, keras = import_keras()
    s, f_dim = arch.epoch_samples, arch.cnn_features
    if kind == "head":
        inp = keras.Input(shape=(seq_len, 1, f_dim), batch_size=1, name="x")
        out = _sequence(tf, keras, keras.layers.Reshape((seq_len, f_dim))(inp), weights, arch, seq_len, lstm)
    else:
        steps = 1 if kind == "features" else seq_len
        inp = keras.Input(shape=(steps, 1, s), batch_size=1, name="x")
        feats = _cnn(tf, keras, _epochs(keras, inp, steps, s), weights, arch)
        if kind == "features":
            out = feats
        elif kind == "window":
            seq = keras.layers.Lambda(lambda t: tf.reshape(t, (1, seq_len, f_dim)))(feats)  # epochs -> sequence
            out = _sequence(tf, keras, seq, weights, arch, seq_len, lstm)
        else:
            raise ValueError(f"unknown model kind {kind!r} (window, features, head)")
    return keras.Model(inp, out)


def _epochs(keras, inp, steps: int, s: int):
    """``(1, T, 1, S)`` -> ``(T, S, 1)``: the epochs of the window as a batch for the CNN."""
    import tensorflow as tf

    return keras.layers.Lambda(lambda t: tf.reshape(t, (steps, s, 1)))(inp)


def convert_one(model, name: str, calib: np.ndarray | None) -> bytes:
    """One TFLite flatbuffer of ``model``: ``float32``; int8 ``full_integer_quant`` (int8 I/O) or
    ``integer_quant`` (float I/O), calibrated on ``calib`` (one sample per first-axis entry)."""
    tf, _ = import_keras()
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if name != "float32":
        if calib is None:
            raise ValueError(f"{name} needs calibration data")
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([calib[i:i + 1].astype(np.float32)] for i in range(len(calib)))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # The MLIR quantiser (TF 2.19's default) gives the fused int8 LSTM default scales for its gate
        # intermediates instead of calibrated ones: measured on the demo's compressed head, mean |logit
        # error| 1.8 and 93 % agreement with fp32. The older calibrating quantiser records the LSTM's
        # intermediates: 0.018 and 99.9 % on the same head (docs/converters.md).
        conv.experimental_new_quantizer = False
        if name == "full_integer_quant":
            conv.inference_input_type, conv.inference_output_type = tf.int8, tf.int8
    return conv.convert()


def convert(model, outputs: list[str], calib: np.ndarray | None, out: Path, attempts: int = 4) -> dict[str, dict]:
    """Write ``out/model_<output>.tflite`` for every output; returns ``{output: {attempts, float_ops}}``.

    An integer output is converted again while an operator inside it still touches a float tensor (the
    quantiser's random float fallback, see :mod:`sleepedge.export.int8_convert`), up to ``attempts``
    times; what is left after the last attempt is reported, not hidden.
    """
    from sleepedge.export.int8_convert import VARIANTS, inner_float_ops

    result = {}
    for name in outputs:
        path = out / f"{STEM}_{name}.tflite"
        left: dict[str, int] = {}
        for k in range(1, (attempts if name != "float32" else 1) + 1):
            path.write_bytes(convert_one(model, name, calib))
            left = inner_float_ops(path, VARIANTS[name][1]) if name != "float32" else {}
            if not left:
                break
        result[name] = {"attempts": k, "float_ops": left}
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", required=True, help="architecture JSON (DeepSleepNetArch.to_dict())")
    p.add_argument("--weights", required=True, help=".npz of the PyTorch state_dict (numpy arrays)")
    p.add_argument("--kind", choices=("window", "features", "head"), default="window")
    p.add_argument("--seq-len", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--calib", default=None, help=".npy calibration inputs in the model's input layout")
    p.add_argument("--outputs", default="float32,full_integer_quant")
    p.add_argument("--attempts", type=int, default=4, help="conversions of an integer output until it is fully integer")
    p.add_argument("--lstm", choices=LSTM_MODES, default="fused", help="fused LSTM operators, or the LSTM unrolled")
    a = p.parse_args(argv)
    from sleepedge.models.arch import DeepSleepNetArch

    arch = DeepSleepNetArch.from_dict(json.loads(Path(a.arch).read_text("utf-8")))
    with np.load(a.weights) as z:
        weights = {k: z[k] for k in z.files}
    outputs = [o for o in a.outputs.split(",") if o]
    unknown = sorted(set(outputs) - set(OUTPUTS))
    if unknown:
        raise SystemExit(f"unknown outputs {unknown} (known: {', '.join(OUTPUTS)})")
    t0 = time.perf_counter()
    model = build(arch, weights, a.kind, a.seq_len, a.lstm)
    calib = np.load(a.calib) if a.calib else None
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    result = convert(model, outputs, calib, out, a.attempts)
    (out / "attempts.json").write_text(json.dumps(result), encoding="utf-8")
    print(f"keras_build: {a.kind} -> {', '.join(outputs)} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
