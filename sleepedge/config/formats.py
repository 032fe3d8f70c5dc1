"""The export format table: one row per deployable file (name, suffix, converter, checking runtime).

Every stage of the export (conversion, op-list check, validation, microcontroller view) is driven by
these rows, and every row of the export manifest names one of them in its ``format`` key.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportFormat:
    """One deployable format.

    Attributes
    ----------
    name : str
        Row name in manifests (``onnx_fp32``, ``tflite_int8`` ...).
    suffix : str
        File suffix of the exported file.
    converter : str
        ``"torch.onnx"`` (PyTorch -> ONNX), ``"onnx2tf"`` (ONNX -> TFLite, BiLSTM unrolled) or ``"keras"``
        (the architecture rebuilt in tf_keras with the PyTorch weights -> TFLite, fused LSTM operators).
    runtime : str
        Runtime that validates the file: ``"onnxruntime"`` or ``"tflite"`` (ai-edge-litert).
    precision : str
        ``"fp32"`` or ``"int8"`` (weights and activations).
    onnx2tf_output : str
        For TFLite rows, the suffix the converter gives the file: ``<stem>_<onnx2tf_output>.tflite`` (the
        Keras converter names its files like onnx2tf).
    int8_io : bool
        True when the model's input and output tensors are int8 (quantise in, dequantise out).
    description : str
        One line for the markdown table.
    stream : bool
        A streaming pair (per-epoch feature model + sequence head, two files) instead of one window model.
    lstm : str
        Keras converter only: ``"fused"`` (one UNIDIRECTIONAL_SEQUENCE_LSTM operator per direction and layer)
        or ``"unrolled"`` (the LSTM written out step by step: fully connected and elementwise operators).
    stateful : bool
        A stateful pair of a causal model (per-epoch feature model + one-step head whose LSTM state enters and
        leaves as tensors, two files; docs/streaming.md). Exported only for a causal model.
    """

    name: str
    suffix: str
    converter: str
    runtime: str
    precision: str
    onnx2tf_output: str = ""
    int8_io: bool = False
    description: str = ""
    stream: bool = False
    lstm: str = ""
    stateful: bool = False

    @property
    def is_int8(self) -> bool:
        """Integer-quantised (int8 weights, calibrated activations): ``int8`` and ``int16x8``."""
        return self.precision in ("int8", "int16x8")


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("onnx_fp32", ".onnx", "torch.onnx", "onnxruntime", "fp32",
                     description="ONNX opset 17, weights embedded, fixed input (1, seq_len, 1, 3000)"),
        # The window TFLite formats are built by the Keras converter by default (docs/converters.md): on the same
        # model it gave fewer operators (about 45 against onnx2tf's ~720), a smaller TFLite Micro arena and a
        # faster int8 window on x86 at the same accuracy (docs/generated/converters.md). onnx2tf (ONNX -> TFLite,
        # BiLSTM unrolled) stays at hand as the *_onnx2tf formats, and is the only converter for 16x8.
        ExportFormat("tflite_fp32", ".tflite", "keras", "tflite", "fp32", onnx2tf_output="float32",
                     lstm="fused", description="TFLite float32 (tf_keras build, fused LSTM)"),
        # The microcontroller format: int8 in and out, so firmware feeds quantised samples directly.
        ExportFormat("tflite_int8", ".tflite", "keras", "tflite", "int8", onnx2tf_output="full_integer_quant",
                     int8_io=True, lstm="fused",
                     description="TFLite full-integer int8, int8 input/output (tf_keras, fused LSTM)"),
        # The same int8 window with the LSTM unrolled (Keras unroll=True): measured faster on x86, where TFLite's
        # fused int8 LSTM kernel is slow, but slower under aarch64 emulation, with a larger file and TFLite Micro
        # arena (docs/generated/converters.md). For x86 hosts; tflite_int8 stays the default for devices.
        ExportFormat("tflite_int8_unrolled", ".tflite", "keras", "tflite", "int8", onnx2tf_output="full_integer_quant",
                     int8_io=True, lstm="unrolled",
                     description="TFLite full-integer int8, int8 input/output (tf_keras, LSTM unrolled: x86 hosts)"),
        # Same int8 graph with float input/output (QUANTIZE/DEQUANTIZE at the ends): for hosts that feed floats.
        ExportFormat("tflite_int8_fio", ".tflite", "keras", "tflite", "int8", onnx2tf_output="integer_quant",
                     lstm="fused", description="TFLite full-integer int8, float32 input/output (tf_keras, fused LSTM)"),
        ExportFormat("tflite_fp32_onnx2tf", ".tflite", "onnx2tf", "tflite", "fp32", onnx2tf_output="float32",
                     description="TFLite float32 from the ONNX file (onnx2tf), BiLSTM unrolled"),
        ExportFormat("tflite_int8_onnx2tf", ".tflite", "onnx2tf", "tflite", "int8", onnx2tf_output="full_integer_quant",
                     int8_io=True, description="TFLite full-integer int8 from the ONNX file (onnx2tf), int8 input/output"),
        # 16x8: int8 weights, int16 activations and int16 I/O. Closer to fp32 than int8; TFLite Micro runs it
        # (a larger arena); x86 TFLite runs it on reference kernels only (slow). Opt-in: export.formats.
        ExportFormat("tflite_int16x8", ".tflite", "onnx2tf", "tflite", "int16x8",
                     onnx2tf_output="full_integer_quant_with_int16_act",
                     description="TFLite int8 weights, int16 activations and int16 input/output (16x8, onnx2tf)"),
        # Streaming pair for a wearable (docs/streaming.md): features (1, 1, 1, S) -> (1, F) once per epoch,
        # head (1, L, 1, F) -> (1, L, C) over the cached features of the last L epochs.
        ExportFormat("stream_onnx_fp32", ".onnx", "torch.onnx", "onnxruntime", "fp32", stream=True,
                     description="streaming pair, ONNX: per-epoch features + sequence head"),
        # The int8 pair is built with the Keras converter by default: its fused LSTM keeps the head's TFLite
        # Micro arena a fraction of onnx2tf's unrolled head at the same accuracy (measured side by side in
        # docs/generated/converters.md); onnx2tf's pair stays at hand.
        ExportFormat("stream_tflite_int8", ".tflite", "keras", "tflite", "int8", onnx2tf_output="full_integer_quant",
                     int8_io=True, stream=True, lstm="fused",
                     description="streaming pair, TFLite int8 (tf_keras, fused LSTM)"),
        ExportFormat("stream_tflite_int8_onnx2tf", ".tflite", "onnx2tf", "tflite", "int8",
                     onnx2tf_output="full_integer_quant", int8_io=True, stream=True,
                     description="streaming pair, TFLite int8 (onnx2tf, unrolled LSTM)"),
        # Stateful pair of the causal model (docs/streaming.md): features (1, 1, 1, S) -> (1, F) and one head step
        # features (1, F), h (1, layers, H), c (1, layers, H) -> logits (1, C), h_out, c_out, once per epoch each.
        ExportFormat("stateful_onnx_fp32", ".onnx", "torch.onnx", "onnxruntime", "fp32", stateful=True,
                     description="stateful pair, ONNX: per-epoch features + one-step causal head, state as tensors"),
        # Feature model full int8 (int8 I/O); the step 16x8 (int8 weights, int16 activations and I/O), so the state h
        # and c is int16: chosen by measurement against a full-int8 step (sleepedge.lab.state_quant, docs/streaming.md
        # "State quantisation"; sleepedge.export.stateful_export).
        ExportFormat("stateful_tflite_int8", ".tflite", "keras", "tflite", "int8", onnx2tf_output="full_integer_quant",
                     int8_io=True, stateful=True,
                     description="stateful pair, TFLite int8 features + 16x8 step (tf_keras, LSTM step written out), "
                                 "int16 state"),
    )
}


def get_formats(names: list[str]) -> list[ExportFormat]:
    """Rows for ``names`` in the given order; ``ConfigError`` names an unknown format."""
    from sleepedge.core.errors import ConfigError

    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise ConfigError(f"export.formats: unknown format(s) {unknown} (known: {', '.join(FORMATS)})")
    return [FORMATS[n] for n in names]


# The inference runtimes ``bench.runtimes`` may name (their loaders: sleepedge.firmware_bench.runtimes).
ONNXRUNTIME, LITERT, TFLITE_RUNTIME, TORCH = "onnxruntime", "ai-edge-litert", "tflite-runtime", "torch"
TFLITE_RUNTIMES = (LITERT, TFLITE_RUNTIME)
KNOWN_RUNTIMES = (ONNXRUNTIME, LITERT, TFLITE_RUNTIME, TORCH, "tflite")
