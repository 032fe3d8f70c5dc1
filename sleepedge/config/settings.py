"""Configuration: defaults in dataclasses, presets as TOML files, type-checked ``section.key=value`` overrides.

Unknown sections and keys are rejected with the offending name, and every key has a range
(``sleepedge.config.rules.RULES``) checked whenever it is set and once more on the resolved config.
The resolved config is written into every stage manifest.
"""
from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sleepedge.core.errors import ConfigError

PRESET_DIR = Path(__file__).parent / "presets"


@dataclass
class DataConfig:
    dataset: str = "sleep-edf"  # "sleep-edf" (real EDF files) or "synthetic" (offline simulator)
    data_dir: str = ""  # folder of SC*-PSG.edf + SC*-Hypnogram.edf; "" = MNE's download folder
    cache_dir: str = ""  # prepared-epoch cache; "" = <data_dir>/.sleepedge-cache or ~/.cache/sleepedge
    channel: str = "EEG Fpz-Cz"
    subjects: list[int] = field(default_factory=lambda: list(range(20)))  # Sleep-EDF-20
    sfreq: float = 100.0
    trim_wake_min: float = 30.0  # keep this much wake before the first / after the last sleep epoch
    seq_len: int = 10  # epochs per sequence fed to the BiLSTM
    val_subjects: int = 2
    test_subjects: int = 2
    fold: int = -1  # >= 0: k-fold by subject, this fold is the test fold
    n_folds: int = 20
    split_seed: int = 0
    synthetic_subjects: int = 10  # synthetic only: subjects (two nights each)
    synthetic_hours: float = 2.0  # synthetic only: hours of sleep period per night (wake margins excluded); 0 = drawn from real nights
    synthetic_seed: int = 0  # synthetic only: generator seed (nights are a function of seed, subject, night)
    resample: bool = False  # resample a channel recorded at another rate to sfreq (otherwise refuse it)
    # synthetic only: subjects with one night (Sleep-EDF-20's subject 13 has one: 39 nights), after the keys above
    synthetic_single_night: list[int] = field(default_factory=list)


@dataclass
class ModelConfig:
    arch: str = "quick"  # preset name in sleepedge.models.presets


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 16
    lr: float = 1e-4  # the paper's AdamW learning rate
    weight_decay: float = 1e-2
    grad_clip: float = 5.0
    patience: int = 5  # early stopping on validation macro-F1
    class_weights: str = "inverse_sqrt"  # "none", "inverse", "inverse_sqrt" (of train class frequencies)
    device: str = "auto"  # "auto" = cuda when available, else cpu
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0 = torch default
    max_minutes: float = 0.0  # stop training after this wall time (0 = no limit)
    dropout: float | None = None  # dropout rate while training the baseline ("auto" = the architecture's 0.5)
    schedule: str = "constant"  # learning rate of baseline training: constant, or cosine (linear warm-up, then cosine decay)
    warmup: float = 0.0  # share of the optimiser steps spent warming up (cosine only)
    # GPU only (train/accelerate.py); a CPU run ignores these three and stays bit-identical:
    amp: bool = True  # bf16 autocast on CUDA
    gpu_batch_size: int = 0  # sequences per batch on CUDA; 0 = batch_size
    gpu_lr_scaling: str = "sqrt"  # lr x (gpu_batch_size / batch_size) ** {none: 0, sqrt: 1/2, linear: 1} on CUDA


