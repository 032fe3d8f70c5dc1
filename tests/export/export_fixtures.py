"""Plain helpers shared by the export tests (a uniquely named module: several test folders have a
conftest.py, so ``from conftest import ...`` could pick another folder's)."""
from __future__ import annotations

SEQ_LEN = 5
# every window TFLite format: the Keras defaults and onnx2tf's (16x8 is onnx2tf only)
TFLITE_FORMATS = ["onnx_fp32", "tflite_fp32", "tflite_int8", "tflite_int8_fio", "tflite_int8_unrolled",
                  "tflite_fp32_onnx2tf", "tflite_int8_onnx2tf", "tflite_int16x8"]


def export_cfg(formats: list[str], **extra):
    """The tiny preset with ``export.formats`` (and any ``export.KEY=VALUE``) set."""
    from sleepedge.config.settings import load_config

    sets = [f"export.formats={','.join(formats)}"] + [f"export.{k}={v}" for k, v in extra.items()]
    return load_config("tiny", sets)
