"""sleepedge.predict: score EDF recordings with an exported model (``sleepedge predict``).

Runs on the bench runtimes only (onnxruntime, ai-edge-litert or tflite-runtime) plus MNE to read EDF,
edfio to write EDF+ annotations and matplotlib for the figure: ``pip install "sleepedge[predict]"``, no
torch and no TensorFlow (``--against CHECKPOINT`` starts PyTorch in a worker process when installed).
"""
from __future__ import annotations

__all__ = ["ExportedModel", "load_model", "predict_paths", "score_recording"]


def __getattr__(name: str):  # PEP 562: nothing heavy at import time
    if name in ("ExportedModel", "load_model"):
        from sleepedge.predict import model

        return getattr(model, name)
    if name == "score_recording":
        from sleepedge.predict.score import score_recording

        return score_recording
    if name == "predict_paths":
        from sleepedge.predict.run import predict_paths

        return predict_paths
    raise AttributeError(name)
