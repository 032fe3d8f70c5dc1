"""GPU paths of the training loop: chosen only for CUDA devices; the CPU path is the loop as it was."""
from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch
from torch import nn

from sleepedge.config.settings import ConfigError, TrainConfig, load_config
from sleepedge.models import DeepSleepNet, get_arch
from sleepedge.train import accelerate, loop
from sleepedge.train.sequences import SequenceData


def _data(n: int = 12, seq: int = 3, seed: int = 0) -> SequenceData:
    rng = np.random.default_rng(seed)
    return SequenceData(rng.standard_normal((n, seq, 1, 3000)).astype(np.float32),
                        rng.integers(0, 5, (n, seq)).astype(np.int64))


@pytest.mark.parametrize("scaling, lr", [("sqrt", 2e-4), ("linear", 4e-4), ("none", 1e-4)])
def test_gpu_batch_size_scales_the_learning_rate_on_cuda_only(scaling, lr):
    cfg = TrainConfig(batch_size=16, lr=1e-4, gpu_batch_size=64, gpu_lr_scaling=scaling)
    assert accelerate.device_config(cfg, "cpu") is cfg
    gpu = accelerate.device_config(cfg, "cuda")
    assert gpu.batch_size == 64 and gpu.lr == pytest.approx(lr)
    assert accelerate.device_config(TrainConfig(batch_size=16, gpu_batch_size=0), "cuda").batch_size == 16


def test_bad_gpu_settings_are_refused():
    with pytest.raises(ConfigError, match="gpu_lr_scaling"):
        accelerate.device_config(TrainConfig(gpu_lr_scaling="cubic"), "cpu")
    with pytest.raises(ConfigError, match="gpu_batch_size"):
        accelerate.device_config(TrainConfig(gpu_batch_size=-1), "cpu")


def test_gpu_settings_have_config_rules():
    from sleepedge.config.rules import RULES

    assert set(RULES["train.gpu_lr_scaling"].choices) == set(accelerate.LR_SCALINGS)
    for override, key in (("train.gpu_batch_size=-1", "train.gpu_batch_size"), ("train.gpu_lr_scaling=cubic", "train.gpu_lr_scaling"),
                          ("train.amp=maybe", "train.amp"), ("data.synthetic_single_night=99", "data.synthetic_single_night"),
                          ("data.synthetic_single_night=1,1", "data.synthetic_single_night")):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_config("tiny", [override])


def test_autocast_only_on_cuda():
    assert isinstance(accelerate.autocast("cpu"), contextlib.nullcontext)
    assert isinstance(accelerate.autocast("cuda", enabled=False), contextlib.nullcontext)
    with pytest.warns(UserWarning) if not torch.cuda.is_available() else contextlib.nullcontext():
        assert isinstance(accelerate.autocast("cuda"), torch.autocast)


def test_cpu_batches_are_the_numpy_batches_of_the_old_loop():
    data, order = _data(), np.random.default_rng(3).permutation(12)
    teacher = np.random.default_rng(4).standard_normal((12, 3, 5)).astype(np.float32)
    got = list(accelerate.batches(data, teacher, order, 5, torch.device("cpu")))
    assert [b[3] for b in got] == [5, 5, 2]
    for i, (xb, yb, tb, n) in enumerate(got):
        idx = np.sort(order[5 * i:5 * i + 5])
        assert torch.equal(xb, torch.from_numpy(data.x[idx])) and torch.equal(yb, torch.from_numpy(data.y[idx]))
        assert torch.equal(tb, torch.from_numpy(teacher[idx]).reshape(-1, 5))
    assert isinstance(accelerate.loss_term(torch.tensor(0.5), 4), float)


def test_predict_logits_takes_the_gpu_path_for_cuda_only(monkeypatch):
    calls = []
    monkeypatch.setattr(accelerate, "predict_logits_cuda", lambda *a, **k: calls.append(a[3]) or "gpu")
    model = DeepSleepNet(get_arch("tiny"))
    assert loop.predict_logits(model, _data().x[:2], device="cuda") == "gpu"
    assert isinstance(loop.predict_logits(model, _data().x[:2], device="cpu"), np.ndarray)
    assert [str(d) for d in calls] == ["cuda"]


def _legacy_epoch(model, data, opt, sched, loss_fn, cfg, epoch, dev, bar, teacher=None):
    """The training epoch as it was before the GPU paths existed (the CPU reference)."""
    model.train()
    order = np.random.default_rng(cfg.seed * 1009 + epoch).permutation(len(data))
    total, n = 0.0, 0
    for i in range(0, len(order), cfg.batch_size):
        idx = np.sort(order[i:i + cfg.batch_size])
        xb = torch.from_numpy(data.x[idx]).to(dev)
        yb = torch.from_numpy(data.y[idx]).to(dev)
        tb = None if teacher is None else torch.from_numpy(teacher[idx]).to(dev).reshape(-1, teacher.shape[-1])
        logits = model(xb)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1), tb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        total += float(loss.detach()) * len(idx)
        n += len(idx)
        bar.update(len(idx))
    return total / max(n, 1)


def _fit(cfg):
    torch.manual_seed(0)
    res = loop.fit(DeepSleepNet(get_arch("tiny")), _data(16, 3, 1), _data(6, 3, 2), cfg, epochs=2)
    return res.history, res.model.state_dict()


def test_cpu_training_is_bit_identical_to_the_loop_before_gpu_paths(monkeypatch):
    cfg = load_config("tiny", ["train.gpu_batch_size=8", "train.amp=true"]).train  # GPU keys: ignored on a CPU
    cfg.batch_size = 4
    new_hist, new_state = _fit(cfg)
    monkeypatch.setattr(loop, "_train_one_epoch", _legacy_epoch)
    old_hist, old_state = _fit(cfg)
    assert new_hist == old_hist and all(math.isfinite(h["train_loss"]) for h in new_hist)
    assert all(torch.equal(new_state[k], old_state[k]) for k in old_state)


def test_resident_copies_once_and_follows_the_array():
    a, b = np.arange(6, dtype=np.float32), np.arange(6, dtype=np.float32)
    accelerate.clear_resident()
    t = accelerate.resident(a, "cpu")
    assert accelerate.resident(a, "cpu") is t and accelerate.resident(b, "cpu") is not t
    accelerate.clear_resident()


def test_without_cuda_a_fit_never_touches_the_gpu_paths(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("GPU path taken without CUDA")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for name in ("resident", "predict_logits_cuda"):
        monkeypatch.setattr(accelerate, name, boom)
    cfg = load_config("tiny", ["train.device=auto", "train.gpu_batch_size=64"]).train
    res = loop.fit(DeepSleepNet(get_arch("tiny")), _data(8, 3, 1), _data(4, 3, 2), cfg, epochs=1)
    assert loop.select_device(cfg.device).type == "cpu" and res.history[0]["train_loss"] > 0
