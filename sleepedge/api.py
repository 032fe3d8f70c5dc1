"""The public Python API: what the commands do, as functions for notebooks and scripts.

    >>> import sleepedge
    >>> cfg = sleepedge.load_config("tiny", ["data.dataset=synthetic"])
    >>> outcomes = sleepedge.run_pipeline("runs/nb", cfg)            # train, compress, export, bench, check
    >>> result = sleepedge.check_budget("wearable", "runs/nb")       # the CI gate, as an object
    >>> result.passed, [r.limit for r in result.failed]
    >>> model = sleepedge.load_model("runs/nb/export/compressed/tflite_int8.tflite")
    >>> summary = sleepedge.predict_recordings(model, ["night.edf"], out="scored/")

The names are not ``check`` and ``predict`` on purpose: those are the subpackages of the ``sleepedge
check`` and ``sleepedge predict`` commands, and Python sets a subpackage as an attribute of its parent
when it is imported, so a function of the same name would be replaced by the module as soon as anything
imported ``sleepedge.check`` (a test keeps every API name a function after every subpackage is loaded).

Each function is the library call behind one command and follows the same rules (stages are
transactions, bad input raises one of :data:`sleepedge.core.errors.UserError`), with no printing.
Importing :mod:`sleepedge` stays cheap: this module is loaded on first use of a name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from sleepedge.config.settings import Config, load_config

__all__ = ["check_budget", "load_config", "load_model", "predict_recordings", "run_pipeline"]


def run_pipeline(out: str | Path, config: Config | None = None, *, stages: Sequence[str] | None = None,
                 overwrite: bool = False, folds: int | str | None = None) -> Any:
    """Run the pipeline into the run folder ``out`` (``sleepedge pipeline``); resumes a stopped run.

    Parameters
    ----------
    out : the run folder.
    config : from :func:`load_config`; default the ``quick`` preset.
    stages : a subset of ``train, compress, export, bench, check`` (pipeline order is kept).
    overwrite : redo every stage (each finished stage is replaced only once its new version is complete).
    folds : subject-wise k-fold (``K`` or ``"all"``): returns ``kfold.json``'s content instead.

    Returns
    -------
    list of :class:`sleepedge.pipeline.pipeline.StageOutcome` (``stage``, ``status``, ``error`` ...), or the
    k-fold summary dict with ``folds``.
    """
    from sleepedge.core.errors import ConfigError
    from sleepedge.pipeline.pipeline import STAGES
    from sleepedge.pipeline.pipeline import run_pipeline as _run

    cfg = config if config is not None else load_config("quick")
    wanted = tuple(stages) if stages is not None else STAGES
    unknown = [s for s in wanted if s not in STAGES]
    if unknown or not wanted:
        raise ConfigError(f"stages {list(wanted)!r}: unknown or no stage(s) {unknown}; known: {', '.join(STAGES)}")
    chosen = tuple(s for s in STAGES if s in wanted)
    if folds is not None:
        from sleepedge.pipeline.kfold import run_kfold

        return run_kfold(out, cfg, folds, stages=chosen, overwrite=overwrite)
    from sleepedge.pipeline.kfold import refuse_other_kind

    refuse_other_kind(out, kfold=False)  # as the command: a plain run never goes into a k-fold folder
    return _run(out, cfg, overwrite=overwrite, stages=chosen)


def check_budget(budget: str | Path, target: str | Path, *, models: list[str] | None = None,
                 targets: list[str] | None = None):
    """Check a run folder, export folder or ``.tflite`` file against a budget (``sleepedge check``).

    ``budget`` is a TOML path, a ``pyproject.toml`` with ``[tool.sleepedge.budget]``, or a preset name
    (``wearable``, ``nrf52840``, ``nrf5340``, ``rpi4``); ``models`` and ``targets`` narrow the check.
    Returns a :class:`sleepedge.check.evaluate.CheckResult`: ``passed``, ``rows`` (one per limit), ``failed``.
    """
    from sleepedge.check.gate import check_budget as _check

    return _check(budget, target, models=models, targets=targets)


def load_model(path: str | Path, *more: str | Path, threads: int = 1, format: str | None = None):
    """Load an exported model: one window file, a streaming pair (two files), or an export model folder.

    ``format`` picks a file of a folder (e.g. ``tflite_int8``). Returns a
    :class:`sleepedge.predict.model.ExportedModel` for :func:`predict_recordings`.
    """
    from sleepedge.predict.model import load_model as _load

    return _load([path, *more], threads=threads, fmt=format)


def predict_recordings(model, recordings: Sequence[str | Path], out: str | Path, *, allow_untrained: bool = False,
                       **options: Any) -> dict[str, Any]:
    """Score EDF recordings (files or folders) into ``out`` (``sleepedge predict``); returns ``predict.json``.

    ``model`` is from :func:`load_model`. An untrained model (random weights, per its provenance) is
    refused unless ``allow_untrained``, as by the command. ``options`` are those of
    :func:`sleepedge.predict.run.predict_paths`: ``channel``, ``resample``, ``mode``, ``lag``, ``against``,
    ``png``, ``overwrite``, ``allow_non_eeg``.
    """
    from sleepedge.predict.provenance_check import refuse_untrained
    from sleepedge.predict.run import predict_paths

    refuse_untrained(model, allow_untrained)
    return predict_paths(model, list(recordings), out, **options)
