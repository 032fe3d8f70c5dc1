"""Test doubles for the compress tests: a fake fine-tune, a fake evaluate and random sequences,
so these tests do not depend on the training loop."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from sleepedge.core.metrics import classification_metrics
from sleepedge.train.sequences import SequenceData

LABEL = "SYNTHETIC data (test fixture)"


@dataclass
class FakeFit:
    """Stands in for ``sleepedge.train.loop.fit``: one real AdamW step, a one-entry history.

    ``fail_on`` = the call number (1-based) that raises, to simulate an interrupted sweep.
    """

    fail_on: int | None = None
    calls: list[str] = field(default_factory=list)

    def __call__(self, model, train, val, cfg, *, epochs=None, desc="train", state_path=None, **recipe_kwargs):
        self.calls.append(desc)
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise KeyboardInterrupt("simulated interruption")
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr)
        logits = model(torch.from_numpy(train.x[:2]))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), torch.from_numpy(train.y[:2]).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.eval()
        return type("R", (), {"model": model, "history": [{"epoch": 1, "train_loss": float(loss.detach())}], "best_epoch": 1})()


def fake_evaluate(model, data, batch_size: int = 64, device: str | None = None) -> dict[str, Any]:
    with torch.no_grad():
        y_pred = model.eval()(torch.from_numpy(data.x)).argmax(-1).numpy()
    return {**classification_metrics(data.y, y_pred), "y_pred": y_pred}


def random_data(n: int, seq: int, seed: int) -> SequenceData:
    rng = np.random.default_rng(seed)
    return SequenceData(rng.standard_normal((n, seq, 1, 3000)).astype(np.float32),
                        rng.integers(0, 5, (n, seq)).astype(np.int64), [f"r{i}" for i in range(n)],
                        np.arange(n, dtype=np.int64) % 3)
