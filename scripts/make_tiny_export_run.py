#!/usr/bin/env python
"""Build a tiny, schema-correct run folder with train/, compress/ and export/ stages for bench tests.

    python scripts/make_tiny_export_run.py RUN [--no-tflite] [--sequences 6] [--seq-len 5]

Not a pipeline run: the models are untrained. export/ holds the tiny DeepSleepNet (baseline) and a
narrower one (compressed) as ONNX (torch.onnx.export, opset 17); with TensorFlow installed, also a
small dense tf.function model as TFLite fp32 (baseline) and full-integer int8 (compressed).
The TFLite models are NOT conversions of the DeepSleepNets (onnx2tf is too slow for a test fixture);
their rows carry their own parameter counts. Needs torch (and TensorFlow for the TFLite rows).
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from sleepedge.runfolder import atomic_write_bytes, prepare_stage_dir, write_manifest

EPOCH = 3000


def write_train(run: Path, n_seq: int, seq_len: int, seed: int, model) -> Path:
    from sleepedge.models import save_checkpoint

    d = prepare_stage_dir(run, "train")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_seq, seq_len, 1, EPOCH)).astype(np.float32)
    y = rng.integers(0, 5, size=(n_seq, seq_len)).astype(np.int64)
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y, record=np.array([f"SYN{i:02d}" for i in range(n_seq)]))
    atomic_write_bytes(d / "test.npz", buf.getvalue())
    save_checkpoint(d / "model.pt", model)
    write_manifest(d, "train", outputs={"model": d / "model.pt", "test": d / "test.npz"}, seed=seed)
    return d


def onnx_export(model, path: Path, seq_len: int) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(1, seq_len, 1, EPOCH),), buf, dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["logits"])
    atomic_write_bytes(path, buf.getvalue())


def tflite_models(seq_len: int, seed: int) -> tuple[bytes, bytes, int]:
    """fp32 and full-integer int8 TFLite of x (1, T, 1, 3000) -> dense 16 -> relu -> dense 5 per epoch."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    w1 = tf.constant(rng.standard_normal((EPOCH, 16)).astype(np.float32) * 0.02)
    w2 = tf.constant(rng.standard_normal((16, 5)).astype(np.float32) * 0.3)

    class Tiny(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, seq_len, 1, EPOCH], tf.float32)])
        def __call__(self, x):
            h = tf.nn.relu(tf.matmul(tf.reshape(x, [seq_len, EPOCH]), w1))
            return tf.reshape(tf.matmul(h, w2), [1, seq_len, 5])

    m = Tiny()
    fn = m.__call__.get_concrete_function()
    fp32 = tf.lite.TFLiteConverter.from_concrete_functions([fn], m).convert()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([fn], m)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.standard_normal((1, seq_len, 1, EPOCH)).astype(np.float32)]
                                           for _ in range(8))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return fp32, conv.convert(), EPOCH * 16 + 16 * 5


def build_tiny_run(run: str | Path, n_seq: int = 6, seq_len: int = 5, with_tflite: bool = True, seed: int = 0) -> Path:
    """Write RUN/train, RUN/compress and RUN/export; returns RUN."""
    import torch

    from sleepedge.models import DeepSleepNet, count_params, get_arch, save_checkpoint

    run = Path(run)
    torch.manual_seed(seed)
    archs = {"baseline": get_arch("tiny"), "compressed": get_arch("tiny").with_widths(
        small_channels=(4, 4, 4, 4), large_channels=(4, 4, 4, 4), lstm_hidden=8)}
    models = {k: DeepSleepNet(a).eval() for k, a in archs.items()}
    write_train(run, n_seq, seq_len, seed, models["baseline"])
    cdir = prepare_stage_dir(run, "compress")
    save_checkpoint(cdir / "selected.pt", models["compressed"])
    write_manifest(cdir, "compress", outputs={"selected": cdir / "selected.pt"}, parent=run / "train")
    edir = prepare_stage_dir(run, "export")
    rows, outputs = [], {}
    for name, model in models.items():
        path = edir / name / "model.onnx"
        onnx_export(model, path, seq_len)
        rows.append(_row(name, "onnx_fp32", path, edir, count_params(archs[name]), seq_len))
    if with_tflite:
        fp32, int8, params = tflite_models(seq_len, seed)
        for name, fmt, data in (("baseline", "tflite_fp32", fp32), ("compressed", "tflite_int8", int8)):
            path = atomic_write_bytes(edir / name / f"model_{fmt.split('_')[1]}.tflite", data)
            rows.append(_row(name, fmt, path, edir, params, seq_len, arena=64 * 1024 if fmt == "tflite_int8" else None))
    for r in rows:
        outputs[f"{r['model']}/{r['format']}"] = edir / r["file"]
    inputs = {"baseline": run / "train" / "model.pt", "compressed": cdir / "selected.pt", "test": run / "train" / "test.npz"}
    write_manifest(edir, "export", outputs=outputs, inputs=inputs, parent=cdir, metrics={"rows": rows})
    return run


def _row(model: str, fmt: str, path: Path, edir: Path, params: int, seq_len: int, arena: int | None = None) -> dict:
    return {"model": model, "format": fmt, "status": "ok", "reason": "", "file": path.relative_to(edir).as_posix(),
            "file_bytes": path.stat().st_size, "params": params, "seq_len": seq_len,
            "input_dtype": "int8" if fmt.endswith("int8") else "float32", "tflm_arena_bytes": arena,
            "tflm_status": "ok" if arena else None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--no-tflite", action="store_true", help="ONNX rows only (no TensorFlow needed)")
    p.add_argument("--sequences", type=int, default=6)
    p.add_argument("--seq-len", type=int, default=5)
    args = p.parse_args(argv)
    print(build_tiny_run(args.run, args.sequences, args.seq_len, with_tflite=not args.no_tflite))
    return 0


if __name__ == "__main__":
    sys.exit(main())
