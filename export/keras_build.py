"""The default TFLite converter: DeepSleepNet rebuilt in tf_keras from its architecture dataclass, PyTorch weights
copied in, converted with TensorFlow's own TFLite converter. Runs in a child process (TensorFlow).

    python -m sleepedge.export.keras_build --arch ARCH.json --weights W.npz --kind window|features|head|step
        --seq-len L --out DIR [--calib CALIB.npy|CALIB.npz] [--outputs float32,full_integer_quant,integer_quant,
        full_integer_quant_with_int16_act] [--attempts N] [--lstm fused|unrolled]

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

Kind ``step`` is the one-step head of a causal model (:class:`sleepedge.models.causal.CausalStep`): inputs
``features`` (1, F), ``h`` and ``c`` (1, layers, H), outputs ``logits`` (1, C), ``h_out`` and ``c_out``. Its
LSTM cell is written out with Dense, Split, sigmoid, tanh, Multiply and Add layers, one Dense over ``[x, h]`` for
all four gates per layer (few operators and tensors: TFLite Micro's arena is mostly their persistent data; the
weights are quantised per output row, so each gate keeps its own int8 scales), never a Keras LSTM: the converter
would fuse that into an operator that keeps its state inside the interpreter, and the stateful pair exists to
hand the state to the caller. Its calibration is an ``.npz`` with one array per input (``features``, ``h``,
``c``), fed in the model's input order.
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
OUTPUTS = ("float32", "full_integer_quant", "integer_quant", "full_integer_quant_with_int16_act")
KINDS = ("window", "features", "head", "step")
STEP_INPUTS, STEP_OUTPUTS = ("features", "h", "c"), ("logits", "h_out", "c_out")  # as sleepedge.models.causal
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
    if kind == "step":
        return _step_model(keras, weights, arch)
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
            raise ValueError(f"unknown model kind {kind!r} ({', '.join(KINDS)})")
    return keras.Model(inp, out)


def _dense(keras, x, w: np.ndarray, b: np.ndarray | None, name: str):
    """``x @ w.T (+ b)`` as a Keras Dense layer with PyTorch's ``(out, in)`` weight ``w``."""
    layer = keras.layers.Dense(w.shape[0], use_bias=b is not None, name=name)
    y = layer(x)
    layer.set_weights([w.T] if b is None else [w.T, b])
    return y


def _step_cell(keras, x, h, c, w: dict, layer: int):
    """One LSTM cell step on ``(1, 1, n)`` tensors (PyTorch gate order i, f, g, o; the two biases summed):
    ``(h_new, c_new)``. The four gates come from ONE Dense over ``[x, h]`` (``4H`` outputs; its int8 weights are
    quantised per output row, so every gate keeps its own weight scales) cut by one SPLIT: 4 fully connected
    operators and 2 adds fewer per layer than a Dense pair per gate, for one CONCATENATION (and the requantisation
    of ``h`` to the scale of ``x``, harmless at 16 bits; see :func:`_step_model` for what it saved)."""
    w_xh = np.concatenate([w[f"lstm.weight_ih_l{layer}"], w[f"lstm.weight_hh_l{layer}"]], axis=1)
    bias = w[f"lstm.bias_ih_l{layer}"] + w[f"lstm.bias_hh_l{layer}"]
    xh = keras.layers.Concatenate(axis=-1, name=f"l{layer}_xh")([x, h])
    gates = _split(keras, _dense(keras, xh, w_xh, bias, f"l{layer}_gates_pre"), 4, -1, f"l{layer}_gates")
    i, f, g, o = (keras.layers.Activation(act, name=f"l{layer}_{gate}")(t)
                  for t, gate, act in zip(gates, "ifgo", ("sigmoid", "sigmoid", "tanh", "sigmoid")))
    keep = keras.layers.Multiply(name=f"l{layer}_keep")([f, c])
    write = keras.layers.Multiply(name=f"l{layer}_write")([i, g])
    c_new = keras.layers.Add(name=f"l{layer}_c")([keep, write])
    h_new = keras.layers.Multiply(name=f"l{layer}_h")([o, keras.layers.Activation("tanh", name=f"l{layer}_tanh_c")(c_new)])
    return h_new, c_new


def _split(keras, t, n: int, axis: int, name: str) -> list:
    """``t`` cut into ``n`` equal parts along ``axis``: one TFLite SPLIT (a list of one tensor for ``n`` = 1)."""
    if n == 1:
        return [t]
    import tensorflow as tf

    return keras.layers.Lambda(lambda v: tf.split(v, n, axis=axis), name=name)(t)


