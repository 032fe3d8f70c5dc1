"""Parent side of a bench worker: start it, send requests, read replies with a timeout, stop it.

``SLEEPEDGE_WORKER_LAUNCHER`` (e.g. ``"qemu-aarch64-static -L /path/to/arm64-root"``) is put in front
of the worker command: under qemu-user without binfmt_misc, an emulated Python cannot start another
emulated Python directly, but it can start the (native) emulator.
"""
from __future__ import annotations

import json
import logging
import os
import select
import shlex
import subprocess
import sys
import tempfile
from typing import Any

log = logging.getLogger(__name__)

LAUNCHER_ENV = "SLEEPEDGE_WORKER_LAUNCHER"


class WorkerError(RuntimeError):
    """A worker replied with an error, died, or did not answer in time."""


def worker_command() -> list[str]:
    """The command line that starts one worker (launcher prefix + this Python)."""
    prefix = shlex.split(os.environ.get(LAUNCHER_ENV, ""))
    return [*prefix, sys.executable, "-m", "sleepedge.firmware_bench.worker"]


class WorkerClient:
    """One running worker process.

    Parameters
    ----------
    label : str
        Name used in log lines and error messages (the row key).
    timeout_s : float
        Longest wait for any single reply.
    """

    def __init__(self, label: str, timeout_s: float) -> None:
        self.label, self.timeout_s = label, timeout_s
        self._stderr = tempfile.TemporaryFile()
        self._buf = b""
        self.proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, bufsize=0)

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request and return the reply; raises :class:`WorkerError` on an error reply or a dead worker."""
        try:
            self.proc.stdin.write((json.dumps({"op": op, **fields}) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise WorkerError(self._death_reason(op)) from None
        line = self._read_line(op)
        reply = json.loads(line)
        if not reply.pop("ok", False):
            raise WorkerError(f"{op}: {reply.get('error', 'unknown error')}")
        return reply

    def _read_line(self, op: str) -> bytes:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            ready, _, _ = select.select([fd], [], [], self.timeout_s)
            if not ready:
                self.kill()
                raise WorkerError(f"{op}: no answer within {self.timeout_s:.0f} s (worker killed)")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise WorkerError(self._death_reason(op))
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line

    def _death_reason(self, op: str) -> str:
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        tail = self.stderr_text()[-600:].strip().replace("\n", " | ")
        return f"{op}: worker died (exit status {rc}){': ' + tail if tail else ''}"

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def close(self) -> None:
        """Ask the worker to quit (kill it if it does not), log its stderr at debug level."""
        if self.proc.poll() is None:
            try:
                self.request("quit")
                self.proc.wait(timeout=30)
            except (WorkerError, OSError, ValueError, subprocess.TimeoutExpired):
                self.kill()
        text = self.stderr_text().strip()
        if text:
            log.debug("worker %s stderr:\n%s", self.label, text)
        self._stderr.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> "WorkerClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
