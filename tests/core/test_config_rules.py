"""Every config key has a range, in one table; nonsense settings are refused before any work."""
import dataclasses

import pytest

from sleepedge.config.settings import SECTIONS, Config, ConfigError, apply_overrides, config_from_dict, load_config, \
    preset_names, validate_split
from sleepedge.config.rules import RULES, Rule, RuleError


def _fields() -> set[str]:
    keys = {"name"}
    for section, f in SECTIONS.items():
        keys |= {f"{section}.{g.name}" for g in dataclasses.fields(f.default_factory())}
    return keys


def test_every_config_key_has_a_rule():
    """A key added to a config dataclass must get a rule in config_rules.RULES (and no rule may be orphaned)."""
    assert _fields() - set(RULES) == set(), "add these keys to sleepedge/config_rules.py RULES"
    assert set(RULES) - _fields() == set(), "these rules name no config key"


@pytest.mark.parametrize("preset", preset_names())
def test_shipped_presets_and_defaults_follow_the_rules(preset):
    load_config(preset)
    config_from_dict(Config().to_dict())


@pytest.mark.parametrize("override, key", [
    ("train.epochs=0", "train.epochs"), ("train.batch_size=-4", "train.batch_size"), ("train.lr=inf", "train.lr"),
    ("train.lr=nan", "train.lr"), ("data.seq_len=0", "data.seq_len"), ("model.arch=bogus", "model.arch"),
    ("train.seed=-1", "train.seed"), ("data.split_seed=5000000000", "data.split_seed"),
    ("compress.stage1_max=1.0", "compress.stage1_max"), ("compress.stage2_from=0.0,0.0", "compress.stage2_from"),
    ("export.formats=", "export.formats"), ("bench.min_time_s=-1", "bench.min_time_s"),
    ("bench.worker_timeout_s=0", "bench.worker_timeout_s"), ("data.synthetic_hours=25", "data.synthetic_hours"),
])
def test_out_of_range_values_are_refused_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config("tiny", [override])


def test_rules_apply_to_recorded_configs_and_to_later_overrides():
    d = Config().to_dict()
    d["train"]["epochs"] = 0
    with pytest.raises(ConfigError, match="train.epochs"):
        config_from_dict(d)  # a tampered manifest config
    with pytest.raises(ConfigError, match="bench.rounds"):
        apply_overrides(Config(), ["bench.rounds=0"])


def test_checks_across_keys():
    with pytest.raises(ConfigError, match="compress.stage2_from"):
        load_config("tiny", ["compress.stage1_max=0.25", "compress.stage2_from=0.5"])
    with pytest.raises(ConfigError, match="data.sfreq"):
        load_config("tiny", ["data.sfreq=200"])
    with pytest.raises(ConfigError, match="data.fold"):
        load_config("tiny", ["data.fold=30"])


def test_split_rules_apply_to_the_commands_that_split():
    cfg = load_config("tiny", ["data.synthetic_subjects=2"])  # fine for `data prepare`
    with pytest.raises(ConfigError, match="data.val_subjects"):
        validate_split(cfg)
    validate_split(load_config("tiny"))


def test_rule_messages():
    with pytest.raises(RuleError, match=r"out of range \(expected > 0\)"):
        Rule(lo=0, lo_open=True).check(0)
    with pytest.raises(RuleError, match="item 5 out of range"):
        Rule(hi=3).check([1, 5])
    with pytest.raises(RuleError, match=r"unknown \(known: a, b\)"):
        Rule(choices=("a", "b")).check("c")
