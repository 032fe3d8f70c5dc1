"""The GPU paths of the training loop: bf16 autocast, device-resident data, a larger batch.

Everything here is selected only when the training device is CUDA (:func:`is_cuda`); on a CPU every
helper returns exactly what the loop computed before this module existed (NumPy fancy indexing into
``torch.from_numpy``, fp32 arithmetic, a Python float loss sum), so CPU results stay bit-identical.

On CUDA:

* **bf16 autocast** (``train.amp``, default on): convolutions, the cuDNN LSTM and the linear layers run
  in bfloat16 with fp32 weights and optimiser state; the losses (cross-entropy, KL) stay fp32 under
  autocast's own rules. bf16 keeps fp32's exponent range, so no loss scaling is needed.
* **cuDNN LSTM**: ``nn.LSTM`` on a CUDA tensor runs cuDNN's fused kernels; nothing to do but keep the
  input contiguous and ``batch_first`` as the model already does.
* **resident data**: each array a fit or an evaluation reads (training sequences, labels, teacher
  logits, validation and test sequences) is copied to the device once per process and cached
  (:func:`resident`); batches are gathered on the device with an index tensor, so there is no
  host-to-device copy per batch, and the running loss stays on the device until the epoch ends.
* **batch size** (``train.gpu_batch_size``, 0 = ``train.batch_size``): a larger batch uses the GPU
  better; the learning rate is scaled by ``train.gpu_lr_scaling`` (``sqrt`` of the batch ratio by
  default, ``linear`` or ``none``). This changes the recipe (fewer, larger optimiser steps per epoch),
  so it is a config key, recorded in every manifest, and never applied on a CPU.
"""
from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import replace
from typing import Any, Iterator

import numpy as np
import torch

from sleepedge.config.settings import ConfigError, TrainConfig

log = logging.getLogger(__name__)
LR_SCALINGS = ("none", "sqrt", "linear")
GPU_EVAL_BATCH = 256  # sequences per evaluation batch on a GPU (activations only, no gradients)
_CACHE_SIZE = 6  # arrays kept on the device per process (train x/y/teacher, val x, test x, spare)
_resident: dict[tuple, tuple[np.ndarray, torch.Tensor]] = {}


def is_cuda(dev: torch.device | str) -> bool:
    """True when ``dev`` is a CUDA device (the only case in which the GPU paths run)."""
    return torch.device(dev).type == "cuda"


def device_config(cfg: TrainConfig, dev: torch.device | str) -> TrainConfig:
    """``cfg`` as it applies on ``dev``: on CUDA the GPU batch size and scaled learning rate, else ``cfg``.

    Parameters
    ----------
    cfg : the training config (``gpu_batch_size``, ``gpu_lr_scaling`` are read).
    dev : the training device.

    Returns
    -------
    TrainConfig
        ``cfg`` itself on a CPU or when the GPU batch equals ``batch_size``; else a copy with
        ``batch_size = gpu_batch_size`` and ``lr`` multiplied by the scaling of the batch ratio.
    """
    if cfg.gpu_lr_scaling not in LR_SCALINGS:
        raise ConfigError(f"train.gpu_lr_scaling: unknown {cfg.gpu_lr_scaling!r} (known: {', '.join(LR_SCALINGS)})")
    if cfg.gpu_batch_size < 0:
        raise ConfigError(f"train.gpu_batch_size must be >= 0 (0 = train.batch_size), got {cfg.gpu_batch_size}")
    if not is_cuda(dev) or cfg.gpu_batch_size in (0, cfg.batch_size):
        return cfg
    ratio = cfg.gpu_batch_size / cfg.batch_size
    factor = {"none": 1.0, "sqrt": math.sqrt(ratio), "linear": ratio}[cfg.gpu_lr_scaling]
    log.debug("GPU batch %d (x%.2f of %d): lr %.3g -> %.3g", cfg.gpu_batch_size, ratio, cfg.batch_size, cfg.lr, cfg.lr * factor)
    return replace(cfg, batch_size=cfg.gpu_batch_size, lr=cfg.lr * factor)


def prepare_device(dev: torch.device | str) -> None:
    """On CUDA: let cuDNN pick the fastest convolution algorithms and fp32 matmuls use TF32."""
    if is_cuda(dev):
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def autocast(dev: torch.device | str, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when ``enabled``; a no-op context everywhere else."""
    if enabled and is_cuda(dev):
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def resident(arr: np.ndarray, dev: torch.device | str) -> torch.Tensor:
    """``arr`` as a tensor on ``dev``, copied once per process and reused (keyed by the array's identity).

    The cache holds a reference to ``arr`` so that its id cannot be reused by another array while the
    entry lives; the oldest entry is dropped beyond a few arrays.
    """
    key = (id(arr), arr.shape, str(arr.dtype), str(torch.device(dev)))
    hit = _resident.get(key)
    if hit is not None and hit[0] is arr:
        return hit[1]
    while len(_resident) >= _CACHE_SIZE:
        _resident.pop(next(iter(_resident)))
    t = torch.from_numpy(np.ascontiguousarray(arr)).to(dev, non_blocking=False)
    _resident[key] = (arr, t)
    return t


def clear_resident() -> None:
    """Drop every cached device copy (frees GPU memory between runs in one process)."""
    _resident.clear()


def batches(data, teacher: np.ndarray | None, order: np.ndarray, batch_size: int,
            dev: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, int]]:
    """``(x, y, teacher or None, n)`` per training batch, in ``order`` (each batch's indices sorted).

    CPU: NumPy indexing and ``torch.from_numpy`` exactly as the loop always did. CUDA: indices and
    data live on the device; the permutation is copied once per epoch, never a batch.
    """
    if not is_cuda(dev):
        for i in range(0, len(order), batch_size):
            idx = np.sort(order[i:i + batch_size])
            tb = None if teacher is None else torch.from_numpy(teacher[idx]).to(dev).reshape(-1, teacher.shape[-1])
            yield torch.from_numpy(data.x[idx]).to(dev), torch.from_numpy(data.y[idx]).to(dev), tb, len(idx)
        return
    x, y = resident(data.x, dev), resident(data.y, dev)
    t = None if teacher is None else resident(teacher, dev)
    order_t = torch.from_numpy(np.asarray(order, dtype=np.int64)).to(dev)
    for i in range(0, len(order), batch_size):
        idx = torch.sort(order_t[i:i + batch_size]).values
        tb = None if t is None else t.index_select(0, idx).reshape(-1, t.shape[-1])
        yield x.index_select(0, idx), y.index_select(0, idx), tb, int(idx.numel())


def loss_term(loss: torch.Tensor, n: int) -> Any:
    """``loss * n`` for the epoch's running sum: a Python float on CPU, a device tensor on CUDA
    (no synchronisation per batch; ``float()`` of the sum at the end of the epoch syncs once)."""
    if loss.is_cuda:
        return loss.detach().float() * n
    return float(loss.detach()) * n


@torch.no_grad()
def predict_logits_cuda(model: torch.nn.Module, x: np.ndarray, batch_size: int, dev: torch.device,
                        amp: bool = True) -> np.ndarray:
    """Logits ``(N, T, classes)`` on CUDA: ``x`` resident on the device, bf16 autocast, one copy back."""
    model.eval().to(dev)
    xt = resident(x, dev)
    bs = max(batch_size, GPU_EVAL_BATCH)
    with autocast(dev, amp):
        out = [model(xt[i:i + bs]).float() for i in range(0, len(x), bs)]
    return torch.cat(out).cpu().numpy() if out else np.zeros((0, x.shape[1], 5), np.float32)
