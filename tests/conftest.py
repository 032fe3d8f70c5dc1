"""Shared fixtures: the real-data folder here; the session-scoped runs and exports (and the tier markers that
follow from them) in tests/fixtures/plugin.py."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest_plugins = ["fixtures.plugin"]


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
