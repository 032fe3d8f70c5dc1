"""PyTorch eager reference runtime.

Imported ONLY inside a bench worker subprocess (``runtimes.load_runner("torch", ...)``): the bench
process itself never imports torch, so it runs on a board without it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from sleepedge.firmware_bench.runner import Runner


def load(path: Path, threads: int) -> Runner:
    """Load a sleepedge checkpoint (``{"state_dict", "arch", ...}``) as an eval-mode model on the CPU."""
    import torch

    from sleepedge.models import load_checkpoint

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass
    model, _payload = load_checkpoint(path)
    model = model.to("cpu").eval()

    def run(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(x)).numpy().astype(np.float32, copy=False)

    return Runner(run, {"input_dtype": "float32", "version": torch.__version__})
