"""Environment stamp for manifests and bench rows: packages, platform, CPU, git commit (stdlib only)."""
from __future__ import annotations

import functools
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "sleepedge", "numpy", "torch", "mne", "onnx", "onnxruntime", "tensorflow", "onnx2tf",
    "ai-edge-litert", "tflite-runtime", "tflite-micro", "psutil",
)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the named distributions (absent ones omitted)."""
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    return out


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key = line.split(":")[0].strip().lower()
            if key in ("model name", "hardware", "cpu model"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str | None:
    """Commit of the source tree sleepedge runs from, when it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


def git_dirty() -> bool | None:
    """True when tracked files outside README.md and docs/ differ from the commit (figures from such a tree are
    not reproducible from it; prose and rendered figures do not change a result)."""
    here = Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "--",
                            ":(top)", ":(top,exclude)README.md", ":(top,exclude)docs"],
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return bool(r.stdout.strip()) if r.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def device_info() -> dict[str, object]:
    """What a benchmark figure was measured on."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "emulated": bool(os.environ.get("SLEEPEDGE_EMULATED")),
    }


def environment_info() -> dict[str, object]:
    return {"packages": package_versions(), "device": device_info(), "git_commit": git_commit(), "git_dirty": git_dirty()}
