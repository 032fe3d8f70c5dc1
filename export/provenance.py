"""Provenance written into every exported model file, and the training input statistics it carries.

The export stage builds one context per export (:func:`export_context`: the dataset of the parent stage,
the digests of the parent and train manifests, the statistics of ``RUN/train/calib.npz``), every row carries
it (``row["provenance"]``), and :func:`stamp_provenance` writes the document of each file into the file
right after it is converted and before it is checked, measured, hashed or turned into a C array, so every
figure of the row refers to the final bytes. Readers: :mod:`sleepedge.firmware_bench.provenance`.

The export manifest lists every output's sha256, so a file cannot carry the digest of the manifest it is
listed in; it carries the sha256 of the manifest it was exported *from* (the parent stage: compress, or
train) and of the train manifest (the data and the training run).

Spectral profile (:func:`band_powers_db`): Welch's method (scipy.signal.welch, 4-s Hann segments, 50 %
overlap) on each 30-s epoch, power summed over :data:`BANDS_HZ`, in dB re 1 uV^2. A profile is the mean
over epochs of those dB values, per stage and over all epochs (``all``).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.firmware_bench.provenance import KEY, SCHEMA

log = logging.getLogger(__name__)

EPOCH_SEC = 30
BANDS_HZ = ((0.5, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, 12.0), (12.0, 16.0), (16.0, 25.0), (25.0, 40.0))
PERCENTILES = (0.1, 1.0, 5.0, 50.0, 95.0, 99.0, 99.9)
SEGMENT_S = 4.0  # Welch segment: 0.25 Hz resolution, 14 segments per epoch with 50 % overlap
TFLITE_BUFFER_ALIGN = 16  # the TFLite schema's ``force_align: 16`` on Buffer.data


def band_powers_db(x: np.ndarray, sfreq: float) -> tuple[np.ndarray, list[list[float]]]:
    """``(powers (n, bands) in dB re 1 uV^2, bands used)`` of epochs ``x`` (n, samples) in uV.

    Bands above the Nyquist frequency are dropped.
    """
    from scipy.signal import welch

    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    nper = min(x.shape[1], int(round(SEGMENT_S * sfreq)))
    freqs, psd = welch(x, fs=sfreq, nperseg=nper, axis=-1)
    df = freqs[1] - freqs[0]
    bands = [[lo, hi] for lo, hi in BANDS_HZ if hi <= sfreq / 2]
    power = np.stack([psd[:, (freqs >= lo) & (freqs < hi)].sum(axis=1) * df for lo, hi in bands], axis=1)
    return 10 * np.log10(power + 1e-12), bands


def spectral_profile(x: np.ndarray, y: np.ndarray | None, sfreq: float, labels: list[str]) -> dict[str, Any]:
    """Mean dB band power per stage (those present) and over all epochs, with the bands and the method."""
    db, bands = band_powers_db(x, sfreq)
    profiles = {"all": db.mean(axis=0)}
    if y is not None:
        y = np.asarray(y).ravel()
        profiles.update({name: db[y == k].mean(axis=0) for k, name in enumerate(labels) if np.any(y == k)})
    return {"method": f"Welch {SEGMENT_S:g}-s Hann segments, 50 % overlap, per 30-s epoch; band power in dB re 1 uV^2, "
                      "mean over epochs",
            "sfreq_hz": float(sfreq), "bands_hz": bands,
            "profiles_db": {k: [round(float(v), 3) for v in p] for k, p in profiles.items()}}


def input_stats(x: np.ndarray, y: np.ndarray | None, calib_x: np.ndarray, clip_uv: float | None, sfreq: float,
                labels: list[str], source: str) -> dict[str, Any]:
    """Amplitude percentiles (|x| and x, uV), the int8 calibration range and the spectral profile of ``x``.

    ``x`` (N, T, 1, S) are the training (calibration) sequences, ``y`` (N, T) their stages; ``calib_x`` is the
    (clipped) sample the int8 models were calibrated on and ``clip_uv`` its clip bound (None: not clipped).
    """
    flat = np.asarray(x, dtype=np.float32).reshape(-1, x.shape[-1])
    pct = lambda v: [round(float(p), 3) for p in np.percentile(v, PERCENTILES)]  # noqa: E731
    return {"source": source, "epochs": int(len(flat)), "unit": "uV", "percentiles": list(PERCENTILES),
            "abs_uv": pct(np.abs(flat)), "signed_uv": pct(flat), "rms_uv": round(float(np.sqrt(np.mean(flat ** 2.0))), 3),
            "calibration": {"clip_uv": clip_uv, "min_uv": float(np.min(calib_x)), "max_uv": float(np.max(calib_x)),
                            "sequences": int(len(calib_x))},
            "spectrum": spectral_profile(flat, y, sfreq, labels)}


def _manifest(stage_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((stage_dir / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}


def input_digests(parent: Path | None) -> dict[str, Any]:
    """sha256 of the parent stage's manifest and of the train manifest (following the parent's own parent)."""
    from sleepedge.run.manifest import MANIFEST_NAME, resolve_entry, sha256_file

    if parent is None or not (parent / MANIFEST_NAME).is_file():
        return {"parent_stage": None, "parent_manifest_sha256": None, "train_manifest_sha256": None}
    train = parent
    entry = (_manifest(parent).get("parent") or {}).get("manifest")
    if _manifest(parent).get("stage") != "train" and isinstance(entry, dict):
        train = resolve_entry(parent, entry).parent
    tm = train / MANIFEST_NAME
    return {"parent_stage": _manifest(parent).get("stage"), "parent_manifest_sha256": sha256_file(parent / MANIFEST_NAME),
            "train_manifest_sha256": sha256_file(tm) if tm.is_file() and _manifest(train).get("stage") == "train" else None}


def export_context(parent: Path | None, x: np.ndarray, y: np.ndarray | None, calib_x: np.ndarray,
                   clip_uv: float | None, source: str = "calib.npz") -> dict[str, Any]:
    """What every file of one export shares: dataset, channel, rates, labels, input digests, input statistics."""
    from sleepedge.run.manifest import dataset_of, dataset_title
    from sleepedge.train.night import LABEL_NAMES

    ds = dataset_of(parent) if parent is not None else {}
    epoch_samples = int(x.shape[-1])
    sfreq = float(ds.get("sfreq") or epoch_samples / EPOCH_SEC)
    synthetic = ds.get("synthetic") if isinstance(ds.get("synthetic"), bool) else None
    return {"schema": SCHEMA,
            "dataset": {"name": ds.get("name") or ds.get("dataset"), "synthetic": synthetic,
                        "label": dataset_title(ds) or None},
            "channel": ds.get("channel"), "sfreq_hz": sfreq, "epoch_s": EPOCH_SEC, "epoch_samples": epoch_samples,
            "labels": list(LABEL_NAMES), "inputs_digest": input_digests(parent),
            "input_stats": input_stats(x, y, calib_x, clip_uv, sfreq, list(LABEL_NAMES), source)}


def _version() -> str:
    """The installed sleepedge version (package metadata: importing ``sleepedge`` here would close an import cycle)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sleepedge")
    except PackageNotFoundError:
        return "unknown"


