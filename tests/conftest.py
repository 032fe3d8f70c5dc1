"""Shared fixtures: the real-data folder, tiny configs, and one session-scoped tiny pipeline run."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$SLEEPEDGE_SHARED_DATA`` or ``../shared/data`` beside the repository."""
    env = os.environ.get("SLEEPEDGE_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sleep_edf_shared() -> Path:
    """The real Sleep-EDF material (hypnogram EDFs and label files). CI must have it: a missing folder
    fails the test instead of skipping it, unless SLEEPEDGE_ALLOW_MISSING_SHARED=1 is set."""
    d = shared_data_dir() / "sleep-edf"
    if not (d / "hypnograms_edf").is_dir():
        if os.environ.get("SLEEPEDGE_ALLOW_MISSING_SHARED") == "1":
            pytest.skip(f"{d} not present (SLEEPEDGE_ALLOW_MISSING_SHARED=1)")
        pytest.fail(f"real Sleep-EDF material not found at {d}; set SLEEPEDGE_SHARED_DATA")
    return d


@pytest.fixture(scope="session")
def stream_run(tmp_path_factory) -> Path:
    """Run folder whose export holds tiny window + streaming ONNX models and the untrained paper-size reference
    (deploy_fixtures.build_stream_run); do not write into it."""
    import torch

    from deploy_fixtures import build_stream_run

    torch.set_num_threads(1)
    return build_stream_run(tmp_path_factory.mktemp("stream") / "run")
