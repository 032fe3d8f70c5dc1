"""A loaded model behind one small interface (numpy in, numpy out): what every runtime loader returns.

Kept apart from the loaders (:mod:`.runtimes`) so that the streaming pair (:mod:`.stream`) and the PyTorch
reference (:mod:`.torch_runtime`) build runners without importing the loader that imports them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class Runner:
    """A loaded model: ``run(x)`` maps a float32 window ``(1, T, 1, 3000)`` to float32 logits ``(1, T, C)``.

    ``prepare`` / ``invoke`` split ``run`` for timing: ``prepare`` turns the float window into the model's
    input tensor (int8 quantisation for int8-input models, done once, as firmware would receive int8
    samples), ``invoke`` sets it, runs the model and reads the raw output tensor.
    """

    run: Callable[[np.ndarray], np.ndarray]
    info: dict[str, Any] = field(default_factory=dict)
    prepare: Callable[[np.ndarray], Any] = lambda x: x
    invoke: Callable[[Any], Any] | None = None

    def timed_call(self, x: np.ndarray) -> Callable[[], Any]:
        """The zero-argument call the timing harness measures for window ``x``."""
        if self.invoke is None:
            return lambda: self.run(x)
        prepared, invoke = self.prepare(x), self.invoke
        return lambda: invoke(prepared)