def file_provenance(base: dict[str, Any], row: dict[str, Any], part: str | None, quant: dict[str, Any] | None) -> dict[str, Any]:
    """The document written into one file: the export's context plus the row's model and this file's input."""
    doc = {**base, "schema": SCHEMA, "created_by": f"sleepedge {_version()}",
           "model": row.get("model"), "format": row.get("format"), "part": part, "model_label": row.get("label"),
           "params": row.get("params"), "seq_len": row.get("seq_len"), "untrained": bool(row.get("untrained")),
           "precision": row.get("precision"), "int8_input": None}
    if row.get("kind") == "stateful":
        doc["stateful"] = stateful_entry(row)
        quant = None if part == "step" else quant  # the step's inputs are in doc["stateful"]["tensors"]
    if quant is not None and quant.get("dtype") in ("int8", "int16"):
        clip = ((base.get("input_stats") or {}).get("calibration") or {}).get("clip_uv") if part != "head" else None
        lo, hi = np.iinfo(quant["dtype"]).min, np.iinfo(quant["dtype"]).max
        s, z = quant["scale"], quant["zero_point"]
        doc["int8_input"] = {**quant, "clip_uv": clip, "unit": "features" if part == "head" else "uV",
                             "range": [(lo - z) * s, (hi - z) * s]}
    return doc


STATEFUL_KEYS = ("step_io", "lookahead", "lag_s", "state_layers", "state_hidden", "state_dtype", "state_bytes")


def stateful_entry(row: dict[str, Any]) -> dict[str, Any]:
    """The ``stateful`` entry of both files of a stateful pair: how a runtime wires and carries the state.

    ``step_io`` gives the position of each named input and output of the step file; ``tensors`` the dtype,
    shape, scale and zero point of each (integer files), so a firmware can requantise ``h_out`` / ``c_out`` to
    the ``h`` / ``c`` inputs; ``reset`` the rule of :mod:`sleepedge.models.stateful`.
    """
    entry = {k: row.get(k) for k in STATEFUL_KEYS}
    entry["tensors"] = row.get("step_tensors")
    entry["reset"] = ("zero h and c at the start of a recording and at every change between signal and gap "
                      "(sleepedge.models.stateful.segment_starts)")
    entry["decision"] = "the step that consumed epoch t decides epoch t - lookahead"
    return entry


def stamp_provenance(row: dict[str, Any], files: dict[str | None, Path]) -> str | None:
    """Write the provenance of ``row`` into each of ``files`` (``{part: path}``; part None for a window file).

    ``row["provenance"]`` becomes the document of the first file (the one the EEG goes into). Returns None, or
    the reason the row fails: a file the writer cannot parse is a failed row, not a dead export.
    """
    base = row.get("provenance") or {}
    docs = []
    for part, path in files.items():
        try:
            quant = tflite_input_quant(path.read_bytes()) if path.suffix == ".tflite" else None
            doc = file_provenance(base, row, part, quant)
            write_provenance(path, doc)
        except Exception as exc:  # noqa: BLE001  (flatbuffers/protobuf raise many types on a file they cannot parse)
            return f"provenance could not be written into {path.name}: {type(exc).__name__}: {exc}"
        docs.append(doc)
    row["provenance"] = docs[0]
    return None


