"""The train stage: data -> subject split -> sequences -> fit -> test metrics, figures and manifest.

``RUN/train/`` receives ``model.pt`` (state_dict + arch + config), ``history.json``, ``metrics.json``,
``split.json``, ``test.npz`` (every test sequence), ``calib.npz`` (class-stratified training sequences
for int8 calibration), ``confusion.png``, ``hypnogram.png`` and ``manifest.json`` (written last).
The stage is built in ``RUN/.train.partial`` and swapped in when complete; an interrupted stage
resumes from the ``train_state.pt`` kept there (a rerun with other settings is refused).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from sleepedge.config.settings import Config, config_from_dict, validate_split
from sleepedge.run.manifest import atomic_write_json, read_manifest, write_manifest
from sleepedge.core.seeding import seed_everything
from sleepedge.run.transaction import stage_transaction

from sleepedge.train.sequences import stratified_sequences

from sleepedge.train.sequences import SequenceData, make_sequences
from sleepedge.train.splits import kfold_split, nights_of, split_subjects

log = logging.getLogger(__name__)
STAGE = "train"


def dataset_label(ds_info: dict[str, Any]) -> str:
    """Human label stamped on every table and figure: SYNTHETIC data is always said so."""
    return "SYNTHETIC data (simulated EEG, not Sleep-EDF)" if ds_info.get("synthetic") else f"{ds_info.get('name', '?')} (real EEG)"


def make_split(cfg: Config, subjects: list[int]) -> dict[str, list[int]]:
    d = cfg.data
    if d.fold >= 0:
        return kfold_split(subjects, d.n_folds, d.fold, d.val_subjects, d.split_seed)
    return split_subjects(subjects, d.val_subjects, d.test_subjects, d.split_seed)


def split_data(cfg: Config, split: dict[str, list[int]] | None = None) -> tuple[dict[str, SequenceData], dict[str, list[int]], dict[str, Any], list]:
    """Load the dataset named by ``cfg.data`` and cut it into train/val/test sequences."""
    from sleepedge.train.dataset import load_dataset

    ds = load_dataset(cfg.data)
    subjects = sorted({n.subject for n in ds.nights})
    split = split or make_split(cfg, subjects)
    data = {part: make_sequences(nights_of(ds.nights, subs), cfg.data.seq_len) for part, subs in split.items()}
    info = {"name": ds.name, "synthetic": ds.synthetic, **{k: v for k, v in ds.info.items() if k != "synthetic"}}
    info["label"] = dataset_label(info)
    return data, split, info, nights_of(ds.nights, split["test"])


def load_run_data(train_dir: str | Path) -> dict[str, SequenceData]:
    """Rebuild the train/val/test sequences a finished train stage used (config and split from its manifest)."""
    manifest = read_manifest(train_dir)
    cfg = config_from_dict(manifest["config"])
    data, _, _, _ = split_data(cfg, manifest["split"])
    return data


def _figures(stage_dir: Path, test_m: dict[str, Any], test: SequenceData, label: str) -> dict[str, Path]:
    from sleepedge.train.plots import plot_confusion, plot_hypnogram

    night = test.records[0]
    rows = [i for i, r in enumerate(test.records) if r == night]
    return {
        "confusion": plot_confusion(np.asarray(test_m["confusion"]), stage_dir / "confusion.png",
                                    f"Test confusion ({label})", overwrite=True),
        "hypnogram": plot_hypnogram(test.y[rows].ravel(), test_m["y_pred"][rows].ravel(), stage_dir / "hypnogram.png",
                                    f"{night}: {label}", overwrite=True),
    }


def check_device(name: str) -> None:
    """``ConfigError`` when ``train.device`` names a device torch cannot use on this machine."""
    import torch

    from sleepedge.config.settings import ConfigError

    if name.startswith("cuda"):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.partition(":")[2] or 0)
        if index >= n:
            raise ConfigError(f"train.device = {name!r}: this machine has {n} usable CUDA device(s) "
                              f"(torch {torch.__version__}); use auto or cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("train.device = 'mps': not available on this machine; use auto or cpu")


def resolve_device(name: str) -> str:
    """``train.device`` checked and resolved: ``auto`` is ``cuda`` when CUDA is available, else ``cpu``."""
    import torch

    check_device(name)
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def resume_key(cfg: Config) -> dict[str, Any]:
    """The settings an unfinished train stage's ``train_state.pt`` depends on (a resume must match them)."""
    d = cfg.to_dict()
    return {"data": {k: v for k, v in d["data"].items() if k != "cache_dir"}, "model": d["model"],
            "train": {k: v for k, v in d["train"].items() if k not in ("threads", "device")}}


