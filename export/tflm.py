"""TFLite Micro tensor-arena measurement, in a child process (a too-small arena segfaults).

The ``tflite-micro`` Python package wraps the real TFLM C++ interpreter with its recording
allocator; ``print_allocations()`` writes "Arena allocation total N bytes" from the C++ side, which
only a child process can capture reliably. The measured arena is then re-checked by running the
model again with exactly that arena (rounded up to 16 bytes); if that fails, the smallest arena that
reproduces the output is searched for and reported instead.
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from sleepedge.export.boards import boards_that_fit
from sleepedge.export.subprocess_run import run_child

ARENA_RE = re.compile(r"Arena allocation total (\d+) bytes")

_CHILD = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
path, arena, xin, yout = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
it = runtime.Interpreter.from_file(path, arena_size=arena)
with np.load(xin) as z:
    for i in range(len(z.files)):
        it.set_input(z[f"x{i}"], i)
it.invoke()
outs, k = {}, 0
while True:  # every output: the runtime has no output count, and get_output_details raises past the last
    try:
        it.get_output_details(k)
    except Exception:
        break
    outs[f"y{k}"] = it.get_output(k)
    k += 1
np.savez(yout, **outs)
it.print_allocations()
sys.stdout.flush(); sys.stderr.flush()
"""

# One night through a stateful pair under TFLite Micro (see run_stateful_tflm): the shared loop of
# sleepedge.models.stateful with a TFLM step, int8/int16 tensors (de)quantised with each tensor's own parameters.
_NIGHT_CHILD = """
import json, sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
from sleepedge.models.stateful import run_stateful
feat_path, step_path, arena, data, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
with np.load(data) as z:
    epochs, starts = z["epochs"], z["starts"]
cfg = json.loads(open(data[:-4] + ".json").read())
io, layers, hidden, k = cfg["step_io"], cfg["layers"], cfg["hidden"], cfg["lookahead"]
fm = runtime.Interpreter.from_file(feat_path, arena_size=arena)
sm = runtime.Interpreter.from_file(step_path, arena_size=arena)
def qp(d):
    q = d["quantization_parameters"]
    return (float(q["scales"][0]), int(q["zero_points"][0])) if len(q["scales"]) else (0.0, 0)
def to_tensor(x, d):
    s, z = qp(d)
    if np.dtype(d["dtype"]).kind != "i":
        return x.astype(d["dtype"])
    info = np.iinfo(d["dtype"])
    return np.clip(np.round(x / s) + z, info.min, info.max).astype(d["dtype"])
def to_float(q, d):
    s, z = qp(d)
    return (q.astype(np.float32) - z) * s if np.dtype(d["dtype"]).kind == "i" else q.astype(np.float32)
fin, fout = fm.get_input_details(0), fm.get_output_details(0)
sin = {n: sm.get_input_details(i) for n, i in io["inputs"].items()}
sout = {n: sm.get_output_details(i) for n, i in io["outputs"].items()}
feats = []
for e in epochs:
    fm.set_input(to_tensor(e.reshape(fin["shape"]), fin), 0)
    fm.invoke()
    feats.append(to_float(fm.get_output(0), fout).reshape(-1))
feats = np.stack(feats)
states = []
def step(f, h, c):
    for name, x in (("features", f), ("h", h), ("c", c)):
        sm.set_input(to_tensor(x.reshape(sin[name]["shape"]), sin[name]), io["inputs"][name])
    sm.invoke()
    res = [to_float(sm.get_output(io["outputs"][n]), sout[n]) for n in ("logits", "h_out", "c_out")]
    states.append(np.stack([res[1].reshape(layers, hidden), res[2].reshape(layers, hidden)]))
    return res[0], res[1], res[2]
logits = run_stateful(step, feats, layers, hidden, k, starts)
np.savez(out, logits=logits, states=np.stack(states), features=feats)
"""


