"""Stage 1 and stage 2 pruning ops: removal invariance, shapes, parameter counts, strict reload."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from sleepedge.compress.channels import feature_index, keep_count, prune_to, pruned_arch
from sleepedge.compress.hidden import hidden_scores, shrink_hidden
from sleepedge.models import DeepSleepNet, count_params, get_arch, load_checkpoint, save_checkpoint

torch.set_num_threads(1)


def _random_model(arch, seed=0) -> DeepSleepNet:
    """A model whose batch norms have non-trivial statistics and affine parameters (eval mode)."""
    torch.manual_seed(seed)
    model = DeepSleepNet(arch)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.5)
    return model.eval()


def _x(seed=1, batch=2, seq=3):
    return torch.randn(batch, seq, 1, 3000, generator=torch.Generator().manual_seed(seed))


def _silence_channel(block, c):
    """Zero filter, BN mean 0 and beta 0: the block outputs exactly 0 for channel c (ReLU(0) = 0)."""
    block.conv.weight[c].zero_()
    block.bn.running_mean[c] = 0.0
    block.bn.bias[c] = 0.0


@pytest.mark.parametrize("layers", [1, 2])
def test_removing_zero_channels_leaves_outputs_unchanged(layers):
    arch = dataclasses.replace(get_arch("tiny"), lstm_layers=layers)
    model = _random_model(arch)
    ratio = 0.25  # 8 channels -> keep 6: exactly the two silenced channels of every layer go
    with torch.no_grad():
        for branch in (model.small, model.large):
            for i, block in enumerate(branch.blocks):
                for c in (i, 5):
                    _silence_channel(block, c)
    x = _x()
    with torch.no_grad():
        ref = model(x)
        pruned = prune_to(model, pruned_arch(arch, ratio))
        out = pruned(x)
    assert pruned.arch.small.channels == (6, 6, 6, 6) == pruned.arch.large.channels
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)


def test_removing_zero_hidden_units_leaves_outputs_unchanged():
    arch = dataclasses.replace(get_arch("tiny"), lstm_layers=2)
    model = _random_model(arch)
    h, dead = arch.lstm_hidden, {("", 0): [3, 9], ("_reverse", 0): [0, 15], ("", 1): [4, 5], ("_reverse", 1): [2, 11]}
    with torch.no_grad():
        for (d, layer), units in dead.items():
            rows = torch.cat([g * h + torch.tensor(units) for g in range(4)])
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):  # all inputs of the unit: h stays 0
                getattr(model.lstm, f"{name}_l{layer}{d}")[rows] = 0.0
        out_units = torch.tensor(dead[("", 1)] + [h + u for u in dead[("_reverse", 1)]])
        model.shortcut.weight[out_units] = 0.0  # the joint output unit: shortcut half silenced too
        model.shortcut_bn.running_mean[out_units] = 0.0
        model.shortcut_bn.bias[out_units] = 0.0
    x = _x()
    with torch.no_grad():
        ref = model(x)
        small = shrink_hidden(model, h - 2)
        out = small(x)
    assert small.arch.lstm_hidden == h - 2 and small.arch.shortcut_out == 2 * (h - 2)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)


def test_hidden_score_ranks_the_zeroed_units_last():
    model = _random_model(get_arch("tiny"))
    with torch.no_grad():
        model.lstm.weight_ih_l0[torch.tensor([2, 18, 34, 50])] = 0.0  # unit 2's gate rows (H = 16)
        model.lstm.weight_hh_l0[torch.tensor([2, 18, 34, 50])] = 0.0
    assert hidden_scores(model)[(0, "")].argmin().item() == 2


@pytest.mark.parametrize("ratio", [0.05, 0.5, 0.8, 0.95])
def test_stage1_shapes_and_param_count(ratio):
    arch = get_arch("tiny")
    pruned = prune_to(_random_model(arch), pruned_arch(arch, ratio))
    want = tuple(keep_count(ratio, c) for c in arch.small.channels)
    assert pruned.arch.small.channels == want
    assert sum(p.numel() for p in pruned.parameters()) == count_params(pruned.arch)
    assert pruned.lstm.weight_ih_l0.shape[1] == pruned.arch.cnn_features == pruned.shortcut.weight.shape[1]
    assert pruned(_x(batch=1, seq=2)).shape == (1, 2, 5)


def test_keep_count_rounds_half_up_and_keeps_one():
    assert keep_count(0.25, 8) == 6 and keep_count(0.15, 64) == 54 and keep_count(0.5, 3) == 2
    assert keep_count(0.95, 8) == 1 and keep_count(0.0, 128) == 128
    with pytest.raises(ValueError):
        keep_count(1.0, 8)


def test_feature_index_matches_model_flatten():
    arch = get_arch("tiny")
    model = _random_model(arch)
    ks, kl = torch.tensor([1, 4, 7]), torch.tensor([0, 6])
    flat = torch.randn(1, 1, 3000)
    with torch.no_grad():
        feats = torch.cat([model.small(flat), model.large(flat)], 1)
        s_out = model.small.pool2(_branch_trunk(model.small, flat))[:, ks].flatten(1)
        l_out = model.large.pool2(_branch_trunk(model.large, flat))[:, kl].flatten(1)
    torch.testing.assert_close(feats[:, feature_index(arch, ks, kl)], torch.cat([s_out, l_out], 1), rtol=0, atol=0)


def _branch_trunk(branch, x):
    x = branch.drop(branch.pool1(branch.blocks[0](x)))
    for block in branch.blocks[1:]:
        x = block(x)
    return x


def test_stage2_shapes_param_count_and_strict_reload(tmp_path):
    arch = dataclasses.replace(get_arch("tiny"), lstm_layers=2)
    model = shrink_hidden(prune_to(_random_model(arch), pruned_arch(arch, 0.5)), 5)
    assert model.arch.lstm_hidden == 5 and model.arch.small.channels == (4, 4, 4, 4)
    assert model.lstm.weight_ih_l1.shape == (20, 10) and model.head.weight.shape == (5, 10)
    assert sum(p.numel() for p in model.parameters()) == count_params(model.arch)
    path = save_checkpoint(tmp_path / "m.pt", model)
    loaded, payload = load_checkpoint(path)
    assert loaded.arch == model.arch and payload["arch"]["lstm_hidden"] == 5
    x = _x(batch=1)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert path.stat().st_size < 0.6 * len(_bytes(DeepSleepNet(arch)))  # physically smaller


def _bytes(model):
    import io

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def test_prune_refuses_growth():
    arch = get_arch("tiny")
    with pytest.raises(ValueError, match="cannot"):
        shrink_hidden(_random_model(arch), arch.lstm_hidden + 1)
    with pytest.raises(ValueError, match="cannot prune"):
        prune_to(_random_model(pruned_arch(arch, 0.5)), arch)
