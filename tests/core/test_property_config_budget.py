"""Property-based tests (hypothesis): the ``--set`` parser and the budget loader never fail with anything but
their own error types, whatever text they are given."""
from __future__ import annotations

import string

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sleepedge.check.load import load_budget
from sleepedge.config.rules import RULES
from sleepedge.core.errors import BudgetError, ConfigError

KEYS = sorted(RULES)  # every "section.key" a config has
FAST = settings(max_examples=150, deadline=None, database=None,  # no .hypothesis folder in the work tree
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# values a user might type: numbers of every kind, booleans, lists, quotes, TOML-ish text and plain junk
VALUES = st.one_of(
    st.text(max_size=30),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "true", "false", "[]", "[1, 2]", "[[1]]", "{}", '"x"', "'", "1e999",
                     "0x10", "1_000", "--", "=", "[1, 'a']", "{a = 1}", "2024-01-01", "\x00"]),
)
OVERRIDES = st.one_of(
    st.text(max_size=40),  # anything at all
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), VALUES),  # a real key, any value
    st.builds(lambda s, k, v: f"{s}.{k}={v}", st.text(string.ascii_lowercase + "._", max_size=8),
              st.text(string.ascii_lowercase + "_", max_size=8), VALUES),  # key-shaped junk
)


@FAST
@given(st.lists(OVERRIDES, max_size=3))
@example(["train.epochs=nan"])
@example(["data.subjects=[1, 'a']"])
@example(["=", "train.epochs"])
def test_set_overrides_apply_or_raise_config_error(overrides):
    from sleepedge.config.settings import load_config

    try:
        load_config(None, overrides)
    except ConfigError:
        pass


BUDGET_KEYS = ["max_params", "max_file_bytes", "max_arena_bytes", "min_macro_f1", "min_accuracy", "extends",
               "max_latency_ms_p50", "latency_device", "tolerance", "model", "target", "unknown_key"]
TOML_VALUES = st.one_of(
    st.integers(min_value=-2**70, max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: str(f).replace("inf", "inf").lower()),
    st.sampled_from(['"nrf52840"', '"missing"', '["rpi4", "nrf5340"]', '"self.toml"', "true", "[]", "{}",
                     "{ max_params = 1 }", '"x86_64"', "nan", "-inf", "1979-05-27", '""', "[1, 2]"]),
)
TOML_LINES = st.one_of(
    st.builds(lambda k, v: f"{k} = {v}", st.sampled_from(BUDGET_KEYS), TOML_VALUES),
    st.builds(lambda t: f"[{t}]", st.sampled_from(["model.compressed", "target.rpi4", "target.x.model.y", "model",
                                                   "target", "tool.sleepedge.budget", "other"])),
    st.text(max_size=30),
)


@FAST
@given(st.lists(TOML_LINES, max_size=8), st.sampled_from(["budget.toml", "pyproject.toml", "self.toml"]))
@example(['extends = "self.toml"'], "self.toml")
@example(["max_params = nan"], "budget.toml")
@example(["[target.rpi4]", "extends = 1"], "budget.toml")
def test_budget_file_loads_or_raises_budget_error(tmp_path_factory, lines, name):
    folder = tmp_path_factory.mktemp("budget")
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        load_budget(path)
    except (BudgetError, OSError):
        pass


@FAST
@given(st.binary(max_size=200))
def test_budget_file_of_any_bytes_loads_or_raises_budget_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "budget.toml"
    path.write_bytes(data)
    try:
        load_budget(path)
    except (BudgetError, OSError):
        pass
