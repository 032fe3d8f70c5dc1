"""Bench settings resolved from the ``[bench]`` config section and the command line."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sleepedge.config.settings import BenchConfig, ConfigError

from sleepedge.firmware_bench.runtimes import KNOWN_RUNTIMES

XNNPACK_MODES = {"on": [True], "off": [False], "both": [False, True]}


@dataclass
class BenchSettings:
    """Everything that decides how a bench run measures.

    ``xnnpack`` lists the XNNPACK settings to bench TFLite models with ([False], [True] or both);
    ``reference`` names the row (``model/format/runtime``) ratios and agreement are computed against;
    ``yardstick`` the untrained paper-size DeepSleepNet row of the second set of ratios ("" = none).
    """

    threads: int = 1
    xnnpack: list[bool] = field(default_factory=lambda: [False])
    warmup: int = 3
    min_time_s: float = 2.0
    min_runs: int = 10
    rounds: int = 3
    runtimes: list[str] = field(default_factory=lambda: ["onnxruntime", "tflite", "torch"])
    reference: str = "baseline/onnx_fp32/onnxruntime"
    test_sequences: int = 0
    interleave: bool = True
    worker_timeout_s: float = 900.0
    yardstick: str = "deepsleepnet/onnx_fp32/onnxruntime"

    @classmethod
    def from_config(cls, cfg: BenchConfig, xnnpack: str | None = None) -> "BenchSettings":
        """Settings from a :class:`BenchConfig`; ``xnnpack`` ("on", "off", "both") overrides ``cfg.xnnpack``."""
        values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cls) if hasattr(cfg, f.name)}
        mode = xnnpack or ("on" if cfg.xnnpack else "off")
        if mode not in XNNPACK_MODES:
            raise ConfigError(f"xnnpack: expected one of {sorted(XNNPACK_MODES)}, got {mode!r}")
        values["xnnpack"] = XNNPACK_MODES[mode]
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Reject impossible values with a :class:`ConfigError` naming the key."""
        if self.threads < 1:
            raise ConfigError(f"bench.threads: must be >= 1, got {self.threads}")
        if self.rounds < 1 or self.min_runs < 1 or self.warmup < 0 or self.min_time_s < 0:
            raise ConfigError("bench.rounds and bench.min_runs must be >= 1, bench.warmup and bench.min_time_s >= 0")
        unknown = [r for r in self.runtimes if r not in KNOWN_RUNTIMES]
        if unknown:
            raise ConfigError(f"bench.runtimes: unknown {unknown} (known: {', '.join(KNOWN_RUNTIMES)})")
        if len(self.reference.split("/")) not in (3, 4):
            raise ConfigError(f"bench.reference: expected model/format/runtime, got {self.reference!r}")
        if self.yardstick and len(self.yardstick.split("/")) not in (3, 4):
            raise ConfigError(f"bench.yardstick: expected model/format/runtime or \"\", got {self.yardstick!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
