"""Fixtures of the check tests; the fake run folders live in tests/fixtures/check_runs.py."""
from pathlib import Path

import pytest

from fixtures.check_runs import make_run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path)
