"""Compare two predictions.npz files (e.g. x86 vs aarch64): same stage per epoch, logits within rounding.

``python -m sleepedge.lab.compare_predictions A.npz B.npz [--atol 1e-3]`` prints one line per row key
and exits 1 when any row differs beyond the runtime's rounding or is missing on one side.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _grid_step(a: np.ndarray) -> float:
    """Quantisation step of dequantised int8 logits (they take at most 256 values), else 0."""
    u = np.unique(a)
    return float(np.diff(u).min()) if 1 < u.size <= 256 else 0.0


def compare_logits(a: np.ndarray, b: np.ndarray, atol: float) -> dict[str, Any]:
    """Max abs difference, stage agreement, and whether they match within rounding.

    Tolerance: ``atol``, widened to one quantisation step for int8 outputs (a kernel may round one
    requantisation differently on another instruction set). A stage may differ only at an epoch whose
    top-2 logit margin is within that tolerance (a tie broken by rounding).
    """
    if a.shape != b.shape:
        return {"match": False, "why": f"shapes differ {a.shape} vs {b.shape}"}
    tol = max(atol, 1.01 * _grid_step(a))
    diff = float(np.abs(a.astype(np.float64) - b).max())
    pa, pb = a.argmax(-1), b.argmax(-1)
    top2 = np.sort(a, axis=-1)[..., -2:]
    margin = top2[..., 1] - top2[..., 0]
    unexplained = int(((pa != pb) & (margin > 2 * tol)).sum())
    match = diff <= tol and unexplained == 0
    return {"match": match, "max_abs_diff": diff, "tol": tol, "agreement": float((pa == pb).mean()),
            "flips": int((pa != pb).sum()), "why": "" if match else f"max diff {diff:.3g} > tol {tol:.3g}"
            if diff > tol else f"{unexplained} stage flips outside rounding"}


def compare_files(path_a: str | Path, path_b: str | Path, atol: float = 1e-3) -> dict[str, dict[str, Any]]:
    """Per-key comparison of two predictions.npz files; a key present on one side only is a mismatch."""
    with np.load(path_a) as fa, np.load(path_b) as fb:
        keys = sorted(set(fa.files) | set(fb.files))
        out = {}
        for k in keys:
            if k not in fa.files or k not in fb.files:
                out[k] = {"match": False, "why": f"only in {path_a if k in fa.files else path_b}"}
            else:
                out[k] = compare_logits(fa[k], fb[k], atol)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--atol", type=float, default=1e-3, help="logit tolerance for float outputs (default 1e-3)")
    args = p.parse_args(argv)
    result = compare_files(args.a, args.b, args.atol)
    for k, r in result.items():
        detail = (f"agreement {r['agreement']:.4f}, flips {r['flips']}, max |diff| {r['max_abs_diff']:.3g} (tol {r['tol']:.3g})"
                  if "agreement" in r else "")
        print(f"{'MATCH ' if r['match'] else 'DIFFER'} {k}: {detail} {r['why']}".rstrip())
    ok = bool(result) and all(r["match"] for r in result.values())
    print("predictions match" if ok else "predictions DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
