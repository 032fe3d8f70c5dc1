"""Known deployment targets (flash, RAM) and which of them a model fits.

"Fits" compares the model file with the flash and the measured TFLite Micro tensor arena with the
RAM; firmware code, stacks and buffers need room too, so a fit with little headroom is optimistic.
"""
from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# name: (flash bytes or None = external storage, RAM bytes, description)
BOARDS: dict[str, tuple[int | None, int, str]] = {
    "nRF52840": (1 * MIB, 256 * KIB, "Cortex-M4F 64 MHz, 1 MB flash, 256 KB RAM"),
    "nRF5340": (1 * MIB, 512 * KIB, "Cortex-M33 128 MHz (app core), 1 MB flash, 512 KB RAM"),
    "rpi4": (None, 1024 * MIB, "Raspberry Pi 4 (4x Cortex-A72), SD card storage, 1 GB RAM (smallest model)"),
}


def boards_that_fit(flash_bytes: int, ram_bytes: int | None) -> list[str]:
    """Names of the boards whose flash holds ``flash_bytes`` and whose RAM holds ``ram_bytes``.

    A board with RAM limits is only listed when ``ram_bytes`` (the arena) is known.
    """
    fits = []
    for name, (flash, ram, _) in BOARDS.items():
        if flash is not None and flash_bytes > flash:
            continue
        if ram_bytes is None or ram_bytes > ram:
            continue
        fits.append(name)
    return fits
