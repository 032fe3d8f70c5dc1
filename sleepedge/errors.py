"""Errors the CLI reports as one clear line with exit status 2 (bad input), never as a traceback.

See :func:`sleepedge.cli.run_command` for the whole policy.
"""
from __future__ import annotations

from .config import ConfigError
from .runfolder import ManifestError, StageExistsError


class DataError(ValueError):
    """Bad input data: missing channel, wrong sampling rate, corrupt EDF, NaNs, mismatched hypnogram ..."""


class BudgetError(ValueError):
    """A malformed budget file (unknown key, unit mistake, bad value)."""


# OSError covers a missing file, a file in the way, a folder that is a file, a permission problem and
# RunLockedError (another command holds the run folder): each names the path it concerns.
UserError = (ConfigError, ManifestError, StageExistsError, DataError, BudgetError, OSError)
