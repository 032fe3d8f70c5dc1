"""Errors the CLI reports as one clear line with exit status 2 (bad input), never as a traceback.

See :func:`sleepedge.commands.cli.run_command` for the whole policy.
"""
from __future__ import annotations



class ConfigError(ValueError):
    """Bad preset, unknown key or a value of the wrong type."""


class StageExistsError(FileExistsError):
    """A finished stage folder is in the way and ``overwrite`` was not given."""


class ManifestError(ValueError):
    """A manifest is missing, malformed, or does not match the files on disk."""


class DataError(ValueError):
    """Bad input data: missing channel, wrong sampling rate, corrupt EDF, NaNs, mismatched hypnogram ..."""


class BudgetError(ValueError):
    """A malformed budget file (unknown key, unit mistake, bad value)."""


# OSError covers a missing file, a file in the way, a folder that is a file, a permission problem and
# RunLockedError (another command holds the run folder): each names the path it concerns.
UserError = (ConfigError, ManifestError, StageExistsError, DataError, BudgetError, OSError)