@dataclass
class CompressConfig:
    # The method: a named recipe (compress/recipes.py: "sleepedge" = the toolkit's default, "paper" = the seed
    # paper's plain method); each ingredient below set to "auto" takes the recipe's value, anything else overrides it.
    recipe: str = "sleepedge"
    importance: str = "auto"  # stage-1 channel importance: l1, bn_l1, taylor
    distill_alpha: float | None = None  # weight of the teacher's soft targets in every fine-tune (0 = labels only)
    distill_temperature: float | None = None  # softening temperature of the soft targets
    schedule: str = "auto"  # learning rate within a fine-tune: constant, cosine (warm-up then cosine decay)
    finetune_patience: int | None = None  # early stop a fine-tune after this many epochs without a better val macro-F1 (0 = never)
    epochs_per_removed: float | None = None  # fine-tune epochs per 100 % of the parent's MACs or parameters (the larger share) a step removes (0 = the fixed per-stage epochs)
    finetune_dropout: float | None = None  # dropout rate while fine-tuning the smaller model (-1 = the architecture's own 0.5)
    compare_recipes: list[str] = field(default_factory=lambda: ["paper"])  # also run these along the selected model's path, side by side
    taylor_batches: int = 16  # training batches for the taylor importance
    stage1_step: float = 0.05
    stage1_max: float = 0.80
    stage1_finetune_epochs: int = 2
    stage2_from: list[float] = field(default_factory=lambda: [0.0, 0.2, 0.4, 0.6, 0.8])
    hidden_step: int = 128
    hidden_floor: int = 128
    hidden_extra: list[int] = field(default_factory=list)  # sizes below the floor to try as well, e.g. [64, 32]
    stage2_finetune_epochs: int = 3
    margin_points: float = 1.0  # selection: smallest model non-inferior at this margin (the paired validation CI's lower end of the accuracy AND macro-F1 deltas >= -margin)
    min_accuracy: float = 0.0  # selection: or at least this accuracy (0 = unused)
    finetune_lr: float = 1e-4  # AdamW peak learning rate of the sleepedge recipe's fine-tunes (the paper recipe always uses 1e-4)
    keep_pruned_if_better: bool = True  # a step keeps its un-fine-tuned weights when they beat fine-tuning on val macro-F1
    # The causal head (stage 3, compress/causal.py): a unidirectional-LSTM copy of the selected model for true
    # streaming, distilled from it, one step per look-ahead k (decision for epoch t made after epoch t + k). [] = off.
    causal_lookaheads: list[int] = field(default_factory=list)
    causal_hidden: int = 0  # LSTM units of the causal head; 0 = the selected model's hidden size (else at most that)
    causal_epochs: int = 30  # training epochs (passes over the training nights); the best by streaming val macro-F1 is kept
    causal_lr: float = 1e-3  # AdamW learning rate (constant)
    causal_chunk: int = 64  # truncated BPTT: epochs per chunk (the state is carried, detached, across chunks of a night)
    causal_distill_alpha: float = 0.5  # weight of the bidirectional teacher's soft targets (0 = labels only)
    causal_temperature: float = 2.0  # softening temperature of the soft targets
    causal_margin_points: float = 1.0  # look-ahead selection: smallest k whose paired val macro-F1 CI vs the parent has lower end >= -margin
    causal_cell_bound: float = 8.0  # |c| above this is penalised at each chunk's end (compress/causal.py cell_excess)
    causal_cell_penalty: float = 0.1  # weight of that penalty; 0 = off (measured on the demo: |c| 342 -> 12, no drift)


@dataclass
class ExportConfig:
    formats: list[str] = field(default_factory=lambda: ["onnx_fp32", "tflite_fp32", "tflite_int8",
                                                        "tflite_int8_unrolled", "stream_onnx_fp32",
                                                        "stream_tflite_int8", "stateful_onnx_fp32",
                                                        "stateful_tflite_int8"])
    opset: int = 17
    parity_tol: float = 1e-4
    calib_sequences: int = 64  # class-stratified real training sequences for int8 calibration
    test_sequences: int = 0  # 0 = every test sequence
    tflm: bool = True
    timeout_s: int = 1800
    tflite_parity_tol: float = 1e-3  # max |logit diff| TFLite fp32 vs PyTorch (int8 rows: reported, no limit)
    calib_seed: int = 0  # tie-break seed of the class-stratified calibration sample
    int8_attempts: int = 10  # quantise again while TensorFlow leaves a float operator inside an integer model (export/int8_convert.py)
    calib_clip_percentile: float = 99.9  # clip calibration inputs at this percentile of |x| (sets the int8 input range); 100 = min/max
    tflm_max_arena: int = 67108864  # bytes of the TFLite Micro arena for the measuring run
    c_array: bool = True  # write model_data.cc / model_data.h for the int8-I/O TFLite model
    # The yardstick: paper-size DeepSleepNet with seeded random weights ("untrained reference"), exported beside the
    # run's models with the run's window, for latency/size/memory ratios. "" = none. ONNX (seconds) and TFLite fp32
    # through tf_keras (about 30 s on 2 cores; onnx2tf's conversion of it took 12.5 min), so that every .tflite row
    # is also compared with DeepSleepNet run by the same interpreter (docs/yardstick.md).
    reference_arch: str = "paper"
    reference_formats: list[str] = field(default_factory=lambda: ["onnx_fp32", "tflite_fp32"])
    reference_seed: int = 0
    reference_test_sequences: int = 4  # parity of the reference's files is checked on this many test sequences
    model_card: bool = True  # MODEL_CARD.md beside every exported model (figures from the rows and manifests)


@dataclass
class BenchConfig:
    threads: int = 1
    xnnpack: bool = False
    warmup: int = 3
    min_time_s: float = 2.0
    min_runs: int = 10
    rounds: int = 3  # interleaved A, B, A, B ... rounds
    runtimes: list[str] = field(default_factory=lambda: ["onnxruntime", "tflite", "torch"])
    # "tflite" = ai-edge-litert, else tflite-runtime; name "ai-edge-litert" / "tflite-runtime" to pick one.
    reference: str = "baseline/onnx_fp32/onnxruntime"  # row (model/format/runtime) the ratios and agreement refer to
    test_sequences: int = 0  # test sequences scored (and packed into a bundle); 0 = all
    interleave: bool = True  # keep one worker per model alive and time them A, B, A, B ...; False = one at a time
    worker_timeout_s: float = 900.0  # a worker that does not answer a request within this is reported failed
    # second set of ratios, against the untrained paper-size DeepSleepNet the export adds ("" = none)
    yardstick: str = "deepsleepnet/onnx_fp32/onnxruntime"


