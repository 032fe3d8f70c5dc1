"""Wall time of ``sleepedge predict`` on one night: the figure of docs/predict.md.

    python -m sleepedge.lab.predict_walltime --make-edf night.edf [--hours 8]     write a synthetic night (EDF)
    python -m sleepedge.lab.predict_walltime --edf night.edf --model M [--model M2] [--repeat 3] [--no-png]

The second form runs :func:`sleepedge.predict.run.predict_paths` (read with MNE, score, write CSV +
EDF+ + PNG) in this process and prints one JSON line: wall time and its parts (median over
``--repeat``), the first run separately (it pays MNE's and the runtime's imports). The night is the
synthetic generator's EEG (``sleepedge.train.synthetic``) written as an EDF with edfio; only the
``--make-edf`` form needs scipy's generator, so the timing form runs where ``sleepedge[predict]`` is
installed, e.g. under aarch64 emulation (scripts/aarch64_predict.sh).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_edf(path: str | Path, hours: float = 8.0, seed: int = 0) -> Path:
    """A single-channel ``EEG Fpz-Cz`` 100-Hz EDF of one synthetic night (``hours`` of sleep + 30 min wake each side)."""
    from edfio import Edf, EdfSignal, Patient, Recording

    from sleepedge.train.synthetic import synthetic_night

    night = synthetic_night(seed, 0, 1, hours)
    x = night.x.reshape(-1).astype(np.float64)
    lim = float(np.abs(x).max()) + 1.0
    start = dt.datetime(2024, 1, 1, 22, 0, 0)
    edf = Edf([EdfSignal(x, 100.0, label="EEG Fpz-Cz", physical_dimension="uV", physical_range=(-lim, lim))],
              patient=Patient(name="X"), recording=Recording(startdate=start.date()), starttime=start.time(),
              data_record_duration=30)
    edf.write(Path(path))
    return Path(path)


def time_predict(edf: Path, models: list[str], repeat: int, png: bool, threads: int = 1) -> dict:
    """Median wall time of ``repeat`` predictions of ``edf`` (and the first one)."""
    from sleepedge.firmware_bench.device import detect_emulation

    from sleepedge.predict.model import load_model
    from sleepedge.predict.run import predict_paths

    t0 = time.perf_counter()
    model = load_model(models, threads=threads)
    load_s = time.perf_counter() - t0
    runs = []
    with tempfile.TemporaryDirectory(prefix="sleepedge-walltime-") as tmp:
        for k in range(repeat):
            s = predict_paths(model, [edf], Path(tmp) / str(k), png=png)
            runs.append(s["nights"][0])
    keys = ("wall_s", "read_s", "score_s", "write_s")
    med = {k: float(np.median([r[k] for r in runs[1:] or runs])) for k in keys}
    return {"edf": str(edf), "epochs": runs[0]["epochs"], "model": model.describe(), "kind": model.kind,
            "load_model_s": load_s, "first": {k: runs[0][k] for k in keys}, "median": med, "repeat": repeat,
            "png": png, "emulated": detect_emulation()[0], "model_calls": runs[0]["model_calls"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--make-edf", default=None, help="write a synthetic night to this path and exit")
    p.add_argument("--hours", type=float, default=8.0)
    p.add_argument("--edf", default=None)
    p.add_argument("--model", action="append", default=[])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-png", action="store_true")
    a = p.parse_args(argv)
    if a.make_edf:
        print(make_edf(a.make_edf, a.hours))
        return 0
    if not a.edf or not a.model:
        p.error("--edf and --model are needed (or --make-edf)")
    print(json.dumps(time_predict(Path(a.edf), a.model, a.repeat, not a.no_png)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
