"""The Keras one-step head (``keras_build`` kind ``step``) before conversion: the function of
:class:`sleepedge.models.causal.CausalStep`, the contract's input and output names in order, and the compact
graph that keeps TFLite Micro's arena small (one Dense over ``[x, h]`` per LSTM layer, not a Dense pair per gate).
No conversion here: the 16x8 file itself is checked by test_stateful_night.py."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.tensorflow, pytest.mark.integration]


def _causal(layers: int):
    """A causal tiny model with ``layers`` LSTM layers, random weights and random batch-norm statistics."""
    from sleepedge.models import DeepSleepNet, get_arch

    torch.manual_seed(layers)
    m = DeepSleepNet(dataclasses.replace(get_arch("tiny").causal(lookahead=1), lstm_layers=layers))
    bn = m.shortcut_bn
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    return m.eval()


@pytest.fixture(scope="module", params=[1, 2], ids=["1-layer", "2-layer"])
def step(request):
    """``(torch model, Keras step model)``."""
    from sleepedge.export.keras_build import build

    m = _causal(request.param)
    weights = {k: v.detach().cpu().numpy() for k, v in m.state_dict().items()}
    return m, build(m.arch, weights, "step", 1)


def test_keras_step_computes_the_causal_step(step):
    from sleepedge.models.causal import CausalStep

    m, km = step
    a, rng = m.arch, np.random.default_rng(0)
    f = rng.standard_normal((1, a.cnn_features)).astype(np.float32)
    h = np.tanh(rng.standard_normal((1, a.lstm_layers, a.lstm_hidden))).astype(np.float32)
    c = (5 * rng.standard_normal((1, a.lstm_layers, a.lstm_hidden))).astype(np.float32)  # a long night's cell state
    got = [np.asarray(t) for t in km([f, h, c], training=False)]
    with torch.no_grad():
        want = [t.numpy() for t in CausalStep(m)(*(torch.from_numpy(v) for v in (f, h, c)))]
    for name, g, w in zip(("logits", "h_out", "c_out"), got, want):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(g, w, atol=1e-4, err_msg=name)


def test_keras_step_keeps_the_contracts_names_in_order(step):
    from sleepedge.export.keras_build import STEP_INPUTS, STEP_OUTPUTS

    _, km = step
    assert [t.name.split(":")[0] for t in km.inputs] == list(STEP_INPUTS)
    assert list(km.output_names) == list(STEP_OUTPUTS)


def test_keras_step_has_one_dense_per_lstm_layer(step):
    """Per layer one Dense over ``[x, h]`` (4H outputs), plus the shortcut and the classifier: the graph whose
    TFLite Micro arena is small (a Dense pair per gate took 57 operators and 18,352 bytes on the demo's model)."""
    m, km = step
    a = m.arch
    dense = [layer for layer in km.layers if type(layer).__name__ == "Dense"]
    assert len(dense) == a.lstm_layers + 2
    assert sorted(d.units for d in dense).count(4 * a.lstm_hidden) == a.lstm_layers
    assert not [layer for layer in km.layers if "LSTM" in type(layer).__name__]