@dataclass
class CheckConfig:
    budget: str = ""  # path of a budget TOML; "" = the preset budget below
    preset: str = "wearable"  # budget preset in sleepedge/budgets (nrf52840, nrf5340, rpi4, wearable)


@dataclass
class Config:
    name: str = "default"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    compress: CompressConfig = field(default_factory=CompressConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)
    check: CheckConfig = field(default_factory=CheckConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


SECTIONS = {f.name: f for f in dataclasses.fields(Config) if f.name != "name"}


AUTO = "auto"  # the TOML / command-line spelling of an optional key left to its default (None)


def _optional_inner(tp: Any) -> Any:
    """``T`` for ``T | None``, else None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check/convert one value against a dataclass field type; ``ConfigError`` names ``where``."""
    inner = _optional_inner(tp)
    if inner is not None:
        return None if value is None or (isinstance(value, str) and value.strip().lower() in (AUTO, "")) \
            else _coerce(value, inner, where)
    origin = typing.get_origin(tp)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip() != ""]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item_tp, where) for v in value]
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "false", "0", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ValueError
        if tp is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if tp is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if tp is str:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {value!r}") from None
    return value


def _apply_section(obj: Any, values: dict[str, Any], section: str) -> None:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"unknown key {section}.{key} (known: {', '.join(sorted(names))})")
        value = _coerce(value, hints[key], f"{section}.{key}")
        _check_rule(f"{section}.{key}", value)
        setattr(obj, key, value)


def _check_rule(key: str, value: Any) -> None:
    """The key's range from ``config_rules.RULES`` (one table for every key)."""
    from sleepedge.config.rules import RuleError, check_key

    try:
        check_key(key, value)
    except RuleError as exc:
        raise ConfigError(f"{key} = {value!r}: {exc}") from None


def validate_config(cfg: Config) -> Config:
    """Check every key against its rule and the rules across keys; ``ConfigError`` names the key(s)."""
    from sleepedge.config.rules import cross_key_problems

    _check_rule("name", cfg.name)
    for section in SECTIONS:
        for f in dataclasses.fields(getattr(cfg, section)):
            _check_rule(f"{section}.{f.name}", getattr(getattr(cfg, section), f.name))
    problems = cross_key_problems(cfg)
    if problems:
        raise ConfigError("; ".join(problems))
    return cfg


def validate_split(cfg: Config) -> Config:
    """The subject-split rules (``config_rules.split_problems``), for commands that train."""
    from sleepedge.config.rules import split_problems

    problems = split_problems(cfg)
    if problems:
        raise ConfigError("; ".join(problems))
    return cfg


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """Apply ``section.key=value`` overrides to ``cfg`` in place, then validate the result."""
    for text in overrides:
        section, key, value = parse_override(text)
        apply_dict(cfg, {section: {key: value}}, source=f"override {text!r}")
    return validate_config(cfg)


def apply_dict(cfg: Config, values: dict[str, Any], source: str = "config") -> Config:
    """Apply a nested ``{section: {key: value}}`` dict to ``cfg`` in place."""
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: expected a table of sections, got {type(values).__name__}")
    for section, body in values.items():
        if section == "name":
            if not isinstance(body, str):
                raise ConfigError(f"{source}: name must be text, got {body!r}")
            _check_rule("name", body)
            cfg.name = body
            continue
        if section not in SECTIONS:
            raise ConfigError(f"{source}: unknown section [{section}] (known: {', '.join(sorted(SECTIONS))})")
        if not isinstance(body, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        _apply_section(getattr(cfg, section), body, section)
    return cfg


def parse_override(text: str) -> tuple[str, str, str]:
    """``"train.epochs=3"`` -> ``("train", "epochs", "3")``."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"override {text!r}: expected section.key=value, e.g. train.epochs=3")
    lhs, value = text.split("=", 1)
    section, key = lhs.strip().split(".", 1)
    if not section or not key:
        raise ConfigError(f"override {text!r}: expected section.key=value, e.g. train.epochs=3")
    return section, key, value.strip()


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_config(preset: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then a preset (a name in ``sleepedge/presets`` or a TOML path), then overrides."""
    cfg = Config()
    if preset:
        path = Path(preset)
        if not path.suffix:
            path = PRESET_DIR / f"{preset}.toml"
            if not path.is_file():
                raise ConfigError(f"unknown preset {preset!r} (known: {', '.join(preset_names())})")
        try:
            values = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read preset ({exc})") from None
        apply_dict(cfg, values, source=str(path))
        if cfg.name == "default":
            cfg.name = path.stem
    return apply_overrides(cfg, list(overrides or []))


def config_from_dict(d: dict[str, Any]) -> Config:
    """Rebuild a :class:`Config` from ``to_dict()`` output (e.g. read back from a manifest)."""
    return validate_config(apply_dict(Config(), d, source="manifest config"))
