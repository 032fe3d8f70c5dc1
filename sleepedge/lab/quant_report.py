"""Where int8 loses accuracy: every tensor of an int8 TFLite model against the same tensor in fp32.

    python -m sleepedge.lab.quant_report --run RUN [--model compressed] [--sequences 16] [--out FILE.md]
    python -m sleepedge.lab.quant_report --fp32 A.tflite --int8 B.tflite --data test.npz

Both files come from one onnx2tf conversion, so their tensors carry the same names. Each test sequence
runs through both interpreters with every intermediate tensor kept
(``experimental_preserve_all_tensors``); an int8 tensor is dequantised with its own scale and zero
point and compared with the fp32 tensor of the same name. The error of a tensor is
``rms(int8 - fp32) / rms(fp32)``, and tensors are grouped by where they sit: the input, the two CNN
branches, the BiLSTM gates and cell states, the shortcut and the head. A first line also scores the
fp32 model on inputs rounded to the int8 input's grid, which isolates the input quantisation.

Written by hand rather than with TensorFlow's ``QuantizationDebugger``: that one needs the converter
object and a TensorFlow install, while this reads the two finished files with the runtime a board
uses (ai-edge-litert), so the same check runs wherever the model is deployed.
"""
from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

GROUPS = (  # (group, pattern on the tensor name), first match wins
    ("BiLSTM gates (sigmoid)", r"sigmoid|logistic"),
    ("BiLSTM cell / output (tanh)", r"tanh"),
    ("BiLSTM state updates (mul, add)", r"custom_lstm_cell.*(mul|add)"),
    ("BiLSTM input projections (matmul)", r"custom_lstm_cell.*matmul"),
    ("BiLSTM other", r"rnn|lstm"),
    ("CNN", r"conv|pool|max_pool|relu|batch_?norm|pad"),
    ("head and shortcut", r"matmul|dense|fully|gemm|add|output|logits|identity"),
)


def group_of(name: str) -> str:
    low = name.lower()
    return next((g for g, pat in GROUPS if re.search(pat, low)), "other")


def _interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True, num_threads=1)
    it.allocate_tensors()
    return it


def _feed(it, x: np.ndarray) -> None:
    d = it.get_input_details()[0]
    if d["dtype"] != np.float32:
        scale, zp = d["quantization"]
        info = np.iinfo(d["dtype"])
        x = np.clip(np.round(x / scale + zp), info.min, info.max).astype(d["dtype"])
    it.set_tensor(d["index"], x)
    it.invoke()


def _tensors(it) -> dict[str, tuple[int, Any]]:
    """``{name: (index, quantisation)}`` of every tensor that holds activations (buffers without data are skipped)."""
    out = {}
    for d in it.get_tensor_details():
        out[d["name"]] = (d["index"], d["quantization"], d["dtype"])
    return out


def _value(it, index: int, quant, dtype) -> np.ndarray | None:
    try:
        v = it.get_tensor(index)
    except ValueError:  # tensors without a buffer (e.g. folded away)
        return None
    if dtype in (np.int8, np.int16, np.uint8, np.int32) and quant and quant[0]:
        return (v.astype(np.float64) - quant[1]) * quant[0]
    return v.astype(np.float64) if np.issubdtype(v.dtype, np.floating) else None


def compare(fp32: Path, int8: Path, x: np.ndarray) -> dict[str, Any]:
    """Per-tensor relative errors of ``int8`` against ``fp32`` over the sequences ``x`` (N, T, 1, S)."""
    a, b = _interpreter(fp32), _interpreter(int8)
    ta, tb = _tensors(a), _tensors(b)
    common = sorted(n for n in set(ta) & set(tb) if tb[n][2] in (np.int8, np.int16))
    err2, ref2 = defaultdict(float), defaultdict(float)
    for k in range(len(x)):
        seq = np.ascontiguousarray(x[k:k + 1], dtype=np.float32)
        _feed(a, seq)
        _feed(b, seq)
        for n in common:
            va, vb = _value(a, *ta[n]), _value(b, *tb[n])
            if va is None or vb is None or va.shape != vb.shape:
                continue
            err2[n] += float(((vb - va) ** 2).sum())
            ref2[n] += float((va ** 2).sum())
    rel = {n: float(np.sqrt(err2[n] / ref2[n])) for n in err2 if ref2[n] > 0}
    return {"tensors": rel, "groups": _group_stats(rel), "input": input_scale(b)}


def input_scale(it) -> dict[str, float]:
    d = it.get_input_details()[0]
    scale, zp = d["quantization"]
    return {"scale": float(scale), "zero_point": int(zp), "low": float((-128 - zp) * scale), "high": float((127 - zp) * scale)}


