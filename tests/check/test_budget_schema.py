"""Budget keys carry their unit; values that do not fit it, and unknown keys, are refused."""
import pytest

from sleepedge.check.load import load_budget, preset_names
from sleepedge.check.measure import measure
from sleepedge.check.schema import LIMITS, check_limit_value, effective_settings, validate_table
from sleepedge.check.target import Target
from sleepedge.core.errors import BudgetError


@pytest.mark.parametrize("key, value, match", [
    ("max_tflite_bytes", "1 MB", r"max_tflite_bytes = '1 MB' is text.*bytes"),
    ("max_arena_bytes", 262144.5, "not a number with decimals"),
    ("max_params", -5, "must not be negative"),
    ("max_tflite_bytes", -1, "must not be negative"),
    ("min_macro_f1", 70, r"fraction in 0\.\.1.*did you mean 0\.7\?"),
    ("max_int8_disagreement", 1.5, r"fraction in 0\.\.1"),
    ("min_kappa", 1.2, r"-1\.\.1"),
    ("max_accuracy_drop_points", 150, r"0\.\.100"),
    ("max_latency_ms_p50", True, "milliseconds"),
    ("max_latency_ms_p50", "50ms", "is text"),
])
def test_unit_mistakes_are_refused_naming_file_and_key(key, value, match):
    with pytest.raises(BudgetError, match=match) as err:
        validate_table({key: value}, "budget.toml")
    assert str(err.value).startswith("budget.toml: ")


def test_good_values_are_normalised():
    out = validate_table({"max_tflite_bytes": 1e6, "max_latency_ms_p50": 12.5, "min_kappa": -0.1,
                          "min_macro_f1": 0.7, "extends": "nrf52840"}, "b.toml")
    assert out["max_tflite_bytes"] == 1_000_000 and isinstance(out["max_tflite_bytes"], int)
    assert out["extends"] == ["nrf52840"]
    assert check_limit_value("max_int8_disagreement", 0, "b.toml") == 0


def test_unknown_key_suggests_the_closest():
    with pytest.raises(BudgetError, match=r"unknown key 'max_tflite_byte' \(did you mean 'max_tflite_bytes'\?\)"):
        validate_table({"max_tflite_byte": 5}, "b.toml")
    with pytest.raises(BudgetError, match="known keys: .*max_params"):
        validate_table({"zzz": 5}, "b.toml")


def test_settings_are_checked():
    with pytest.raises(BudgetError, match="format = 'onnx_fp32'"):
        validate_table({"format": "onnx_fp32"}, "b.toml")
    with pytest.raises(BudgetError, match="latency_threads"):
        validate_table({"latency_threads": 0}, "b.toml")
    with pytest.raises(BudgetError, match="extends is allowed only"):
        validate_table({"extends": "rpi4"}, "b.toml [model.x]", allow_extends=False)


def test_derived_settings_follow_the_format():
    s = effective_settings({"format": "tflite_fp32"})
    assert (s["latency_runtime"], s["latency_precision"], s["baseline_format"]) == ("tflite", "fp32", "tflite_fp32")
    s = effective_settings({})
    assert (s["format"], s["latency_precision"], s["latency_threads"]) == ("tflite_int8", "int8", 1)


def test_every_limit_key_has_a_measurement(tmp_path):
    """schema.LIMITS and measure's dispatch stay in step: an empty run measures nothing, raises nothing."""
    t = Target(tmp_path, "run")
    for key in LIMITS:
        m = measure(t, "compressed", key, effective_settings({"latency_device": "x86_64"}))
        assert m.value is None and m.detail.startswith("not measured: ")


@pytest.mark.parametrize("name", ["nrf52840", "nrf5340", "rpi4"])
def test_presets_load(name):
    assert name in preset_names()
    r = load_budget(name).resolve("compressed")
    assert r.limits["max_tflite_bytes"] > 0
    assert all(o == f"preset {name}" for o in r.origins.values())


def test_preset_figures():
    nrf52840, nrf5340 = load_budget("nrf52840").resolve("m"), load_budget("nrf5340").resolve("m")
    assert nrf52840.limits == {"max_tflite_bytes": 1 << 20, "max_arena_bytes": 256 << 10}
    assert nrf5340.limits == {"max_tflite_bytes": 1 << 20, "max_arena_bytes": 512 << 10}
    assert load_budget("rpi4").resolve("m").settings["latency_device"] == "aarch64"


def test_budget_package_imports_no_torch_or_tensorflow():
    import subprocess
    import sys

    probe = ("import sys\nfrom sleepedge.check import load_budget\nload_budget('rpi4')\n"
             "print([m for m in ('torch', 'tensorflow', 'onnxruntime') if m in sys.modules])\n")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
