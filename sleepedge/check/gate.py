"""``check_budget``: load a budget and a target, measure every limit, return the rows and verdict."""
from __future__ import annotations

import logging
from pathlib import Path

from sleepedge.core.errors import BudgetError

from sleepedge.check.compare import Snapshot, compare, evaluate_growth, read_result_json
from sleepedge.check.evaluate import CheckResult, evaluate_limit
from sleepedge.check.load import Budget, load_budget
from sleepedge.check.measure import measure
from sleepedge.check.schema import LIMITS, suggest
from sleepedge.check.target import Target, load_target, select_models
from sleepedge.firmware_bench.provenance import provenance_notes

log = logging.getLogger(__name__)
# The model names a pipeline run uses: a budget may refine them even for a target that lacks one.
STANDARD_MODELS = {"baseline", "compressed", "causal"}  # causal: the compressed model's causal head (issue 21)


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
                 models: list[str] | None = None, targets: list[str] | None = None,
                 against: str | Path | None = None, details: bool = False,
                 instructions: bool = False) -> CheckResult:
    """Check a run folder, export folder or .tflite file against a budget.

    Parameters
    ----------
    budget, target
        Budget TOML, pyproject.toml (``[tool.sleepedge.budget]``), preset name or loaded budget; run
        folder, export folder or ``.tflite`` file (or a loaded :class:`Target`).
    models, targets
        Models to check (default the deployable one: ``compressed`` if the run has it, else ``baseline``;
        ``["all"]`` every model); names of ``[target.*]`` tables to check (default all).
    against, details, instructions
        A base to compare with (a result JSON of ``check --json``, a run or export folder: adds
        ``result.comparison`` and the growth rows); record every metric and the per-layer attribution
        (``result.metrics``, ``result.layers``; implied by ``against``); count instructions per epoch
        (callgrind; implied by a limit on them). docs/budget.md, "Against a base".

    Returns
    -------
    CheckResult
        One row per (target, model, limit); ``exit_code`` 0 when none fails, else 1. Bad input raises
        (BudgetError, FileNotFoundError, ManifestError, DataError: the CLI's exit status 2).
    """
    b = budget if isinstance(budget, Budget) else load_budget(budget)
    t = target if isinstance(target, Target) else load_target(target)
    names = select_models(t, models) + ([] if models else stateful_models(b, t))
    result = CheckResult(b.source, str(t.path), t.kind, names, [], notes=list(t.notes), budget_files=[str(f) for f in b.files])
    _check_model_tables(b, t, names, result)
    result.notes += provenance_notes(names, t.export_files, t.tflite_file)  # trained on synthetic data, or untrained
    tgs = select_targets(b, targets)
    instructions = instructions or _counts_instructions(b, names, tgs)
    if details or against is not None:
        result.metrics, result.layers = snapshot(b, t, names, instructions)
    _check_all(b, t, names, tgs, against, instructions, result)
    for note in result.notes:
        log.warning("%s", note)
    return result


def stateful_models(b: Budget, t: Target) -> list[str]:
    """Models the budget checks by default besides the deployable one: those whose ``[model.M]`` table names a
    stateful format (the wearable's causal head) and that the target holds; their rows then fail closed."""
    from sleepedge.check.schema import STATEFUL_FORMATS

    return sorted(m for m in b.model_tables() if m in t.models and m != t.deployable
                  and any(b.resolve(m, tg).settings["format"] in STATEFUL_FORMATS for tg in b.target_names()))


def _check_all(b: Budget, t: Target, names: list[str], tgs: list[str | None], against: str | Path | None,
               instructions: bool, result: CheckResult) -> None:
    """The absolute limits of every (target, model), then the growth limits against the base."""
    for tg in tgs:
        for model in names:
            _check_pair(b, t, model, tg, result)
    has_growth = any(b.resolve(m, tg).growth for tg in tgs for m in names)
    if against is not None:
        _against(b, t, names, tgs, against, instructions, result)
    elif has_growth:
        result.notes.append("growth limits not checked: no base to compare with (--against BASE)")
    if not result.rows and not has_growth:
        raise BudgetError(f"{b.source}: no limit applies to model(s) {', '.join(names)}")


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


def _counts_instructions(b: Budget, names: list[str], tgs: list[str | None]) -> bool:
    """Whether any limit or growth limit that applies needs instructions per epoch (then they are measured)."""
    res = [b.resolve(m, tg) for tg in tgs for m in names]
    return any("max_instructions_per_epoch" in r.limits or "instructions_per_epoch" in r.growth for r in res)


def snapshot(b: Budget, t: Target, names: list[str], instructions: bool) -> tuple[dict, dict]:
    """``(metrics, layers)`` of the models ``names`` of ``t``, under the budget's top-level settings."""
    from sleepedge.check.layers import attribute
    from sleepedge.check.measure import export_row, model_file
    from sleepedge.check.metrics import collect_metrics

    metrics, layers = {}, {}
    for model in names:
        settings = b.resolve(model).settings
        metrics[model] = collect_metrics(t, model, settings, instructions)
        if t.kind == "tflite":
            layers[model] = attribute(t.tflite_file, None)
            continue
        row, why = export_row(t, model, settings["format"])
        path = model_file(t, model, settings["format"]) if row is not None else None
        layers[model] = attribute(path, row)
        if row is None:
            layers[model]["notes"].append(f"no {settings['format']} file to attribute: {why}")
    return metrics, layers


def load_base(b: Budget, against: str | Path, names: list[str], instructions: bool) -> Snapshot:
    """The base side: a result JSON as recorded, or a run/export folder (or .tflite) measured now."""
    path = Path(against)
    if not path.exists():
        raise FileNotFoundError(f"{path}: --against base not found")
    if path.is_file() and path.suffix.lower() == ".json":
        return read_result_json(path)
    bt = load_target(path)
    if bt.kind == "tflite" and len(names) == 1:  # a file against a file: the one model of each side
        m, lay = snapshot(b, bt, bt.models, instructions)
        return Snapshot(str(path), {names[0]: m[bt.models[0]]}, {names[0]: lay[bt.models[0]]})
    m, lay = snapshot(b, bt, [n for n in names if n in bt.models], instructions)
    return Snapshot(str(path), m, lay)


def _against(b: Budget, t: Target, names: list[str], tgs: list[str | None], against: str | Path,
             instructions: bool, result: CheckResult) -> None:
    """The comparison with the base and one row per growth limit (after the absolute limits)."""
    base = load_base(b, against, names, instructions)
    new = Snapshot(str(t.path), result.metrics, result.layers)
    result.comparison = compare(base, new)
    for tg in tgs:
        for model in names:
            res = b.resolve(model, tg)
            for metric, keys in res.growth.items():
                for key, limit in keys.items():
                    result.rows.append(evaluate_growth(model, tg, metric, key, limit, base, new,
                                                       res.growth_origins[f"{metric}.{key}"]))