def run_train_stage(run_dir: str | Path, cfg: Config, overwrite: bool = False) -> dict[str, Any]:
    """Train the baseline named by ``cfg.model.arch`` and write ``RUN/train``; returns the manifest.

    The stage is built in ``RUN/.train.partial`` (a transaction, see :mod:`sleepedge.run.transaction`): an
    interrupted run resumes from the ``train_state.pt`` kept there when rerun with the same settings.
    """
    validate_split(cfg)  # before any data is read
    check_device(cfg.train.device)
    with stage_transaction(Path(run_dir) / STAGE, overwrite=overwrite, resume_key=resume_key(cfg)) as stage_dir:
        _build(stage_dir, cfg)
    return read_manifest(Path(run_dir) / STAGE)


def _build(stage_dir: Path, cfg: Config) -> None:
    from sleepedge.models import DeepSleepNet, get_arch, save_checkpoint

    from sleepedge.train.loop import evaluate, fit

    seed_everything(cfg.train.seed)
    data, split, ds_info, _ = split_data(cfg)
    log.info("sequences: train %d, val %d, test %d (seq_len %d)", len(data["train"]), len(data["val"]), len(data["test"]), cfg.data.seq_len)
    from sleepedge.train.objective import Schedule

    model = DeepSleepNet(get_arch(cfg.model.arch))
    if cfg.train.dropout is not None:
        model.set_dropout(cfg.train.dropout)
    result = fit(model, data["train"], data["val"], cfg.train, desc="train", state_path=stage_dir / "train_state.pt",
                 schedule=Schedule(cfg.train.schedule, warmup=cfg.train.warmup))
    test_m = evaluate(result.model, data["test"])
    metrics = {
        "test": {k: v for k, v in test_m.items() if k != "y_pred"},
        "val": result.best_val, "best_epoch": result.best_epoch, "epochs_run": len(result.history),
        "train_wall_s": result.wall_s, "params": sum(p.numel() for p in result.model.parameters()),
        "sequences": {k: len(v) for k, v in data.items()},
    }
    cfg_d = cfg.to_dict()
    out = {
        "model": save_checkpoint(stage_dir / "model.pt", result.model, config=cfg_d, meta={"dataset": ds_info, "split": split}, overwrite=True),
        "history": atomic_write_json(stage_dir / "history.json", result.history, overwrite=True),
        "metrics": atomic_write_json(stage_dir / "metrics.json", metrics, overwrite=True),
        "split": atomic_write_json(stage_dir / "split.json", split, overwrite=True),
        "test": data["test"].save(stage_dir / "test.npz", overwrite=True),
        "calib": data["train"].subset(stratified_sequences(data["train"].y, cfg.export.calib_sequences, seed=cfg.train.seed))
        .save(stage_dir / "calib.npz", overwrite=True),
    }
    out.update(_figures(stage_dir, test_m, data["test"], ds_info["label"]))
    write_manifest(stage_dir, STAGE, outputs=out, config=cfg_d, metrics=metrics, dataset=ds_info, seed=cfg.train.seed, split=split)
    (stage_dir / "train_state.pt").unlink(missing_ok=True)
    log.info("train stage done: test accuracy %.3f, macro-F1 %.3f, kappa %.3f", test_m["accuracy"], test_m["macro_f1"], test_m["kappa"])