def _inputs(x_in: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """One input tensor, or several in the model's input order, as a list."""
    return [x_in] if isinstance(x_in, np.ndarray) else list(x_in)


def run_tflm(path: str | Path, x_in: np.ndarray | Sequence[np.ndarray], arena_size: int,
             timeout_s: float = 300) -> dict[str, Any]:
    """Run one inference under TFLM with ``arena_size`` bytes in a child process.

    ``x_in`` is the input tensor, or a list of them in the model's input order (``set_input(x, i)``).

    Returns
    -------
    dict
        ``ok``, ``reason``, ``arena_bytes`` (parsed total, or None), ``output`` (raw first output tensor or
        None) and ``outputs`` (every raw output tensor, in order, or None).
    """
    with tempfile.TemporaryDirectory(prefix="sleepedge-tflm-") as tmp:
        xin, yout = Path(tmp) / "x.npz", Path(tmp) / "y.npz"
        np.savez(xin, **{f"x{i}": x for i, x in enumerate(_inputs(x_in))})
        res = run_child([sys.executable, "-c", _CHILD, str(Path(path).resolve()), str(int(arena_size)), str(xin), str(yout)],
                        tmp, timeout_s, "TFLite Micro")
        m = ARENA_RE.search(res.stdout + "\n" + res.stderr)
        outs = None
        if res.ok and yout.is_file():
            with np.load(yout) as z:
                outs = [z[f"y{k}"] for k in range(len(z.files))]
    return {"ok": res.ok and m is not None and bool(outs),
            "reason": res.reason or ("" if m else "no 'Arena allocation total' line in TFLM output"),
            "arena_bytes": int(m.group(1)) if m else None, "output": outs[0] if outs else None, "outputs": outs}


def run_stateful_tflm(features_path: str | Path, step_path: str | Path, epochs: np.ndarray, starts: Sequence[int],
                      step_io: dict, layers: int, hidden: int, lookahead: int, arena_size: int = 8 << 20,
                      timeout_s: float = 1800) -> dict[str, np.ndarray]:
    """A night through a stateful pair under TFLite Micro: one feature call and one step call per epoch, the
    state carried between steps and reset at every segment start (:func:`sleepedge.models.stateful.run_stateful`).

    In a child process (a TFLM crash is an error here, not a dead caller). ``epochs`` (n, samples) in uV;
    ``step_io`` the step file's input/output positions (the export row's ``step_io``). Tensors are
    (de)quantised with each tensor's own scale and zero point: the state leaves as ``h_out`` / ``c_out`` and is
    requantised to the ``h`` / ``c`` inputs' parameters. Returns ``logits`` (n, C) (decisions, look-ahead
    applied), ``states`` (n, 2, layers, hidden) (``h_out`` and ``c_out`` after each step, dequantised) and
    ``features`` (n, F). Raises ``RuntimeError`` with the child's reason when it fails.
    """
    import json

    with tempfile.TemporaryDirectory(prefix="sleepedge-tflm-night-") as tmp:
        data, out = Path(tmp) / "night.npz", Path(tmp) / "out.npz"
        np.savez(data, epochs=np.asarray(epochs, np.float32).reshape(len(epochs), -1), starts=np.asarray(starts, np.int64))
        (Path(tmp) / "night.json").write_text(json.dumps({"step_io": step_io, "layers": layers, "hidden": hidden,
                                                          "lookahead": lookahead}), encoding="utf-8")
        res = run_child([sys.executable, "-c", _NIGHT_CHILD, str(Path(features_path).resolve()),
                         str(Path(step_path).resolve()), str(int(arena_size)), str(data), str(out)],
                        tmp, timeout_s, "TFLite Micro night")
        if not res.ok or not out.is_file():
            raise RuntimeError(res.reason or "TFLite Micro night run wrote no result")
        with np.load(out) as z:
            return {k: z[k] for k in z.files}


def measure_arena(path: str | Path, x_in: np.ndarray, max_arena: int = 64 << 20,
                  timeout_s: float = 300) -> dict[str, Any]:
    """Tensor arena a .tflite model needs under TFLite Micro, verified by a second run at that size.

    Parameters
    ----------
    path : path
        The model (int8 I/O expected: ``x_in`` must already have the input dtype).
    x_in : ndarray or list of ndarray
        One input tensor, e.g. a quantised test sequence of shape (1, T, 1, S), or one per input in the model's
        input order (the stateful step: features, h and c at the positions of its ``step_io``).
    max_arena : int
        Arena for the first (measuring) run.
    timeout_s : float
        Limit per child run.

    Returns
    -------
    dict
        ``tflm_status`` (``ok``, ``unverified`` when no rerun reproduced the output, or ``failed``),
        ``tflm_reason``, ``tflm_arena_bytes`` (the smallest verified arena, see
        :func:`_smallest_verified_arena`), ``tflm_recorded_arena_bytes`` (the recorder's total), ``tflm_output`` (raw output of the measuring run),
        ``flash_bytes`` (= file size) and ``fits_boards``.
    """
    flash = Path(path).stat().st_size
    first = run_tflm(path, x_in, max_arena, timeout_s)
    result: dict[str, Any] = {"tflm_status": "failed", "tflm_reason": first["reason"],
                              "tflm_arena_bytes": first["arena_bytes"], "tflm_output": first["output"],
                              "flash_bytes": flash, "fits_boards": []}
    if not first["ok"]:
        return result
    need = -(-first["arena_bytes"] // 16) * 16
    verified, reason = _smallest_verified_arena(path, x_in, need, max_arena, first["outputs"], timeout_s)
    result.update(tflm_status="ok" if verified else "unverified", tflm_reason=reason,
                  fits_boards=boards_that_fit(flash, verified or first["arena_bytes"]))
    if verified:
        # The arena reported is the verified one; the recorder's own total stays in the row for comparison.
        result.update(tflm_arena_bytes=verified, tflm_recorded_arena_bytes=first["arena_bytes"])
    return result


def _runs_at(path, x_in, arena: int, expected: list[np.ndarray], timeout_s: float) -> tuple[bool, str]:
    run = run_tflm(path, x_in, arena, timeout_s)
    same = run["ok"] and len(run["outputs"]) == len(expected) and all(
        np.array_equal(a, b) for a, b in zip(run["outputs"], expected))
    return same, "" if same else (run["reason"] or "output differs")


def _smallest_verified_arena(path, x_in, need: int, max_arena: int, expected: list[np.ndarray],
                             timeout_s: float, grow: float = 1.25, tries: int = 8, step: int = 256) -> tuple[int | None, str]:
    """The smallest arena (to ``step`` bytes) that runs the model with the measuring run's outputs (all of them).

    The recording allocator's total is usually enough. For some graphs (the streaming head) TFLM needs a
    little more at that exact size (alignment and persistent buffers the total leaves out), so the size
    is grown by ``grow`` until a run succeeds, then bisected back down. Written by hand: TFLM has no
    "minimum arena" query, only this recorder and a failed allocation.
    """
    ok, reason = _runs_at(path, x_in, need, expected, timeout_s)
    if ok:
        return need, ""
    low, high = need, None
    for _ in range(tries):
        size = min(max_arena, -(-int(low * grow) // 16) * 16)
        if _runs_at(path, x_in, size, expected, timeout_s)[0]:
            high = size
            break
        low = size
        if size >= max_arena:
            break
    if high is None:
        return None, f"rerun with a {need}-byte arena: {reason}; no arena up to {low} bytes reproduced the output"
    while high - low > step:
        mid = -(-((low + high) // 2) // 16) * 16
        if _runs_at(path, x_in, mid, expected, timeout_s)[0]:
            high = mid
        else:
            low = mid
    return high, ""


def measure_pair_arenas(row: dict[str, Any], files: dict[str, Path], inputs: dict[str, Any], ecfg, ram_key: str,
                        other_ram: int) -> None:
    """TFLite Micro arena of each part of a two-file pair (streaming or stateful) into ``row``.

    ``tflm_arena_<part>_bytes``, ``tflm_status`` (ok only when both are), ``tflm_reason``, ``flash_bytes``; when both
    arenas are known, ``tflm_arena_bytes`` (their sum), ``row[ram_key]`` = the sum + ``other_ram`` (what the firmware
    loop keeps beside the arenas) and the boards whose flash and RAM hold it.
    """
    res = {p: measure_arena(files[p], inputs[p], ecfg.tflm_max_arena, timeout_s=ecfg.timeout_s) for p in files}
    arenas = {p: r["tflm_arena_bytes"] for p, r in res.items()}
    statuses = [r["tflm_status"] for r in res.values()]
    status = "ok" if all(s == "ok" for s in statuses) else ("failed" if "failed" in statuses else "unverified")
    row.update({f"tflm_arena_{p}_bytes": a for p, a in arenas.items()}, tflm_status=status,
               tflm_reason="; ".join(f"{p}: {r['tflm_reason']}" for p, r in res.items() if r["tflm_reason"]),
               flash_bytes=row["file_bytes"])
    if all(a is not None for a in arenas.values()):
        row["tflm_arena_bytes"] = sum(arenas.values())
        row[ram_key] = row["tflm_arena_bytes"] + other_ram
        row["fits_boards"] = boards_that_fit(row["file_bytes"], row[ram_key]) if status != "failed" else []
