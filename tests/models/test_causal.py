"""The causal head: its architecture, the one-step module, and the reset and look-ahead rules (PyTorch only)."""
import numpy as np
import pytest
import torch

from sleepedge.models import build_model, count_params, get_arch
from sleepedge.models.arch import DeepSleepNetArch
from sleepedge.models.causal import CausalStep, night_features, night_logits, stepped_logits
from sleepedge.models.stateful import decision_steps, run_stateful, segment_starts, zero_state

pytestmark = pytest.mark.fast


def _model(lookahead: int, hidden: int = 12, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(get_arch("quick").causal(lookahead=lookahead, lstm_hidden=hidden)).eval()


def _epochs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 30, (n, 1, get_arch("quick").epoch_samples)).astype(np.float32)


def test_a_bidirectional_architecture_reads_as_before_and_a_causal_one_round_trips():
    bi = get_arch("quick")
    assert "bidirectional" not in bi.to_dict() and "lookahead" not in bi.to_dict()
    causal = bi.causal(lookahead=2, lstm_hidden=16)
    d = causal.to_dict()
    assert d["bidirectional"] is False and d["lookahead"] == 2 and d["shortcut_out"] == 16
    assert DeepSleepNetArch.from_dict(d) == causal and DeepSleepNetArch.from_dict(bi.to_dict()) == bi
    assert causal.with_widths(lstm_hidden=8).shortcut_out == 8


@pytest.mark.parametrize("bad", [dict(lookahead=-1), dict(bidirectional=True, lookahead=1)])
def test_bad_causal_architectures_are_refused(bad):
    d = get_arch("quick").causal(lstm_hidden=16).to_dict()
    with pytest.raises(ValueError):
        DeepSleepNetArch.from_dict({**d, **bad})


def test_parameter_count_of_a_causal_model_matches_the_built_model():
    m = _model(1, hidden=20)
    assert count_params(m.arch) == sum(p.numel() for p in m.parameters())
    assert not m.lstm.bidirectional


def test_decision_steps_and_segment_starts():
    assert decision_steps(5, 0).tolist() == [0, 1, 2, 3, 4]
    assert decision_steps(5, 2).tolist() == [2, 3, 4, 4, 4]
    assert decision_steps(1, 3).tolist() == [0]
    gap = np.array([0, 0, 1, 1, 0, 0, 0, 1], bool)
    assert segment_starts(gap).tolist() == [0, 2, 4, 7]
    assert segment_starts(np.zeros(4, bool)).tolist() == [0]
    with pytest.raises(ValueError):
        segment_starts(np.zeros(0, bool))


@pytest.mark.parametrize("lookahead", [0, 1, 2])
def test_one_step_per_epoch_equals_the_whole_night_model_across_gaps(lookahead):
    m = _model(lookahead)
    x = _epochs(40)
    f = night_features(m, x)
    with torch.no_grad():
        assert np.allclose(f, m.features(torch.from_numpy(x[None])).numpy()[0], atol=1e-5)
    starts = segment_starts(np.r_[np.zeros(15, bool), np.ones(3, bool), np.zeros(22, bool)])
    whole, stepped = night_logits(m, f, starts), stepped_logits(m, f, starts)
    assert whole.shape == (40, 5)
    assert np.abs(whole - stepped).max() < 1e-4
    with torch.no_grad():  # without gaps: the model's own forward over the night
        assert np.allclose(night_logits(m, f), m(torch.from_numpy(x[None])).numpy()[0], atol=1e-4)


def test_the_state_after_a_gap_does_not_depend_on_what_came_before_it():
    m = _model(1)
    f = night_features(m, _epochs(30))
    other = f.copy()
    other[:10] = night_features(m, _epochs(10, seed=5))  # another first segment
    starts = [0, 10]
    a, b = stepped_logits(m, f, starts), stepped_logits(m, other, starts)
    assert np.abs(a[10:] - b[10:]).max() == 0.0
    assert np.abs(a[:10] - b[:10]).max() > 0.0
    assert np.abs(stepped_logits(m, f)[10:] - a[10:]).max() > 0.0  # without the reset the history counts


def test_causal_step_carries_the_state_it_is_given():
    m = _model(0)
    step = CausalStep(m)
    h, c = zero_state(m.arch.lstm_layers, m.arch.lstm_hidden)
    f = torch.from_numpy(night_features(m, _epochs(2)))
    with torch.no_grad():
        out0, h1, c1 = step(f[:1], torch.from_numpy(h), torch.from_numpy(c))
        out1, _, _ = step(f[1:2], h1, c1)
        seq, _ = m.lstm(f[None])
    assert h1.shape == (1, m.arch.lstm_layers, m.arch.lstm_hidden)
    assert torch.allclose(h1[0, -1], seq[0, 0], atol=1e-5)
    whole = night_logits(m, f.numpy())
    assert np.allclose(out1.numpy()[0], whole[1], atol=1e-5) and np.allclose(out0.numpy()[0], whole[0], atol=1e-5)


def test_a_bidirectional_model_has_no_one_step_head():
    with pytest.raises(ValueError, match="causal"):
        CausalStep(build_model(get_arch("quick")))


def test_run_stateful_calls_the_step_once_per_epoch_and_zeroes_the_state_at_each_start():
    seen = []

    def step(f, h, c):
        seen.append(float(h.sum()))
        return f[:, :3], h + 1, c

    out = run_stateful(step, np.arange(12, dtype=np.float32).reshape(6, 2).repeat(2, 1), 1, 4, 1, starts=[0, 4])
    assert len(seen) == 6 and seen == [0.0, 4.0, 8.0, 12.0, 0.0, 4.0]
    assert out[:, 0].tolist() == [2.0, 4.0, 6.0, 6.0, 10.0, 10.0]
