"""Read a budget: a TOML file, ``[tool.sleepedge.budget]`` in a pyproject.toml, or a preset name.

Layout of a budget (every table optional)::

    extends = "nrf52840"          # presets (sleepedge/budgets/*.toml) or other budget files
    max_params = 500000           # flat keys apply to every model checked
    [model.compressed]            # refine for one model
    min_macro_f1 = 0.70
    [target.rpi4]                 # a named target: checked as its own set of rows
    extends = "rpi4"
    max_latency_ms_p50 = 40
    [target.rpi4.model.baseline]  # refine for one model on that target

Precedence, least specific first (a later layer overrides an earlier one key by key): the presets the
top extends, the top's own keys, ``[model.M]``, the presets ``[target.T]`` extends, ``[target.T]``'s own
keys, ``[target.T.model.M]``. So a target's preset refines the top-level defaults for that target, and
the file's own keys in a table override what that table extends. Where a preset and a key written in
the file disagree and the later one *loosens* the limit, the result's notes say so.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the API-identical backport
    import tomli as tomllib  # type: ignore[no-redef]

from sleepedge.core.errors import BudgetError

from sleepedge.check.schema import LIMITS, effective_settings, suggest, validate_table

log = logging.getLogger(__name__)
BUDGET_DIR = Path(__file__).resolve().parent.parent / "config" / "budgets"


@dataclass
class Layer:
    """Flat keys (limits and settings) from one table, and where they came from."""

    values: dict[str, Any]
    origin: str
    preset: bool = False
    models: dict[str, "Layer"] = field(default_factory=dict)  # a preset's own [model.M] tables


@dataclass
class Scope:
    """The top of a budget or one ``[target.T]`` table."""

    presets: list[Layer]
    own: Layer
    models: dict[str, Layer] = field(default_factory=dict)

    def layers(self, model: str) -> list[Layer]:
        """Presets (each followed by its own ``[model.M]`` table), then the table's own keys, then its ``[model.M]``
        table: least specific first."""
        presets = [lay for p in self.presets for lay in [p] + ([p.models[model]] if model in p.models else [])]
        return presets + [self.own] + ([self.models[model]] if model in self.models else [])


@dataclass
class Resolved:
    """The limits and settings that apply to one (model, target)."""

    limits: dict[str, float | int]
    origins: dict[str, str]
    settings: dict[str, Any]
    notes: list[str]
    growth: dict[str, dict[str, float | int]] = field(default_factory=dict)  # metric -> {key: value}
    growth_origins: dict[str, str] = field(default_factory=dict)  # "metric.key" -> table that set it


@dataclass
class Budget:
    """A loaded, validated budget. ``resolve(model, target)`` gives the limits for one pair."""

    source: str
    files: list[Path]
    top: Scope
    targets: dict[str, Scope]

    def target_names(self) -> list[str | None]:
        """The named targets, or ``[None]`` when the budget has no ``[target.*]`` table."""
        return list(self.targets) or [None]

    def model_tables(self) -> set[str]:
        names = set(self.top.models)
        for scope in [self.top, *self.targets.values()]:
            names |= set(scope.models)
            for p in scope.presets:
                names |= set(p.models)
        return names

    def resolve(self, model: str, target: str | None = None) -> Resolved:
        layers = self.top.layers(model)
        if target is not None:
            layers += self.targets[target].layers(model)
        return _merge(layers)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for the result JSON and the stage manifest."""
        def scope_dict(s: Scope) -> dict[str, Any]:
            return {"presets": [lay.origin for lay in s.presets], "own": s.own.values,
                    "model": {m: lay.values for m, lay in s.models.items()}}
        return {"source": self.source, "files": [str(f) for f in self.files], "top": scope_dict(self.top),
                "target": {t: scope_dict(s) for t, s in self.targets.items()}}


def _looser(key: str, new: float, old: float) -> bool:
    return new > old if LIMITS[key].bound == "max" else new < old


def _merge(layers: list[Layer]) -> Resolved:
    limits: dict[str, Any] = {}
    origins: dict[str, str] = {}
    settings: dict[str, Any] = {}
    notes: list[str] = []
    from_preset: set[str] = set()
    growth: dict[str, dict[str, Any]] = {}
    growth_origins: dict[str, str] = {}
    for layer in layers:
        for key, value in layer.values.items():
            if key == "growth":
                _merge_growth(value, layer.origin, growth, growth_origins)
                continue
            if key not in LIMITS:
                settings[key] = value
                continue
            if key in limits and (key in from_preset) != layer.preset and _looser(key, value, limits[key]):
                notes.append(f"{layer.origin} loosens {key} of {origins[key]} ({limits[key]} -> {value})")
            limits[key], origins[key] = value, layer.origin
            (from_preset.add if layer.preset else from_preset.discard)(key)
    return Resolved(limits, origins, effective_settings(settings), notes, growth, growth_origins)


def _merge_growth(tables: dict[str, dict[str, Any]], origin: str, growth: dict[str, dict[str, Any]],
                  origins: dict[str, str]) -> None:
    """``[growth.METRIC]`` keys of one layer over the earlier ones, key by key (like the flat limits)."""
    for metric, keys in tables.items():
        for key, value in keys.items():
            growth.setdefault(metric, {})[key] = value
            origins[f"{metric}.{key}"] = origin


