"""Fine-tunes for the Ray tests. Ray workers import this module by name (tests/compress is on their
PYTHONPATH), so everything here is module level and picklable."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class KillOnceFit:
    """The real training loop, except that the worker process dies (``os._exit``) right after the
    first epoch's state of the fine-tune named ``step`` is saved, the first time only (``log`` records
    every call: the step, and whether its state file existed when the fine-tune started)."""

    step: str
    log: str

    def __call__(self, model, train, val, cfg, **kw):
        from sleepedge.train import loop

        path = Path(self.log)
        calls = json.loads(path.read_text()) if path.is_file() else []
        state = kw.get("state_path")
        calls.append({"desc": kw.get("desc"), "state_existed": bool(state and Path(state).is_file()), "pid": os.getpid()})
        path.write_text(json.dumps(calls))
        if kw.get("desc") == f"fine-tune {self.step}" and sum(c["desc"] == kw["desc"] for c in calls) == 1:
            save = loop._save_state

            def save_then_die(p, st):
                save(p, st)
                os._exit(1)  # like a node that vanishes: no exception, no cleanup

            loop._save_state = save_then_die
        return loop.fit(model, train, val, cfg, **kw)
