"""A wall-clock deadline for long runs: no fine-tune starts after it, so a run stops cleanly.

:class:`DeadlineFit` wraps the training loop's ``fit`` for ``run_compress_stage(finetune=...)``. Every
step that finished before the deadline is saved as usual (``step.json``); the first step that would
start a fine-tune after it raises :class:`DeadlineExceeded` (in a Ray task too: the instance is
picklable and the clock is the machine's wall clock). Rerunning without a deadline resumes the sweep.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable


class DeadlineExceeded(RuntimeError):
    """The time budget was used up before a fine-tune could start."""


@dataclass(frozen=True)
class DeadlineFit:
    """``fit`` that refuses to start after ``deadline`` (``time.time()`` seconds).

    Attributes
    ----------
    deadline : wall-clock time after which no fine-tune starts.
    fit : the fit to call (default :func:`sleepedge.train.loop.fit`); must be picklable for Ray.
    """

    deadline: float
    fit: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if time.time() > self.deadline:
            raise DeadlineExceeded(f"time budget used up before {kwargs.get('desc', 'a fine-tune')}")
        if self.fit is not None:
            return self.fit(*args, **kwargs)
        from sleepedge.train.loop import fit

        return fit(*args, **kwargs)
