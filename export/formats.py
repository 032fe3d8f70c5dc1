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
        ``"torch.onnx"`` (PyTorch -> ONNX) or ``"onnx2tf"`` (ONNX -> TFLite).
    runtime : str
        Runtime that validates the file: ``"onnxruntime"`` or ``"tflite"`` (ai-edge-litert).
    precision : str
        ``"fp32"`` or ``"int8"`` (weights and activations).
    onnx2tf_output : str
        For onnx2tf rows, the suffix onnx2tf gives the file: ``<stem>_<onnx2tf_output>.tflite``.
    int8_io : bool
        True when the model's input and output tensors are int8 (quantise in, dequantise out).
    description : str
        One line for the markdown table.
    """

    name: str
    suffix: str
    converter: str
    runtime: str
    precision: str
    onnx2tf_output: str = ""
    int8_io: bool = False
    description: str = ""

    @property
    def is_int8(self) -> bool:
        """Integer-quantised (int8 weights, calibrated activations): ``int8`` and ``int16x8``."""
        return self.precision in ("int8", "int16x8")


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("onnx_fp32", ".onnx", "torch.onnx", "onnxruntime", "fp32",
                     description="ONNX opset 17, weights embedded, fixed input (1, seq_len, 1, 3000)"),
        ExportFormat("tflite_fp32", ".tflite", "onnx2tf", "tflite", "fp32", onnx2tf_output="float32",
                     description="TFLite float32, BiLSTM unrolled"),
        # The microcontroller format: int8 in and out, so firmware feeds quantised samples directly.
        ExportFormat("tflite_int8", ".tflite", "onnx2tf", "tflite", "int8", onnx2tf_output="full_integer_quant",
                     int8_io=True, description="TFLite full-integer int8, int8 input/output"),
        # Same int8 graph with float input/output (QUANTIZE/DEQUANTIZE at the ends): for hosts that feed floats.
        ExportFormat("tflite_int8_fio", ".tflite", "onnx2tf", "tflite", "int8", onnx2tf_output="integer_quant",
                     description="TFLite full-integer int8, float32 input/output"),
        # 16x8: int8 weights, int16 activations and int16 I/O. Closer to fp32 than int8; TFLite Micro runs it
        # (a larger arena); x86 TFLite runs it on reference kernels only (slow). Opt-in: export.formats.
        ExportFormat("tflite_int16x8", ".tflite", "onnx2tf", "tflite", "int16x8",
                     onnx2tf_output="full_integer_quant_with_int16_act",
                     description="TFLite int8 weights, int16 activations and int16 input/output (16x8)"),
    )
}


def get_formats(names: list[str]) -> list[ExportFormat]:
    """Rows for ``names`` in the given order; ``ConfigError`` names an unknown format."""
    from sleepedge.config import ConfigError

    unknown = [n for n in names if n not in FORMATS]
    if unknown:
        raise ConfigError(f"export.formats: unknown format(s) {unknown} (known: {', '.join(FORMATS)})")
    return [FORMATS[n] for n in names]
