import pytest

from sleepedge.config.settings import ConfigError, config_from_dict, load_config


def test_presets_load_and_round_trip():
    for name in ("quick", "paper", "tiny"):
        cfg = load_config(name)
        assert cfg.name == name
        assert config_from_dict(cfg.to_dict()) == cfg


def test_override_is_type_checked():
    cfg = load_config("tiny", ["train.epochs=7", "compress.stage2_from=0,0.5", "bench.xnnpack=true"])
    assert cfg.train.epochs == 7 and cfg.compress.stage2_from == [0.0, 0.5] and cfg.bench.xnnpack is True
    with pytest.raises(ConfigError, match="train.epochs"):
        load_config("tiny", ["train.epochs=three"])
    with pytest.raises(ConfigError, match="train.epochs"):
        load_config("tiny", ["train.epochs=2.5"])


def test_unknown_key_and_section_rejected():
    with pytest.raises(ConfigError, match="train.epoch"):
        load_config("tiny", ["train.epoch=3"])
    with pytest.raises(ConfigError, match="trian"):
        load_config("tiny", ["trian.epochs=3"])
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config("tiny", ["epochs=3"])


def test_unknown_preset_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="known"):
        load_config("enormous")
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nepochs=1")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_config(bad)
    odd = tmp_path / "odd.toml"
    odd.write_text("[train]\nepochs = 'x'\n")
    with pytest.raises(ConfigError, match="train.epochs"):
        load_config(odd)
