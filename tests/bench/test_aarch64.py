"""aarch64 under emulation: scripts/aarch64_check.sh benches a bundle with qemu-aarch64 and compares predictions.

Needs root + apt (it installs qemu-user-static and debootstrap when missing) and network access to the
Debian mirror and PyPI on its first run (~1 min); later runs reuse ~/.cache/sleepedge-aarch64 (~2-3 min).
Marked ``emulation``: not part of ``make test``; ``make aarch64-check`` runs the check, ``pytest -m emulation`` (or
SLEEPEDGE_EMULATION=1) this test.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.emulation
@pytest.mark.slow
@pytest.mark.tensorflow
def test_aarch64_bundle_predictions_match_x86(tmp_path):
    tools = shutil.which("qemu-aarch64-static") and shutil.which("debootstrap")
    if not tools and (os.geteuid() != 0 or not shutil.which("apt-get")):
        pytest.skip("qemu-user-static/debootstrap missing and they cannot be installed here (needs root + apt-get)")
    env = {**os.environ, "PYTHON": sys.executable}
    r = subprocess.run(["bash", str(REPO / "scripts" / "aarch64_check.sh"), "--work", str(tmp_path / "work")],
                       capture_output=True, text=True, timeout=1200, env=env)
    out = r.stdout + r.stderr
    if r.returncode == 3:
        pytest.skip(f"emulator could not be set up: {out.strip().splitlines()[-1]}")
    assert r.returncode == 0, out[-4000:]
    assert "predictions match" in out
    merged = (tmp_path / "work" / "merged.md").read_text()
    assert "(EMULATED)" in merged and "aarch64" in merged