def preset_names() -> list[str]:
    """Names of the preset budgets shipped in ``sleepedge/budgets``."""
    return sorted(p.stem for p in BUDGET_DIR.glob("*.toml"))


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error names the file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: budget file not found")
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BudgetError(f"{path}: not valid TOML ({exc})") from None


def _budget_table(path: Path) -> tuple[dict[str, Any], str]:
    """The budget table of a file and its display name (pyproject.toml: ``[tool.sleepedge.budget]``)."""
    doc = read_toml(path)
    if path.name != "pyproject.toml":
        return doc, str(path)
    table = doc.get("tool", {}).get("sleepedge", {}).get("budget")
    if not isinstance(table, dict):
        raise BudgetError(f"{path}: no [tool.sleepedge.budget] table")
    return table, f"{path} [tool.sleepedge.budget]"


def _preset_path(name: str, base_dir: Path, where: str) -> Path:
    if name.endswith(".toml"):
        return (base_dir / name).resolve()
    path = BUDGET_DIR / f"{name}.toml"
    if not path.is_file():
        what = f"{where} {name!r}: no such file and" if where == "--budget" else f"{where}: extends = {name!r}:"
        raise BudgetError(f"{what} unknown preset{suggest(name, preset_names())}")
    return path


def _preset_layers(names: list[str], base_dir: Path, where: str, files: list[Path],
                   chain: tuple[Path, ...]) -> list[Layer]:
    """Layers of the named presets, each preceded by the presets it extends itself."""
    layers: list[Layer] = []
    for name in names:
        path = _preset_path(name, base_dir, where)
        if path in chain:
            raise BudgetError(f"{where}: extends = {name!r} makes a cycle ({' -> '.join(p.name for p in chain)})")
        table, shown = _budget_table(path)
        values = validate_table(table, shown, allowed_tables=("growth", "model"))
        files.append(path)
        layers += _preset_layers(values.pop("extends", []), path.parent, shown, files, chain + (path,))
        origin = f"preset {name}" if not name.endswith(".toml") else str(path)
        models = {m: Layer(validate_table(body, f"{shown} [model.{m}]", allowed_tables=("growth",), allow_extends=False),
                           f"{origin} [model.{m}]", preset=True)
                  for m, body in values.pop("model", {}).items()}
        layers.append(Layer(values, origin, preset=True, models=models))
    return layers


def _scope(table: dict[str, Any], where: str, base_dir: Path, files: list[Path], chain: tuple[Path, ...],
           allow_targets: bool) -> tuple[Scope, dict[str, Any]]:
    tables = ("model", "target", "growth") if allow_targets else ("model", "growth")
    values = validate_table(table, where, allowed_tables=tables)
    presets = _preset_layers(values.pop("extends", []), base_dir, where, files, chain)
    models = {name: Layer(validate_table(body, f"{where} [model.{name}]", allowed_tables=("growth",),
                                         allow_extends=False),
                          f"{where} [model.{name}]")
              for name, body in values.pop("model", {}).items()}
    targets = values.pop("target", {})
    return Scope(presets, Layer(values, where), models), targets


def _check_complete(budget: Budget, where: str) -> None:
    """Refuse a budget without limits, and a latency limit that names no device."""
    pairs = [(m, t) for t in budget.target_names() for m in sorted(budget.model_tables() | {""})]
    resolved = [budget.resolve(m, t) for m, t in pairs]
    if not any(r.limits or r.growth for r in resolved):
        raise BudgetError(f"{where}: sets no limits (known limit keys: {', '.join(LIMITS)}; "
                          "or [growth.METRIC] tables)")
    for r in resolved:
        if "max_latency_ms_p50" in r.limits and not r.settings["latency_device"]:
            raise BudgetError(f"{r.origins['max_latency_ms_p50']}: max_latency_ms_p50 needs latency_device, the "
                              "device it applies to (e.g. 'x86_64', 'aarch64', or part of the CPU model name)")


def _looks_like_path(text: str) -> bool:
    """A path separator, a leading ``.`` or a ``.toml`` ending: meant as a file, never as a preset name."""
    seps = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return any(sep in text for sep in seps) or text.startswith(".") or text.lower().endswith(".toml")


def load_budget(source: str | Path) -> Budget:
    """Load and validate a budget: a TOML path, a pyproject.toml, or a preset name (e.g. ``"nrf52840"``).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    BudgetError
        Malformed TOML, an unknown key or preset, or a value whose unit is wrong.
    """
    path = Path(source)
    if _looks_like_path(str(source)) and not path.exists():  # "./wearable" is a missing file, never a preset
        raise FileNotFoundError(f"{source}: budget file not found")
    if not path.suffix and not path.exists():  # a preset name: a budget that extends just that preset
        files: list[Path] = []
        presets = _preset_layers([str(source)], Path.cwd(), "--budget", files, ())
        budget = Budget(str(files[0]), files, Scope(presets, Layer({}, f"preset {source}")), {})
        _check_complete(budget, str(files[0]))
        return budget
    path = path.resolve()
    table, where = _budget_table(path)
    files = [path]
    top, target_tables = _scope(table, where, path.parent, files, (path,), allow_targets=True)
    targets = {}
    for name, body in target_tables.items():
        scope, _ = _scope(body, f"{where} [target.{name}]", path.parent, files, (path,), allow_targets=False)
        targets[name] = scope
    budget = Budget(str(path), files, top, targets)
    _check_complete(budget, where)
    log.debug("budget %s: targets %s, model tables %s", path, list(targets), sorted(budget.model_tables()))
    return budget
