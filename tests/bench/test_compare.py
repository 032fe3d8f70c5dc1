"""Cross-device prediction comparison: within rounding matches, real differences do not."""
from __future__ import annotations

import numpy as np

from sleepedge.lab.compare_predictions import compare_files, compare_logits, main


def test_float_logits_within_tolerance_match():
    a = np.random.default_rng(0).standard_normal((4, 3, 5)).astype(np.float32)
    assert compare_logits(a, a + 1e-6, atol=1e-3)["match"]
    r = compare_logits(a, a + 0.5, atol=1e-3)
    assert not r["match"] and "max diff" in r["why"]


def test_int8_grid_allows_one_step_but_not_a_flip_with_margin():
    step = 0.05
    a = (np.random.default_rng(1).integers(-100, 100, size=(4, 3, 5)) * step).astype(np.float32)
    b = a.copy()
    b[0, 0, 0] += step
    assert compare_logits(a, b, atol=1e-3)["match"]
    c = a.copy()
    i = int(np.argmin(a[1, 1]))
    c[1, 1, i] = a[1, 1].max() + 10 * step
    assert not compare_logits(a, c, atol=1e-3)["match"]


def test_files_and_cli(tmp_path, capsys):
    a = np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32)
    np.savez(tmp_path / "a.npz", k1=a, k2=a)
    np.savez(tmp_path / "b.npz", k1=a)
    res = compare_files(tmp_path / "a.npz", tmp_path / "b.npz")
    assert res["k1"]["match"] and not res["k2"]["match"]
    assert main([str(tmp_path / "a.npz"), str(tmp_path / "b.npz")]) == 1
    assert main([str(tmp_path / "a.npz"), str(tmp_path / "a.npz")]) == 0
    assert "predictions match" in capsys.readouterr().out
