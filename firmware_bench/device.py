"""The device a bench figure was measured on: ``envinfo.device_info()`` + runtime versions + emulation."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from sleepedge.core.envinfo import device_info

from sleepedge.firmware_bench.runtimes import LITERT, ONNXRUNTIME, TFLITE_RUNTIME, TORCH, runtime_version

EMULATED_ENV = "SLEEPEDGE_EMULATED"
_ARM = ("aarch64", "arm64", "armv7l", "armv6l")


def detect_emulation() -> tuple[bool, str]:
    """``(emulated, why)``: ``SLEEPEDGE_EMULATED`` set (not "0"), or an ARM Python on an x86 CPU (qemu-user).

    qemu-user passes the host's ``/proc/cpuinfo`` through, so an ARM ``platform.machine()`` next to an
    Intel/AMD vendor string means the interpreter is emulated.
    """
    flag = os.environ.get(EMULATED_ENV, "")
    if flag not in ("", "0", "false", "False"):
        return True, f"{EMULATED_ENV}={flag}"
    if platform.machine().lower() in _ARM:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
        if "GenuineIntel" in cpuinfo or "AuthenticAMD" in cpuinfo:
            return True, "ARM interpreter on an x86 CPU (qemu-user)"
    return False, ""


def bench_device() -> dict[str, Any]:
    """Device dict stamped on every bench row."""
    emulated, why = detect_emulation()
    info = dict(device_info())
    info.update({
        "emulated": emulated,
        "emulation": why,
        "runtimes": {n: v for n in (ONNXRUNTIME, LITERT, TFLITE_RUNTIME, TORCH) if (v := runtime_version(n))},
        "numpy": runtime_version("numpy"),
    })
    return info


def device_label(device: dict[str, Any]) -> str:
    """One-line description, e.g. ``aarch64, AMD EPYC, 2 cores, Linux 6.1 (EMULATED)``."""
    label = f"{device.get('machine', '?')}, {device.get('cpu', '?')}, {device.get('cores', '?')} cores, {device.get('os', '?')}"
    return label + (" (EMULATED)" if device.get("emulated") else "")
