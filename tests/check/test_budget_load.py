"""Reading budgets: files, pyproject.toml, presets, extends/tighten, per-model and per-target tables."""
import pytest

from sleepedge.check import load_budget
from sleepedge.core.errors import BudgetError


def _budget(tmp_path, text, name="budget.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_extends_then_tightens(tmp_path):
    b = load_budget(_budget(tmp_path, 'extends = "nrf52840"\nmax_tflite_bytes = 786432\nmin_macro_f1 = 0.7\n'))
    r = b.resolve("compressed")
    assert r.limits == {"max_tflite_bytes": 786432, "max_arena_bytes": 262144, "min_macro_f1": 0.7}
    assert r.origins["max_arena_bytes"] == "preset nrf52840"
    assert r.origins["max_tflite_bytes"].endswith("budget.toml")
    assert r.notes == []


def test_loosening_a_preset_is_noted(tmp_path):
    r = load_budget(_budget(tmp_path, 'extends = "nrf52840"\nmax_arena_bytes = 300000\n')).resolve("m")
    assert r.limits["max_arena_bytes"] == 300000
    assert any("loosens max_arena_bytes of preset nrf52840" in n for n in r.notes)


def test_model_and_target_tables_refine_the_top(tmp_path):
    b = load_budget(_budget(tmp_path, """
max_params = 500000
min_macro_f1 = 0.6
[model.baseline]
max_params = 30000000
[target.watch]
extends = "nrf5340"
min_macro_f1 = 0.65
[target.watch.model.compressed]
min_macro_f1 = 0.7
[target.pi]
extends = "rpi4"
"""))
    assert b.target_names() == ["watch", "pi"]
    assert b.resolve("baseline").limits == {"max_params": 30_000_000, "min_macro_f1": 0.6}
    watch_c = b.resolve("compressed", "watch")
    assert watch_c.limits == {"max_params": 500000, "min_macro_f1": 0.7, "max_tflite_bytes": 1 << 20,
                              "max_arena_bytes": 512 << 10}
    assert b.resolve("baseline", "watch").limits["min_macro_f1"] == 0.65
    pi = b.resolve("compressed", "pi")
    assert pi.settings["latency_device"] == "aarch64" and pi.limits["max_latency_ms_p50"] == 1000


def test_pyproject_table_is_read(tmp_path):
    p = _budget(tmp_path, '[project]\nname = "x"\n\n[tool.sleepedge.budget]\nextends = "nrf52840"\nmax_params = 9\n',
                name="pyproject.toml")
    r = load_budget(p).resolve("m")
    assert r.limits["max_params"] == 9 and r.limits["max_arena_bytes"] == 262144
    assert "[tool.sleepedge.budget]" in r.origins["max_params"]


def test_pyproject_without_table(tmp_path):
    p = _budget(tmp_path, '[project]\nname = "x"\n', name="pyproject.toml")
    with pytest.raises(BudgetError, match=r"pyproject.toml: no \[tool.sleepedge.budget\] table"):
        load_budget(p)


def test_typo_in_a_model_table_names_the_table(tmp_path):
    with pytest.raises(BudgetError, match=r"\[model.compressed\]: unknown key 'min_macro_f' \(did you mean 'min_macro_f1'"):
        load_budget(_budget(tmp_path, "[model.compressed]\nmin_macro_f = 0.7\n"))


def test_unknown_preset_and_cycles(tmp_path):
    with pytest.raises(BudgetError, match=r"unknown preset \(did you mean 'nrf52840'"):
        load_budget(_budget(tmp_path, 'extends = "nrf52480"\nmax_params = 1\n'))
    _budget(tmp_path, 'extends = "b.toml"\nmax_params = 1\n', name="a.toml")
    _budget(tmp_path, 'extends = "a.toml"\nmax_params = 2\n', name="b.toml")
    with pytest.raises(BudgetError, match="cycle"):
        load_budget(tmp_path / "a.toml")


def test_extends_a_budget_file(tmp_path):
    _budget(tmp_path, 'extends = "nrf52840"\nmax_params = 100\n', name="team.toml")
    r = load_budget(_budget(tmp_path, 'extends = "team.toml"\nmin_kappa = 0.6\n')).resolve("m")
    assert r.limits == {"max_tflite_bytes": 1 << 20, "max_arena_bytes": 262144, "max_params": 100, "min_kappa": 0.6}


def test_malformed_and_empty_budgets(tmp_path):
    with pytest.raises(BudgetError, match="budget.toml: not valid TOML"):
        load_budget(_budget(tmp_path, "max_params = = 3\n"))
    with pytest.raises(BudgetError, match="sets no limits"):
        load_budget(_budget(tmp_path, 'description = "nothing"\n'))
    with pytest.raises(FileNotFoundError, match="nope.toml: budget file not found"):
        load_budget(tmp_path / "nope.toml")
    with pytest.raises(BudgetError, match=r"\[model\] must hold named tables"):
        load_budget(_budget(tmp_path, "model = 3\nmax_params = 1\n"))


def test_latency_limit_needs_a_device(tmp_path):
    with pytest.raises(BudgetError, match="max_latency_ms_p50 needs latency_device"):
        load_budget(_budget(tmp_path, "max_latency_ms_p50 = 50\n"))
    b = load_budget(_budget(tmp_path, 'max_latency_ms_p50 = 50\nlatency_device = "x86_64"\n'))
    assert b.resolve("m").settings["latency_device"] == "x86_64"
