"""Fixtures of the check tests; helpers live in check_fixtures.py."""
from pathlib import Path

import pytest

from check_fixtures import make_run


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path)
