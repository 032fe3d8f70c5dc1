"""Checkpoints are ``{"state_dict", "arch", "config", "meta"}``: no pickled modules.

Loading uses ``torch.load(..., weights_only=True)`` and a strict ``load_state_dict`` into a model
rebuilt from the stored architecture, so a pruned model reloads as what it is.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from sleepedge.core.errors import DataError
from sleepedge.run.manifest import atomic_write_bytes

from sleepedge.models.arch import DeepSleepNetArch
from sleepedge.models.deepsleepnet import DeepSleepNet


def save_checkpoint(
    path: str | Path,
    model: DeepSleepNet,
    config: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` atomically; refuses to replace an existing file unless ``overwrite``."""
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "arch": model.arch.to_dict(),
        "config": config or {},
        "meta": meta or {},
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    return atomic_write_bytes(path, buf.getvalue(), overwrite=overwrite)


def load_torch_file(path: str | Path, what: str, advice: str = "", map_location: str = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` of a file from disk, never anything but tensors and plain data.

    Any failure to unpickle (random bytes, a truncated file, a pickle of another object, which
    ``weights_only`` refuses) becomes one ``DataError`` naming the file. Torch's own message is not
    repeated: it advises ``weights_only=False``, which must never be suggested for a file of unknown origin.
    A filesystem error (permission, a folder in the way) stays the ``OSError`` it is.

    Parameters
    ----------
    path : the file.
    what : what the file should be, e.g. ``"sleepedge training state"``.
    advice : appended to the message, e.g. ``"; delete it to start over"``.
    map_location : passed to ``torch.load``.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except OSError as exc:
        if exc.errno is None:  # torch's stream reader raises errno-less OSErrors for a bad archive
            raise DataError(f"{path}: not a {what} (damaged, truncated, or not written by sleepedge){advice}") from None
        raise
    except Exception:  # noqa: BLE001 - pickle, zip and torch raise many types for a file that is not a state
        raise DataError(f"{path}: not a {what} (damaged, truncated, or not written by sleepedge){advice}") from None


def load_checkpoint(path: str | Path, map_location: str = "cpu") -> tuple[DeepSleepNet, dict[str, Any]]:
    """Rebuild the model from a checkpoint; returns ``(model_in_eval_mode, payload)``.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    DataError
        Not a torch file, not a sleepedge payload, or weights that do not fit the recorded architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    payload = load_torch_file(path, "sleepedge checkpoint", map_location=map_location)
    if not isinstance(payload, dict):
        raise DataError(f"{path}: not a sleepedge checkpoint (holds a {type(payload).__name__}, not a dict)")
    missing = {"state_dict", "arch"} - set(payload)
    if missing:
        raise DataError(f"{path}: not a sleepedge checkpoint (lacks {sorted(missing)})")
    try:
        model = DeepSleepNet(DeepSleepNetArch.from_dict(payload["arch"]))
        model.load_state_dict(payload["state_dict"], strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        first = " ".join(str(exc).split())[:300]
        raise DataError(f"{path}: its weights do not fit its recorded architecture "
                        f"({type(exc).__name__}: {first})") from None
    model.eval()
    return model, payload