def _join_state(keras, parts: list, name: str):
    """``layers`` tensors ``(1, 1, H)`` -> ``(1, layers, H)``, the output layer named ``name``."""
    if len(parts) == 1:
        return keras.layers.Activation("linear", name=name)(parts[0])
    return keras.layers.Concatenate(axis=1, name=name)(parts)


def _step_model(keras, w: dict, arch):
    """The one-step causal head (module docstring): ``[features, h, c] -> [logits, h_out, c_out]``.

    Built for a small TFLite Micro arena: TFLM keeps data per operator and per tensor for the model's whole life
    (node structs, eval tensors, kernel parameters such as per-channel multipliers) and plans every tensor, so
    the step has as few of both as the cell allows. The cell runs on ``(1, 1, n)`` tensors: the state is cut into
    layers by one SPLIT each and joined by one CONCATENATION (no slice and reshape per layer), and each layer's
    gates come from one Dense and one SPLIT (:func:`_step_cell`). Measured on the demo's causal model (2 layers,
    H 16, 312 features, 16x8): 57 operators and an 18,352-byte arena with a Dense pair per gate, 36 and 11,168
    bytes now; agreement with PyTorch 99.32 and 99.34 % of the test epochs.
    """
    hid, n_layers = arch.lstm_hidden, arch.lstm_layers
    f_in = keras.Input(shape=(arch.cnn_features,), batch_size=1, name=STEP_INPUTS[0])
    h_in = keras.Input(shape=(n_layers, hid), batch_size=1, name=STEP_INPUTS[1])
    c_in = keras.Input(shape=(n_layers, hid), batch_size=1, name=STEP_INPUTS[2])
    h_l, c_l = _split(keras, h_in, n_layers, 1, "h_layers"), _split(keras, c_in, n_layers, 1, "c_layers")
    x, hs, cs = keras.layers.Reshape((1, arch.cnn_features), name="features_3d")(f_in), [], []
    for layer in range(n_layers):
        x, c_new = _step_cell(keras, x, h_l[layer], c_l[layer], w, layer)
        hs.append(x)
        cs.append(c_new)
    short = _dense(keras, f_in, w["shortcut.weight"], None, "shortcut")
    short = keras.layers.ReLU()(_batch_norm(keras, short, w, "shortcut_bn"))
    top = keras.layers.Reshape((hid,), name="top_2d")(x)
    logits = _dense(keras, keras.layers.Add()([top, short]), w["head.weight"], w["head.bias"], STEP_OUTPUTS[0])
    outs = [logits, _join_state(keras, hs, STEP_OUTPUTS[1]), _join_state(keras, cs, STEP_OUTPUTS[2])]
    return keras.Model([f_in, h_in, c_in], outs)


def _epochs(keras, inp, steps: int, s: int):
    """``(1, T, 1, S)`` -> ``(T, S, 1)``: the epochs of the window as a batch for the CNN."""
    import tensorflow as tf

    return keras.layers.Lambda(lambda t: tf.reshape(t, (steps, s, 1)))(inp)


def representative(calib) -> callable:
    """The converter's representative dataset: one sample per first-axis entry. ``calib`` is one array, or for
    a model with several inputs a dict of arrays by input name, yielded as a dict: the converter's calibrator
    feeds a list in the order of the signature's inputs, which is sorted by name (``c, features, h`` for the
    step), not the Keras input order, and a list in Keras order calibrated ``features`` into ``c`` (measured:
    a RESHAPE then fails to prepare); a dict is matched by name."""
    if isinstance(calib, dict):
        n = len(next(iter(calib.values())))
        return lambda: ({k: a[i:i + 1].astype(np.float32) for k, a in calib.items()} for i in range(n))
    return lambda: ([calib[i:i + 1].astype(np.float32)] for i in range(len(calib)))


def save_model(model, where: Path) -> Path:
    """``model`` as a SavedModel in ``where`` with the serving signature ``TFLiteConverter.from_keras_model`` saves.

    ``from_keras_model`` saves the whole Keras model anew on every conversion, and that save was most of a
    conversion's time; converting every output and every int8 attempt from one save gives the same graph (the file
    differs in one byte of TFLite's conversion metadata, the model's origin). A full Keras save also traces every
    layer's call functions for Keras to reload the model (1,508 functions for the tiny window model), and every
    conversion then loads them all again; the converter reads only the serving signature. So the save keeps that
    signature (tf_keras's own ``trace_model_call``, the function a full save exports as ``serving_default``) and
    skips the layer traces (tf_keras's ``save_traces=False`` scope). Measured on the tiny window model (float32 and
    full-integer int8): 31 s -> 5.5 s per child, both files byte for byte as before.

    Both helpers are tf_keras internals (``tf_keras.src``; the versions are pinned in constraints.txt): where they
    are missing the model is saved whole, as before (the same files, slower), and the child says so on stderr.
    """
    tf, _ = import_keras()
    options = tf.saved_model.SaveOptions(save_debug_info=True)
    try:
        from tf_keras.src.saving.legacy.saved_model.utils import keras_option_scope
        from tf_keras.src.saving.legacy.saving_utils import trace_model_call
    except ImportError as exc:
        print(f"keras_build: saving the whole Keras model ({exc}); conversions are slower", file=sys.stderr)
        tf.saved_model.save(model, str(where), options=options)
        return where
    with keras_option_scope(save_traces=False, in_tf_saved_model_scope=True):
        tf.saved_model.save(model, str(where), signatures=trace_model_call(model), options=options)
    return where


