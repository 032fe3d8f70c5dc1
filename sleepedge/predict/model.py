"""Load an exported model for scoring: one window model, or a streaming pair (features + head).

A file's kind is read from its tensors, so no manifest is needed: a window model maps ``(1, L, 1, S)``
to ``(1, L, C)``; a feature model maps ``(1, 1, 1, S)`` to ``(1, F)``; a head maps ``(1, L, 1, F)`` to
``(1, L, C)``. An export folder of one model (``RUN/export/compressed``) is resolved through the export
manifest with ``fmt``, and each file it uses is checked against the sha256 that manifest records. Every
file is loaded and run once in a child process before it is loaded here (a damaged .tflite can crash
the interpreter).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.core.errors import DataError
from sleepedge.firmware_bench.runner import Runner
from sleepedge.firmware_bench.runtimes import ONNXRUNTIME, load_runner, resolve_tflite
from sleepedge.firmware_bench.stateful import input_count, is_stateful_file, load_stateful
from sleepedge.firmware_bench.stream import PairRunner
from sleepedge.predict.provenance_check import model_provenance

DEFAULT_FORMATS = ("stream_tflite_int8", "tflite_int8", "stream_onnx_fp32", "onnx_fp32")
STATEFUL_FORMATS = ("stateful_tflite_int8", "stateful_onnx_fp32")  # a folder with none of the defaults (causal)
_CHECK_WORDING = "; the check counts a model only when it runs"


@dataclass
class ExportedModel:
    """A loaded exported model: ``kind`` ``window``, ``pair`` or ``stateful``, its window ``seq_len`` (1 for a
    stateful pair) and epoch length."""

    kind: str
    runner: Any  # Runner (window) or PairRunner (pair)
    seq_len: int
    epoch_samples: int
    files: list[Path]
    runtime: str
    info: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] | None = None  # read at load (sleepedge.predict.provenance_check); None: unknown

    def describe(self) -> str:
        if self.kind == "stateful":
            k = self.runner.lookahead
            return (f"stateful pair {', '.join(p.name for p in self.files)} ({self.runtime}, look-ahead {k} epoch(s): "
                    f"decisions {30 * k} s late)")
        what = "streaming pair" if self.kind == "pair" else "window model"
        return f"{what} {', '.join(p.name for p in self.files)} ({self.runtime}, window {self.seq_len} epochs)"


def _runtime_for(path: Path) -> str:
    if path.suffix == ".onnx":
        return ONNXRUNTIME
    if path.suffix == ".tflite":
        rt = resolve_tflite("tflite")
        if rt is None:
            raise DataError(f"{path}: no TFLite interpreter installed (pip install ai-edge-litert)")
        return rt
    raise DataError(f"{path}: not an exported model (expected .onnx or .tflite)")


def _load(path: Path, runtime: str, threads: int) -> Runner:
    """Load ``path`` in this process, after :func:`verify_in_child` has loaded and run it in a child."""
    if not path.is_file():
        raise DataError(f"{path}: model file not found")
    verify_in_child(path)
    try:
        return load_runner(runtime, path, threads, False)
    except Exception as exc:  # runtimes raise many types for a damaged file
        raise DataError(f"{path}: {runtime} cannot load it ({type(exc).__name__}: {exc})") from exc


def verify_in_child(path: Path) -> None:
    """Load ``path`` and run one inference in a child process first (:func:`sleepedge.check.loadcheck.verify_loads`).

    A truncated or corrupted .tflite can make the interpreter segfault or raise a bus error while loading,
    which no ``except`` catches: it would kill this process with nothing printed. In a child, the crash
    becomes a :class:`DataError` naming the file.
    """
    from sleepedge.check.loadcheck import verify_loads

    try:
        verify_loads(path)
    except DataError as exc:  # the loader words its refusal for `sleepedge check`
        raise DataError(str(exc).replace(_CHECK_WORDING, "; not loaded")) from None


def _shapes(r: Runner) -> tuple[list[int], list[int]]:
    return [int(v) for v in r.info.get("input_shape") or []], [int(v) for v in r.info.get("output_shape") or []]


def resolve_folder(folder: Path, fmt: str | None) -> list[Path]:
    """The file(s) of ``fmt`` (default: the first ok of :data:`DEFAULT_FORMATS`) for the model exported in ``folder``."""
    from sleepedge.run.manifest import read_manifest

    manifest = folder.parent / "manifest.json"
    if not manifest.is_file():
        raise DataError(f"{folder}: a folder must be one model of an export (RUN/export/<model>); no {manifest}")
    rows = read_manifest(folder.parent, verify=False).get("metrics", {}).get("rows")  # schema checked: ManifestError
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise DataError(f"{manifest}: metrics.rows is not a list of export rows")
    rows = [r for r in rows if r.get("model") == folder.name and r.get("status") == "ok"]
    have = {r["format"]: r for r in rows}
    name = fmt or next((f for f in DEFAULT_FORMATS + STATEFUL_FORMATS if f in have), None)
    if name not in have:
        raise DataError(f"{folder}: no exported format {name!r} that passed its checks (have: {', '.join(have) or 'none'})")
    row = have[name]
    try:
        files = row.get("files")
        rels = [files["features"], files["step"] if "step" in files else files["head"]] if files else [row["file"]]
    except (KeyError, TypeError):
        raise DataError(f"{manifest}: row {folder.name}/{name} names no file") from None
    return [verified_output(folder.parent, rel) for rel in rels]


def verified_output(export_dir: Path, rel: object) -> Path:
    """``export_dir/rel``, checked against the sha256 the export manifest records for it.

    Raises
    ------
    DataError
        The manifest lists no output at ``rel``.
    ManifestError
        The file differs from its recorded sha256 (named in the message).
    """
    from sleepedge.run.manifest import read_manifest, verified_file

    outputs = read_manifest(export_dir, verify=False)["outputs"]
    entry = next((e for e in outputs.values() if e["path"] == rel), None)
    if entry is None:
        raise DataError(f"{export_dir / str(rel)}: not an output of {export_dir / 'manifest.json'}; its sha256 "
                        "cannot be checked")
    return verified_file(export_dir, entry, "exported model file")


def load_model(paths: list[str | Path], threads: int = 1, fmt: str | None = None) -> ExportedModel:
    """Load a window model (one file), a streaming pair (two files, any order) or an export model folder.

    Raises
    ------
    DataError
        Missing or unreadable file (each is first loaded and run in a child process, so a file that
        crashes its runtime is refused too), an unknown suffix, a feature model without its head, shapes
        that do not fit together, ``fmt`` without a model folder.
    ManifestError
        A model folder's file differs from the sha256 its export manifest records.
    """
    files = [Path(p) for p in paths]
    folder = files[0] if len(files) == 1 and files[0].is_dir() else None
    if len(files) == 1 and files[0].is_dir():
        files = resolve_folder(files[0], fmt)
    elif fmt is not None:
        raise DataError(f"{files[0]}: --format applies to a model folder (RUN/export/<model>), not to model files")
    if len(files) not in (1, 2):
        raise DataError(f"--model: give one window model or the two files of a streaming pair, got {len(files)}")
    runtimes = {_runtime_for(p) for p in files}
    if len(runtimes) > 1:
        raise DataError(f"{files[0]} and {files[1]}: a streaming pair's two files must be of one kind (.onnx or .tflite)")
    runtime = runtimes.pop()
    if len(files) == 2 and any(map(is_stateful_file, files)):
        model = _stateful(files, runtime, threads)
        model.provenance = model_provenance(model.files, folder)
        return model
    runners = [_load(p, runtime, threads) for p in files]
    model = _window(files[0], runners[0], runtime) if len(files) == 1 else _pair(files, runners, runtime)
    model.provenance = model_provenance(model.files, folder)
    return model


def _window(path: Path, runner: Runner, runtime: str) -> ExportedModel:
    inp, out = _shapes(runner)
    if len(out) == 2:
        raise DataError(f"{path}: a streaming feature model (output {out}); pass its head as a second --model")
    if len(inp) != 4 or inp[0] != 1 or inp[2] != 1 or len(out) != 3:
        raise DataError(f"{path}: input {inp} / output {out} is not a sleepedge window model ((1, L, 1, S) -> (1, L, C))")
    return ExportedModel("window", runner, inp[1], inp[3], [path], runtime, runner.info)


def _pair(files: list[Path], runners: list[Runner], runtime: str) -> ExportedModel:
    order = sorted(range(2), key=lambda i: len(_shapes(runners[i])[1]))  # the feature model has a 2-D output
    (fi, hi), (f_path, h_path) = order, (files[order[0]], files[order[1]])
    (f_in, f_out), (h_in, h_out) = _shapes(runners[fi]), _shapes(runners[hi])
    if len(f_out) != 2 or len(h_out) != 3 or len(f_in) != 4 or f_in[1] != 1 or len(h_in) != 4 or h_in[3] != f_out[1]:
        raise DataError(f"{f_path} and {h_path}: not a streaming pair (features {f_in} -> {f_out}, head {h_in} -> {h_out})")
    pair = PairRunner(runners[fi], runners[hi])
    return ExportedModel("pair", pair, pair.seq_len, f_in[3], [f_path, h_path], runtime, pair.info)


def _stateful(files: list[Path], runtime: str, threads: int) -> ExportedModel:
    """A stateful pair: the step model is the file with three inputs (features, h, c); each checked in a child first."""
    for p in files:
        verify_in_child(p)
    step_first = input_count(files[0]) > input_count(files[1])
    f_path, s_path = (files[1], files[0]) if step_first else (files[0], files[1])
    try:
        runner = load_stateful(runtime, f_path, s_path, threads, False)
    except DataError:
        raise
    except Exception as exc:  # runtimes raise many types for a damaged or mismatched file
        raise DataError(f"{f_path} and {s_path}: not a stateful pair {runtime} can run ({type(exc).__name__}: {exc})") from exc
    return ExportedModel("stateful", runner, 1, runner.epoch_samples, [f_path, s_path], runtime, runner.info)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Per-row softmax (probabilities of the stages)."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
