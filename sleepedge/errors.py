"""Errors the CLI reports as one clear line with exit status 2 (bad input), never as a traceback."""
from __future__ import annotations

from .config import ConfigError
from .runfolder import ManifestError, StageExistsError


class DataError(ValueError):
    """Bad input data: missing channel, wrong sampling rate, corrupt EDF, NaNs, mismatched hypnogram ..."""


class BudgetError(ValueError):
    """A malformed budget file (unknown key, unit mistake, bad value)."""


UserError = (ConfigError, ManifestError, StageExistsError, DataError, BudgetError, FileNotFoundError, FileExistsError)
