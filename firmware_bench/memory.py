"""Resident memory of the current process: now, and its high-water mark (standard library; psutil optional).

Linux: ``/proc/self/statm`` and ``VmHWM`` from ``/proc/self/status``. The high-water mark is per address
space, so it restarts at ``exec`` (unlike ``getrusage().ru_maxrss``, which on Linux carries the RSS of the
forked parent across ``exec`` and would report the bench's parent process). Elsewhere psutil.
"""
from __future__ import annotations

import os
from pathlib import Path


def current_rss_bytes() -> int:
    """Resident set size of this process in bytes."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import psutil  # not on Linux: psutil is part of sleepedge[bench]

        return int(psutil.Process().memory_info().rss)


def peak_rss_bytes() -> int:
    """Highest resident set size this process has reached, in bytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        info = psutil.Process().memory_info()
        if hasattr(info, "peak_wset"):  # Windows
            return int(info.peak_wset)
    except ImportError:
        pass
    import resource  # macOS: ru_maxrss is in bytes there

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
