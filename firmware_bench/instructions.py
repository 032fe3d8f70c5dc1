"""Instructions per epoch: a cost of a model file that does not flake, counted with valgrind's callgrind.

Wall-clock latency on a shared CI runner moves by tens of percent from run to run, so a latency limit is
either loose or flaky. Like SQLite's performance tracking, this counts instructions instead: the model runs
in a child Python (:mod:`sleepedge.firmware_bench.instructions_child`, the bench's TFLite loader: one thread,
XNNPACK off) under ``valgrind --tool=callgrind``, and callgrind counts the instructions executed.

Method
    Two runs of the child per file, side by side: one runs ``WARMUP_CALLS`` (1) warm-up inference and then ``calls``
    measured inferences on one fixed, seeded input; the other only the warm-up. Callgrind collects only
    inside the runtime's invoke (``--toggle-collect``, :data:`TOGGLE`: the Python binding's
    ``InterpreterWrapper::Invoke`` for TFLite, ``MicroInterpreter::Invoke`` for TFLite Micro), so Python's
    start-up, imports, model loading, ``allocate_tensors``, input copies and state resets count nothing.
    ``(total_n - total_0) / calls / epochs_per_call`` is the steady-state cost of one 30-s epoch; the
    warm-up (the first call's lazy set-up, 0.8 % more on the tiny int8 model) is in both runs and cancels.

    Why the toggle and not only the subtraction: measured on the tiny int8 DeepSleepNet (5 epochs per call),
    the whole-program counts of two identical runs differed by up to 55 000 instructions (Python's start-up
    varies with the environment and allocator addresses), 0.8 % of 3 calls; with the toggle, repeated runs
    gave the same count per call to the instruction under ai-edge-litert and TFLite Micro (within 0.001 %
    under tflite-runtime 2.14), with or without another process loading the CPU. Python cannot
    issue valgrind's client requests (``CALLGRIND_START_INSTRUMENTATION``) without a C extension; the toggle
    needs none, only the runtime library's symbol table (ai-edge-litert, tflite-runtime and tflite-micro
    wheels keep it). If a stripped build counts nothing, the measurement fails and says so.

What the count predicts
    The work the interpreter's kernels do per epoch on this ISA and this runtime build: a ratio between two
    models (e.g. compressed vs baseline) follows the wall-clock ratio on the same host (issue 20 measured
    5.0 against 5.2 on the demo's int8 windows by hand), and it does not move with machine load, CPU
    frequency or noisy neighbours.
    The count is deterministic for one file, runtime version, valgrind version and CPU feature set: the
    input is fixed (a seeded window), one thread, no XNNPACK, ``PYTHONHASHSEED=0``.

What it does not
    Cache misses and memory bandwidth (an instruction that misses costs 100x one that hits), SIMD width
    (kernels pick code paths from the CPU features valgrind reports: no AVX-512 under valgrind 3.19, so
    a host with AVX-512 runs other instructions natively), another ISA (an Arm Cortex-M's count differs
    from x86's: use TFLite Micro's count as a relative, not absolute, figure for a board), thermal
    throttling and frequency, threads, or the start-up and loading costs the toggle leaves out.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sleepedge.core.errors import ConfigError, DataError
from sleepedge.firmware_bench.runtimes import LITERT, TFLITE_RUNTIME, resolve_tflite

TFLM = "tflm"  # TFLite Micro (the tflite-micro package): not a bench runtime, only counted here
WARMUP_CALLS = 1
INSTALL_HINT = "apt-get install valgrind"
CHILD = "sleepedge.firmware_bench.instructions_child"
# Callgrind collects between entry to and exit from these functions (demangled names, wildcards allowed).
TOGGLE = {LITERT: "*InterpreterWrapper::Invoke(*", TFLITE_RUNTIME: "*InterpreterWrapper::Invoke(*",
          TFLM: "*MicroInterpreter::Invoke()"}
DETERMINISM = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1",
               "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
TOTALS_RE = re.compile(r"^(?:totals|summary):\s+(\d+)", re.MULTILINE)


def valgrind_version() -> str:
    """``"valgrind-3.19.0"``; :class:`DataError` naming the package to install when valgrind is not on PATH."""
    exe = shutil.which("valgrind")
    if exe is None:
        raise DataError(f"valgrind is not on PATH: counting instructions needs it ({INSTALL_HINT})")
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise DataError(f"{exe} --version failed ({exc}); reinstall it ({INSTALL_HINT})") from None
    return out.strip() or "valgrind"


def resolve_runtime(runtime: str) -> str:
    """``tflite`` -> ai-edge-litert, else tflite-runtime; ``ai-edge-litert``, ``tflite-runtime`` and ``tflm``
    pass through; :class:`ConfigError` for another name, :class:`DataError` when none is installed."""
    if runtime not in (*TOGGLE, "tflite"):
        raise ConfigError(f"runtime {runtime!r}: instructions are counted for tflite, {', '.join(TOGGLE)}")
    resolved = resolve_tflite(runtime)
    if resolved is None:
        raise DataError("no TFLite runtime installed: pip install ai-edge-litert")
    return resolved


def epochs_per_call(shape: list[int] | tuple[int, ...]) -> int:
    """30-s epochs one call covers, from the model's input shape: a window ``(1, L, 1, S)`` and a streaming
    head ``(1, L, 1, F)`` -> ``L``; a streaming feature model ``(1, 1, 1, S)`` -> 1."""
    shape = [int(v) for v in shape]
    if len(shape) != 4 or shape[0] != 1 or shape[2] != 1 or shape[1] < 1:
        raise DataError(f"input shape {shape} is not a sleepedge model input ((1, L, 1, S) or (1, L, 1, F))")
    return shape[1]


def callgrind_command(out_file: Path, path: Path, runtime: str, calls: int) -> list[str]:
    """The valgrind command line that counts ``calls`` inferences (after the warm-up) of ``path``."""
    return ["valgrind", "--tool=callgrind", "--quiet", f"--callgrind-out-file={out_file}",
            "--collect-atstart=no", f"--toggle-collect={TOGGLE[runtime]}",
            sys.executable, "-m", CHILD, str(path), "--calls", str(calls), "--runtime", runtime]


def read_totals(out_file: Path, path: Path) -> int:
    """The instruction total of a callgrind output file (its ``totals:`` or ``summary:`` line)."""
    try:
        text = out_file.read_text(errors="replace")
    except OSError:
        raise DataError(f"{path}: callgrind wrote no output file") from None
    found = TOTALS_RE.search(text)
    if found is None:
        raise DataError(f"{path}: no 'totals:' line in callgrind's output {out_file.name}")
    return int(found.group(1))


def _failure(proc: subprocess.CompletedProcess) -> str:
    """What went wrong in a failed child: its exit status or signal and its last telling line."""
    code = proc.returncode
    what = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip() and not ln.startswith("==")]
    return what + (f": {lines[-1][:300]}" if lines else "")


def count_run(path: Path, runtime: str, calls: int, deadline: float) -> int:
    """Run the child under callgrind (until ``deadline``, a ``time.monotonic()``); the instructions counted."""
    with tempfile.TemporaryDirectory(prefix="sleepedge-callgrind-") as tmp:
        out_file = Path(tmp) / "callgrind.out"
        try:
            proc = subprocess.run(callgrind_command(out_file, path, runtime, calls), cwd=tmp, capture_output=True,
                                  text=True, errors="replace", timeout=max(deadline - time.monotonic(), 0.1),
                                  env={**os.environ, **DETERMINISM})
        except subprocess.TimeoutExpired:
            raise DataError(f"{path}: counting instructions under valgrind ran past its time limit") from None
        if proc.returncode != 0:
            raise DataError(f"{path}: the model did not run under valgrind ({_failure(proc)})")
        _check_child_output(proc.stdout, path, calls)
        return read_totals(out_file, path)


def count_both(path: Path, runtime: str, calls: int, deadline: float) -> tuple[int, int]:
    """``(total_n, total_0)``: the run with ``calls`` measured inferences and the warm-up-only run, side by side.

    They are independent processes whose counts do not depend on what else runs (the module's measurement), so
    running them at once halves the wall time wherever a second core is free."""
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(count_run, path, runtime, n, deadline) for n in (calls, 0)]
        return runs[0].result(), runs[1].result()


def _check_child_output(stdout: str, path: Path, calls: int) -> None:
    """The child's last line must be its JSON report of ``calls`` inferences: proof that it ran to the end."""
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    try:
        ok = json.loads(lines[-1])["calls"] == calls
    except (IndexError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise DataError(f"{path}: unparsable output of the model's run under valgrind: {stdout[-200:]!r}")


def input_shape(path: Path) -> list[int]:
    """The shape of the model's (first) input, read from the flatbuffer (no interpreter)."""
    from sleepedge.firmware_bench.tflite_file import read_model

    model = read_model(path)  # a missing, foreign or damaged file fails here
    try:
        graph = model.Subgraphs(0)
        tensor = graph.Tensors(graph.Inputs(0))
        return [int(tensor.Shape(i)) for i in range(tensor.ShapeLength())]
    except Exception as exc:  # noqa: BLE001  (flatbuffers raises IndexError, struct.error ... on a damaged file)
        raise DataError(f"{path}: damaged TFLite flatbuffer, no input tensor ({type(exc).__name__})") from None


def instructions_per_epoch(path: str | Path, runtime: str = "tflite", calls: int = 3,
                           timeout_s: float = 600.0) -> dict:
    """Instructions one 30-s epoch costs in ``runtime``'s interpreter, counted by callgrind (see the module).

    Parameters
    ----------
    path : path
        A ``.tflite`` file: a window model, a streaming feature model or a streaming head.
    runtime : str
        ``tflite`` (ai-edge-litert, else tflite-runtime), ``ai-edge-litert``, ``tflite-runtime`` or ``tflm``.
    calls : int
        Measured inferences (after one warm-up). The count is exact, so 3 is plenty.
    timeout_s : float
        Limit for the whole measurement (two valgrind runs: about 7 s each for a tiny model).

    Returns
    -------
    dict
        ``instructions_per_epoch`` (float), ``instructions_per_call`` (float), ``epochs_per_call`` (int),
        ``calls`` (int), ``instructions_total_n`` (counted in the run with ``calls`` measured inferences),
        ``instructions_total_0`` (the run with none: the warm-up only), ``tool`` (``"valgrind-3.19.0 callgrind"``).

    Raises
    ------
    DataError
        valgrind is not installed (naming ``apt-get install valgrind``); the file is not a TFLite model; the
        run failed, was killed, timed out, or its output could not be read (naming the file).
    """
    path = Path(path).absolute()  # the child runs in a scratch folder: a relative path would not resolve there
    tool, runtime, epochs = _prepare(path, runtime, calls)
    total_n, total_0 = count_both(path, runtime, calls, time.monotonic() + timeout_s)
    if total_n <= total_0 or total_0 <= 0:
        raise DataError(f"{path}: callgrind counted {total_n} and {total_0} instructions inside "
                        f"{TOGGLE[runtime]!r}: is the {runtime} library stripped of its symbols?")
    per_call = (total_n - total_0) / calls
    return {"instructions_per_epoch": per_call / epochs, "instructions_per_call": per_call,
            "epochs_per_call": epochs, "calls": calls, "instructions_total_n": total_n,
            "instructions_total_0": total_0, "tool": tool}


def _prepare(path: Path, runtime: str, calls: int) -> tuple[str, str, int]:
    """Every check that comes before valgrind runs: ``(tool, resolved runtime, epochs per call)``.

    A file that is no model fails here in a second, not after the 15 s of a valgrind run.
    """
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
        raise ConfigError(f"calls must be a whole number >= 1, got {calls!r}")
    tool = f"{valgrind_version()} callgrind"
    runtime = resolve_runtime(runtime)
    shape = input_shape(path)
    try:
        return tool, runtime, epochs_per_call(shape)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None

def wall_clock_ms(path: str | Path, runtime: str = "tflite", time_s: float = 1.0, timeout_s: float = 600.0) -> float:
    """Median wall time (ms) of one call of the same child on the same input, NOT under valgrind.

    For comparison with the count only (the lab's table): this is the figure that moves with machine load.
    """
    path, runtime = Path(path), resolve_runtime(runtime)
    cmd = [sys.executable, "-m", CHILD, str(path), "--calls", "0", "--runtime", runtime, "--time-s", str(time_s)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout_s,
                              env={**os.environ, **DETERMINISM})
    except subprocess.TimeoutExpired:
        raise DataError(f"{path}: timing the model ran past {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        raise DataError(f"{path}: the model did not run ({_failure(proc)})")
    _check_child_output(proc.stdout, path, 0)
    return float(json.loads(proc.stdout.splitlines()[-1])["ms_p50"])
