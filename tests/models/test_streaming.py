"""The streaming split of DeepSleepNet computes exactly what the window model computes."""
import pytest
import torch

from sleepedge.models import DeepSleepNet, get_arch
from sleepedge.models.streaming import split_model


@pytest.mark.parametrize("preset", ["tiny", "quick"])
def test_pair_equals_window_model_on_full_windows(preset):
    torch.manual_seed(0)
    model = DeepSleepNet(get_arch(preset)).eval()
    features, head = split_model(model)
    x = torch.randn(3, 6, 1, 3000) * 20
    with torch.no_grad():
        window = model(x)
        feats = torch.stack([torch.stack([features(x[i, t].reshape(1, 1, 1, -1))[0] for t in range(6)]) for i in range(3)])
        pair = head(feats[:, :, None, :])
    assert feats.shape == (3, 6, model.arch.cnn_features)
    assert torch.allclose(pair, window, atol=1e-6)


def test_pair_shares_the_model_weights():
    model = DeepSleepNet(get_arch("tiny")).eval()
    features, head = split_model(model)
    assert features.small is model.small and head.model is model
