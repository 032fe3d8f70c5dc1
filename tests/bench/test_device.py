"""Device stamp: runtime versions present, emulation flagged from the environment or from qemu-user."""
from __future__ import annotations

import platform

from sleepedge.firmware_bench import device


def test_device_stamp_has_runtime_versions(monkeypatch):
    monkeypatch.delenv(device.EMULATED_ENV, raising=False)
    d = device.bench_device()
    assert d["runtimes"]["onnxruntime"] and d["machine"] == platform.machine() and d["cores"] >= 1
    assert d["emulated"] is (platform.machine().lower() in ("aarch64", "arm64") and "qemu" in d["emulation"])


def test_emulation_from_env_and_from_arm_python_on_x86(monkeypatch, tmp_path):
    monkeypatch.setenv(device.EMULATED_ENV, "1")
    assert device.detect_emulation() == (True, f"{device.EMULATED_ENV}=1")
    monkeypatch.setenv(device.EMULATED_ENV, "0")
    monkeypatch.setattr(device.platform, "machine", lambda: "aarch64")
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(device, "Path", lambda p: cpuinfo if p == "/proc/cpuinfo" else p)
    cpuinfo.write_text("processor : 0\nvendor_id : GenuineIntel\n")
    assert device.detect_emulation()[0] is True
    cpuinfo.write_text("processor : 0\nCPU implementer : 0x41\nCPU part : 0xd08\n")  # a Cortex-A72
    assert device.detect_emulation() == (False, "")
