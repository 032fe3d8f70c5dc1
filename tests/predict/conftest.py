"""Predict fixtures: EDF writers of the train tests (edf_fixtures) and the tiny streaming run (tests/fixtures/plugin.py)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))  # edf_fixtures: one EDF writer for all tests