def convert_one(saved: Path, name: str, calib) -> bytes:
    """One TFLite flatbuffer of the SavedModel ``saved`` (:func:`save_model`): ``float32``; int8
    ``full_integer_quant`` (int8 I/O) or ``integer_quant`` (float I/O), or 16x8 ``full_integer_quant_with_int16_act``
    (int16 activations and I/O, int8 weights), calibrated on ``calib`` (one sample per first-axis entry; a dict of
    arrays by input name for a model with several inputs)."""
    tf, _ = import_keras()
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if name != "float32":
        if calib is None:
            raise ValueError(f"{name} needs calibration data")
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative(calib)
        int16 = name == "full_integer_quant_with_int16_act"
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
                                          if int16 else tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # The MLIR quantiser (TF 2.19's default) gives the fused int8 LSTM default scales for its gate
        # intermediates instead of calibrated ones: measured on the demo's compressed head, mean |logit
        # error| 1.8 and 93 % agreement with fp32. The older calibrating quantiser records the LSTM's
        # intermediates: 0.018 and 99.9 % on the same head (docs/converters.md).
        conv.experimental_new_quantizer = False
        if name in ("full_integer_quant", "full_integer_quant_with_int16_act"):
            io = tf.int16 if int16 else tf.int8
            conv.inference_input_type, conv.inference_output_type = io, io
    return conv.convert()


def convert(model, outputs: list[str], calib: np.ndarray | None, out: Path, attempts: int = 4) -> dict[str, dict]:
    """Write ``out/model_<output>.tflite`` for every output; returns ``{output: {attempts, float_ops}}``.

    An integer output is converted again while an operator inside it still touches a float tensor (the
    quantiser's random float fallback, see :mod:`sleepedge.export.int8_convert`), up to ``attempts``
    times; what is left after the last attempt is reported, not hidden.
    """
    import tempfile

    from sleepedge.export.int8_convert import VARIANTS, inner_float_ops

    result = {}
    with tempfile.TemporaryDirectory(prefix="saved_model-", dir=out) as tmp:
        saved = save_model(model, Path(tmp))
        for name in outputs:
            result[name] = _convert_output(saved, name, calib, out / f"{STEM}_{name}.tflite",
                                           attempts if name != "float32" else 1, VARIANTS, inner_float_ops)
    return result


def _convert_output(saved: Path, name: str, calib, path: Path, attempts: int, variants, inner_float_ops) -> dict:
    """Convert one output until it is fully integer (at most ``attempts`` times); its attempts and float operators."""
    left: dict[str, int] = {}
    k = 0
    for k in range(1, attempts + 1):
        path.write_bytes(convert_one(saved, name, calib))
        left = inner_float_ops(path, variants[name][1]) if name != "float32" else {}
        if not left:
            break
    return {"attempts": k, "float_ops": left}


def load_calib(path: str, input_names: list[str]):
    """Calibration inputs: an ``.npy`` array, or from an ``.npz`` the arrays named like the model's inputs (a dict)."""
    if not path.endswith(".npz"):
        return np.load(path)
    with np.load(path) as z:
        missing = sorted(set(input_names) - set(z.files))
        if missing:
            raise SystemExit(f"{path}: no calibration array for input(s) {missing}")
        return {n: z[n] for n in input_names}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", required=True, help="architecture JSON (DeepSleepNetArch.to_dict())")
    p.add_argument("--weights", required=True, help=".npz of the PyTorch state_dict (numpy arrays)")
    p.add_argument("--kind", choices=KINDS, default="window")
    p.add_argument("--seq-len", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--calib", default=None, help=".npy calibration inputs in the model's input layout (.npz: one "
                   "array per input, kind step)")
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
    calib = load_calib(a.calib, [i.name.split(":")[0] for i in model.inputs]) if a.calib else None
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    result = convert(model, outputs, calib, out, a.attempts)
    (out / "attempts.json").write_text(json.dumps(result), encoding="utf-8")
    print(f"keras_build: {a.kind} -> {', '.join(outputs)} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