def _group_stats(rel: dict[str, float]) -> dict[str, dict[str, float]]:
    by = defaultdict(list)
    for n, e in rel.items():
        by[group_of(n)].append(e)
    return {g: {"tensors": len(v), "median": float(np.median(v)), "p90": float(np.percentile(v, 90)), "max": float(max(v))}
            for g, v in by.items()}


def input_only_effect(fp32: Path, x: np.ndarray, y: np.ndarray, scale: float, zero_point: int) -> dict[str, float]:
    """The fp32 model on inputs rounded to the int8 input grid: what the input quantisation alone costs."""
    from sleepedge.core.metrics import classification_metrics

    from sleepedge.export.validate import runtime_logits

    ref = runtime_logits("tflite", fp32, x)
    xq = ((np.clip(np.round(x / scale + zero_point), -128, 127) - zero_point) * scale).astype(np.float32)
    got = runtime_logits("tflite", fp32, xq)
    m_ref, m_q = classification_metrics(y, ref.argmax(-1)), classification_metrics(y, got.argmax(-1))
    return {"agreement": float(np.mean(ref.argmax(-1) == got.argmax(-1))),
            "macro_f1_delta_points": 100 * (m_q["macro_f1"] - m_ref["macro_f1"]),
            "accuracy_delta_points": 100 * (m_q["accuracy"] - m_ref["accuracy"])}


def markdown(res: dict[str, Any], title: str, top: int = 8) -> str:
    inp, eff = res["input"], res.get("input_only")
    lines = [f"# {title}", "", f"int8 input grid: scale {inp['scale']:.3g} µV per step, range [{inp['low']:.0f}, {inp['high']:.0f}] µV."]
    if eff:
        lines.append(f"fp32 model on inputs rounded to that grid: agreement {100 * eff['agreement']:.2f} %, macro-F1 "
                     f"{eff['macro_f1_delta_points']:+.2f} pt, accuracy {eff['accuracy_delta_points']:+.2f} pt (the input's share of the loss).")
    lines += ["", "Relative error rms(int8 - fp32) / rms(fp32) of every quantised tensor, by part of the network:", "",
              "| part | tensors | median | p90 | max |", "|---|---:|---:|---:|---:|"]
    for g, s in sorted(res["groups"].items(), key=lambda kv: -kv[1]["median"]):
        lines.append(f"| {g} | {s['tensors']} | {s['median']:.3f} | {s['p90']:.3f} | {s['max']:.3f} |")
    worst = sorted(res["tensors"].items(), key=lambda kv: -kv[1])[:top]
    lines += ["", f"The {top} tensors with the largest error:", "", "| tensor | part | relative error |", "|---|---|---:|"]
    lines += [f"| `{n}` | {group_of(n)} | {e:.3f} |" for n, e in worst]
    return "\n".join(lines) + "\n"


def _run_files(run: Path, model: str) -> tuple[Path, Path, Path]:
    from sleepedge.run.manifest import output_path, read_manifest

    m = read_manifest(run / "export")
    rows = {r["format"]: r for r in m["metrics"]["rows"] if r["model"] == model and r["status"] == "ok"}
    for need in ("tflite_fp32", "tflite_int8"):
        if need not in rows:
            raise SystemExit(f"{run}/export: no ok {model}/{need} row")
    tm = read_manifest(run / "train")
    return run / "export" / rows["tflite_fp32"]["file"], run / "export" / rows["tflite_int8"]["file"], output_path(run / "train", tm, "test")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="run folder with a finished export stage")
    p.add_argument("--model", default="compressed", help="model of the run (baseline, compressed)")
    p.add_argument("--fp32", type=Path)
    p.add_argument("--int8", type=Path)
    p.add_argument("--data", type=Path, help="test.npz with x (N, T, 1, S) and y")
    p.add_argument("--sequences", type=int, default=16, help="test sequences compared tensor by tensor (evenly spaced)")
    p.add_argument("--out", type=Path, help="also write the markdown here")
    a = p.parse_args(argv)
    if a.run:
        fp32, int8, data = _run_files(a.run, a.model)
    elif a.fp32 and a.int8 and a.data:
        fp32, int8, data = a.fp32, a.int8, a.data
    else:
        p.error("give --run, or --fp32, --int8 and --data")
    with np.load(data) as z:
        x, y = z["x"].astype(np.float32), z["y"]
    idx = np.linspace(0, len(x) - 1, min(a.sequences, len(x))).round().astype(int)
    res = compare(fp32, int8, x[idx])
    res["input_only"] = input_only_effect(fp32, x, y, res["input"]["scale"], res["input"]["zero_point"])
    text = markdown(res, f"int8 vs fp32, tensor by tensor: {int8.name}")
    print(text)
    if a.out:
        from sleepedge.run.manifest import atomic_write_text

        atomic_write_text(a.out, text, overwrite=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
