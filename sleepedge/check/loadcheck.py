"""The gate counts a model file only if its runtime loads it and runs it once, in a child process.

A truncated or corrupted .tflite can make the TFLite interpreter abort or segfault, which would take
``sleepedge check`` down with it (and a crash must never read as a verdict). So each file is loaded,
its tensors allocated and one inference run on zeros by ``python -m sleepedge.check.loadcheck``;
a non-zero exit, a signal or a timeout becomes a :class:`DataError` naming the file and the reason.
``.tflite`` uses ai-edge-litert (else tflite-runtime), ``.onnx`` onnxruntime: what a board runs.
Results are cached per (sha256, runtime) within one process. No torch, no TensorFlow.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sleepedge.core.errors import DataError
from sleepedge.run.manifest import sha256_file

TIMEOUT_S = 300.0
MARK = "sleepedge-loadcheck:"  # prefix of the child's own error line (the runtimes print other lines)
_OK: set[tuple[str, str]] = set()


def runtime_of(path: Path) -> str:
    """``"tflite"`` or ``"onnx"`` from the file suffix; ``DataError`` for anything else."""
    suffix = path.suffix.lower()
    if suffix in (".tflite", ".onnx"):
        return suffix[1:]
    raise DataError(f"{path}: not a model file the check can load (.tflite or .onnx)")


def verify_loads(path: str | Path, timeout_s: float = TIMEOUT_S) -> None:
    """Raise :class:`DataError` unless ``path`` loads and runs one inference with its runtime."""
    path = Path(path)
    runtime = runtime_of(path)
    key = (sha256_file(path), runtime)
    if key in _OK:
        return
    cmd = [sys.executable, "-c", "import sys; from sleepedge.check.loadcheck import main; sys.exit(main())",
           runtime, str(path)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise DataError(f"{path}: the {runtime} runtime did not load and run it within {timeout_s:g} s") from None
    if r.returncode != 0:
        said = [ln[len(MARK):].strip() for ln in r.stderr.splitlines() if ln.startswith(MARK)]
        why = said[-1] if said else ""
        if r.returncode < 0:
            why = f"the runtime crashed with signal {-r.returncode}" + (f": {why}" if why else "")
        raise DataError(f"{path}: cannot be loaded and run by the {runtime} runtime ({why or f'exit {r.returncode}'}); "
                        "the check counts a model only when it runs")
    _OK.add(key)


def _zeros(shape, dtype):
    import numpy as np

    dims = [int(d) if isinstance(d, (int, np.integer)) and d > 0 else 1 for d in shape]  # symbolic/-1 -> 1
    return np.zeros(dims, dtype=dtype)


def _run_tflite(path: str) -> None:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise RuntimeError('no TFLite runtime installed (pip install "sleepedge[bench]")') from None
    with open(path, "rb") as f:  # model_content, not model_path: only a buffer goes through the flatbuffer verifier
        it = Interpreter(model_content=f.read())
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], _zeros(list(d["shape"]), d["dtype"]))
    it.invoke()


def _run_onnx(path: str) -> None:
    try:
        import onnxruntime as ort
    except ImportError:
        raise RuntimeError('onnxruntime is not installed (pip install "sleepedge[bench]")') from None
    import numpy as np

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    types = {"tensor(float)": np.float32, "tensor(int8)": np.int8, "tensor(int64)": np.int64,
             "tensor(int32)": np.int32, "tensor(uint8)": np.uint8, "tensor(double)": np.float64}
    feed = {}
    for i in sess.get_inputs():
        if i.type not in types:
            raise RuntimeError(f"input {i.name!r} has type {i.type}, which the check cannot feed")
        feed[i.name] = _zeros(i.shape, types[i.type])
    sess.run(None, feed)


def main(argv: list[str] | None = None) -> int:
    """``python -m sleepedge.check.loadcheck tflite|onnx PATH``: exit 0 when the model loads and runs."""
    runtime, path = (argv or sys.argv[1:])[:2]
    try:
        (_run_tflite if runtime == "tflite" else _run_onnx)(path)
    except Exception as exc:  # noqa: BLE001 - any runtime error is the answer, printed for the parent
        print(f"{MARK} {type(exc).__name__}: {' '.join(str(exc).split())[:500]}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
