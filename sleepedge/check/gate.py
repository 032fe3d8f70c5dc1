"""``check_budget``: load a budget and a target, measure every limit, return the rows and verdict."""
from __future__ import annotations

import logging
from pathlib import Path

from sleepedge.core.errors import BudgetError

from sleepedge.check.evaluate import CheckResult, evaluate_limit
from sleepedge.check.load import Budget, load_budget
from sleepedge.check.measure import measure
from sleepedge.check.schema import LIMITS, suggest
from sleepedge.check.target import Target, load_target, select_models

log = logging.getLogger(__name__)
# The model names a pipeline run uses: a budget may refine them even for a target that lacks one.
STANDARD_MODELS = {"baseline", "compressed"}


def select_targets(budget: Budget, requested: list[str] | None) -> list[str | None]:
    """The budget's ``[target.*]`` tables to check: all of them by default, or the names asked for."""
    if not requested:
        return budget.target_names()
    for name in requested:
        if name not in budget.targets:
            known = list(budget.targets)
            raise BudgetError(f"{budget.source}: no [target.{name}] table"
                              + (suggest(name, known) if known else " (the budget has no target tables)"))
    return list(dict.fromkeys(requested))


def check_budget(budget: str | Path | Budget, target: str | Path | Target, *,
                 models: list[str] | None = None, targets: list[str] | None = None) -> CheckResult:
    """Check a run folder, export folder or .tflite file against a budget.

    Parameters
    ----------
    budget
        Budget TOML path, a pyproject.toml (``[tool.sleepedge.budget]``), a preset name, or a loaded budget.
    target
        Run folder, export folder or ``.tflite`` file (or a loaded :class:`Target`).
    models
        Models to check; default the deployable one (``compressed`` if the run has it, else
        ``baseline``); ``["all"]`` checks every model the target holds.
    targets
        Names of ``[target.*]`` tables to check; default all of them.

    Returns
    -------
    CheckResult
        One row per (target, model, limit); ``result.exit_code`` is 0 when all pass, 1 otherwise.

    Raises
    ------
    BudgetError, FileNotFoundError, ManifestError, DataError
        Bad input (the CLI's exit status 2).
    """
    b = budget if isinstance(budget, Budget) else load_budget(budget)
    t = target if isinstance(target, Target) else load_target(target)
    names = select_models(t, models)
    result = CheckResult(b.source, str(t.path), t.kind, names, [], notes=list(t.notes),
                         budget_files=[str(f) for f in b.files])
    _check_model_tables(b, t, names, result)
    for tg in select_targets(b, targets):
        for model in names:
            _check_pair(b, t, model, tg, result)
    if not result.rows:
        raise BudgetError(f"{b.source}: no limit applies to model(s) {', '.join(names)}")
    for note in result.notes:
        log.warning("%s", note)
    return result


def _check_model_tables(b: Budget, t: Target, names: list[str], result: CheckResult) -> None:
    """Refuse a ``[model.*]`` table that names no model (a typo); note the standard ones the target lacks."""
    unused = sorted(b.model_tables() - set(t.models) - set(names))
    unknown = [m for m in unused if m not in STANDARD_MODELS]
    if unknown:  # a typo such as [model.compresed] would silently drop its limits
        known = sorted(set(t.models) | STANDARD_MODELS)
        raise BudgetError(f"{b.source}: [model.{unknown[0]}] names no model of {t.path} "
                          f"(models: {', '.join(sorted(set(t.models))) or 'none'}){suggest(unknown[0], known)}")
    if unused:
        result.notes.append(f"model tables for models the target does not hold: {', '.join(unused)}")


def _check_pair(b: Budget, t: Target, model: str, tg: str | None, result: CheckResult) -> None:
    res = b.resolve(model, tg)
    result.notes += [n for n in res.notes if n not in result.notes]
    result.settings[f"{tg}/{model}" if tg else model] = res.settings
    if not res.limits:
        result.notes.append(f"no limit applies to model {model}" + (f" on target {tg}" if tg else ""))
    for key in LIMITS:  # schema order, so tables read the same every time
        if key in res.limits:
            m = measure(t, model, key, res.settings)
            result.rows.append(evaluate_limit(model, tg, key, res.limits[key], m, res.origins[key]))