def write_provenance(path: Path, doc: dict[str, Any]) -> Path:
    """Write ``doc`` (JSON) into the model file's own metadata, replacing an earlier provenance (atomically)."""
    from sleepedge.run.manifest import atomic_write_bytes

    payload = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if path.suffix == ".tflite":
        data = tflite_with_metadata(path.read_bytes(), KEY, payload)
    elif path.suffix == ".onnx":
        data = onnx_with_metadata(path, KEY, payload.decode("utf-8"))
    else:
        raise ValueError(f"{path}: no provenance writer for {path.suffix!r} files")
    return atomic_write_bytes(path, data, overwrite=True)


def onnx_with_metadata(path: Path, key: str, value: str) -> bytes:
    """The ONNX file's bytes with ``metadata_props[key] = value`` (the onnx package: load, set, serialise)."""
    import onnx

    model = onnx.load(str(path))
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != key]
    del model.metadata_props[:]
    for k, v in kept + [(key, value)]:
        model.metadata_props.add(key=k, value=v)
    return model.SerializeToString()


def tflite_input_quant(data: bytes) -> dict[str, Any]:
    """dtype, scale and zero point of the first input tensor of a TFLite flatbuffer (no interpreter)."""
    from sleepedge.firmware_bench.tflite_file import schema

    fb = schema()
    sg = fb.Model.GetRootAs(data, 0).Subgraphs(0)
    tensor = sg.Tensors(int(sg.Inputs(0)))
    types = {v: k.lower() for k, v in vars(fb.TensorType).items() if not k.startswith("_") and isinstance(v, int)}
    q = tensor.Quantization()
    scale = float(q.Scale(0)) if q is not None and q.ScaleLength() else 0.0
    zero = int(q.ZeroPoint(0)) if q is not None and q.ZeroPointLength() else 0
    return {"dtype": types.get(tensor.Type(), "?"), "scale": scale, "zero_point": zero}


def tflite_with_metadata(data: bytes, name: str, payload: bytes) -> bytes:
    """The TFLite flatbuffer ``data`` with metadata entry ``name`` holding ``payload`` (added or replaced).

    Rewritten with the schema's object API (``ModelT``, as TensorFlow's ``flatbuffer_utils`` does) on the
    schema module the runtimes ship, so export needs no TensorFlow import in its own process. Every buffer is
    repacked 16-byte aligned (:func:`_pack_buffer`): the generated ``BufferT.Pack`` ignores the schema's
    ``force_align: 16``, and TFLite Micro reads weights in place.
    """
    import flatbuffers

    from sleepedge.firmware_bench.tflite_file import schema

    fb = schema()
    model = fb.ModelT.InitFromObj(fb.Model.GetRootAs(data, 0))
    if any(getattr(b, "offset", 0) for b in model.buffers or []):
        raise ValueError("a TFLite file with buffers outside the flatbuffer (over 2 GB) is not supported")
    buffer = fb.BufferT()
    buffer.data = np.frombuffer(payload, dtype=np.uint8)
    entry = next((m for m in model.metadata or [] if m.name in (name, name.encode())), None)
    if entry is not None:
        model.buffers[entry.buffer] = buffer
    else:
        model.buffers.append(buffer)
        model.metadata = list(model.metadata or []) + [fb.MetadataT(name=name, buffer=len(model.buffers) - 1)]
    model.buffers = [_AlignedBuffer(fb, b) for b in model.buffers]
    builder = flatbuffers.Builder(len(data) + len(payload) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class _AlignedBuffer:
    """A ``BufferT`` whose ``Pack`` puts its bytes on a 16-byte boundary of the finished file.

    ``Builder.Prep(16, n)`` pads so that the ``n`` bytes written next end (and, the builder writing back to
    front, start) 16-aligned from the end of the buffer; ``Finish`` pads the whole file to the largest
    alignment used, so the offset from the start is 16-aligned too.
    """

    def __init__(self, fb, buffer) -> None:
        self.fb, self.data = fb, buffer.data
        self.offset, self.size = getattr(buffer, "offset", 0), getattr(buffer, "size", 0)

    def Pack(self, builder) -> int:  # noqa: N802  (the flatbuffers object API's name)
        data = None
        if self.data is not None:
            raw = np.asarray(self.data, dtype=np.uint8).tobytes()
            builder.Prep(TFLITE_BUFFER_ALIGN, len(raw))
            data = builder.CreateByteVector(raw)
        self.fb.BufferStart(builder)
        if data is not None:
            self.fb.BufferAddData(builder, data)
        self.fb.BufferAddOffset(builder, self.offset)
        self.fb.BufferAddSize(builder, self.size)
        return self.fb.BufferEnd(builder)
