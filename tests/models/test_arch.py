import pytest

from sleepedge.models import DeepSleepNetArch, count_params, get_arch, macs_breakdown, param_breakdown


def test_paper_param_count_is_pinned():
    parts = param_breakdown(get_arch("paper"))
    assert parts == {"cnn": 604_032, "lstm": 20_987_904, "shortcut": 3_147_776, "head": 5_125, "total": 24_744_837}


def test_paper_macs_match_reference():
    m = macs_breakdown(get_arch("paper"))
    assert round(m["cnn"] / 1e6, 1) == 27.5  # Supratak et al.: CNN 27.5 M MACs per epoch
    assert round(m["total"] / 1e6, 1) == 51.6


def test_paper_feature_length():
    assert get_arch("paper").cnn_features == 2048 + 1024


def test_arch_dict_round_trip():
    a = get_arch("quick").with_widths(small_channels=(3, 5, 7, 9), lstm_hidden=20)
    assert DeepSleepNetArch.from_dict(a.to_dict()) == a
    assert a.shortcut_out == 40


def test_unknown_arch_key_rejected():
    d = get_arch("tiny").to_dict()
    d["hiden"] = 3
    with pytest.raises(ValueError, match="hiden"):
        DeepSleepNetArch.from_dict(d)


def test_shortcut_must_match_bilstm():
    with pytest.raises(ValueError, match="shortcut_out"):
        DeepSleepNetArch(lstm_hidden=64, shortcut_out=100)


def test_unknown_preset_names_known_ones():
    with pytest.raises(KeyError, match="quick"):
        get_arch("huge")


def test_quick_is_smaller_than_paper():
    assert count_params(get_arch("quick")) < count_params(get_arch("paper")) / 5
