"""The floor plan, enforced: no import cycles, imports point down the layers, no private names across packages.

Every ``import`` in every module counts, lazy ones inside functions included (they run too). The layers,
from the ground up (docs/architecture.md draws them):

    sleepedge.core, sleepedge.run, sleepedge.config      ground floor: errors, metrics, run folders, config
    sleepedge.models, sleepedge.train (the data)          architectures and data
    train, compress, export, firmware_bench stages        one folder per stage (sleepedge.<stage>)
    sleepedge.check, sleepedge.predict                    the gate and the application over stage outputs
    sleepedge.pipeline                                    the only place that knows every stage
    sleepedge.commands                                    the command line
    sleepedge.lab                                         measurement tools behind the docs' figures
"""
from __future__ import annotations

import ast
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GROUND = ("sleepedge.core", "sleepedge.run", "sleepedge.config", "sleepedge.models")
DATA = ("sleepedge.train.night", "sleepedge.train.dataset", "sleepedge.train.cache", "sleepedge.train.sleep_edf",
        "sleepedge.train.synthetic", "sleepedge.train.synthetic_events", "sleepedge.train.synthetic_hypnogram",
        "sleepedge.train.hypnogram", "sleepedge.train.hypnogram_stats", "sleepedge.train.fetch")
STAGES = ("sleepedge.train", "sleepedge.compress", "sleepedge.export", "sleepedge.firmware_bench", "sleepedge.check")
ABOVE_STAGES = ("sleepedge.pipeline", "sleepedge.commands", "sleepedge.lab")


def _modules() -> dict[str, Path]:
    dirs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    out = {}
    for pkg, folder in dirs.items():
        for f in (REPO / folder).glob("*.py"):
            out[pkg if f.name == "__init__.py" else f"{pkg}.{f.stem}"] = f
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, str | None, int]]:
    """``(module, imported name or None, line)`` for every import statement of ``path``."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((sub, None, node.lineno) if sub in MODULES else (base, a.name, node.lineno))
    return out


def _owner(module: str) -> str | None:
    while module and module not in MODULES:
        module = module.rpartition(".")[0]
    return module or None


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in MODULES.items():
        for mod, _, _ in _imports(name, path):
            target = _owner(mod)
            if target and target != name:
                edges[name].add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []
    for root in MODULES:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def _in(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_there_are_modules_to_check():
    assert len(MODULES) > 100 and "sleepedge.run.transaction" in MODULES


def test_no_import_cycles():
    assert _cycles(_edges()) == []


def test_cycle_finder_finds_a_cycle():
    edges = defaultdict(set, {"sleepedge.core.errors": {"sleepedge.core.stats"}, "sleepedge.core.stats": {"sleepedge.core.errors"}})
    assert _cycles(edges) == [["sleepedge.core.errors", "sleepedge.core.stats"]]


def _violations(sources: tuple[str, ...], forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for src, targets in _edges().items():
        if not _in(src, sources):
            continue
        bad += [f"{src} -> {t}" for t in sorted(targets) if _in(t, forbidden) and not _in(t, allowed)]
    return bad


def test_ground_floor_and_data_import_no_stage_pipeline_or_cli():
    """Run folders, config, models and the data layer never import a stage, the pipeline, the CLI or the lab."""
    higher = STAGES + ABOVE_STAGES + ("sleepedge.predict",)
    assert _violations(GROUND, higher) == []
    assert _violations(DATA, higher, allowed=DATA) == []


def test_core_and_run_stand_alone():
    """The error types, metrics and run-folder machinery import nothing of sleepedge above them."""
    assert _violations(("sleepedge.core",), ("sleepedge",), allowed=("sleepedge.core",)) == []
    assert _violations(("sleepedge.run",), ("sleepedge",), allowed=("sleepedge.run", "sleepedge.core")) == []


def test_stages_and_applications_never_import_the_pipeline_cli_or_lab():
    sources = STAGES + ("sleepedge.predict", "sleepedge.models")
    assert _violations(sources, ABOVE_STAGES) == []


def test_pipeline_never_imports_the_cli_or_lab():
    assert _violations(("sleepedge.pipeline",), ("sleepedge.commands", "sleepedge.lab")) == []


def test_no_private_names_across_packages():
    bad = []
    for name, path in MODULES.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for mod, imported, line in _imports(name, path):
            target = _owner(mod)
            if target is None:
                continue
            target_package = target if MODULES[target].name == "__init__.py" else target.rsplit(".", 1)[0]
            leaf = imported or target.rsplit(".", 1)[-1]
            private = leaf.startswith("_") and not leaf.endswith("__")
            if private and target_package != package:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {imported or target} from {target}")
    assert bad == []


@pytest.mark.parametrize("module", ["sleepedge.core.errors", "sleepedge.run.manifest", "sleepedge.config.settings"])
def test_layer_modules_exist(module):
    assert module in MODULES
