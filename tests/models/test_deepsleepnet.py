import pytest
import torch

from sleepedge.models import DeepSleepNet, count_params, get_arch, load_checkpoint, save_checkpoint


@pytest.mark.parametrize("preset", ["tiny", "quick", "paper"])
def test_built_model_matches_param_formula(preset):
    arch = get_arch(preset)
    model = DeepSleepNet(arch)
    assert sum(p.numel() for p in model.parameters()) == count_params(arch)


@pytest.mark.parametrize("batch,seq", [(1, 1), (2, 5)])
def test_forward_shape(batch, seq):
    model = DeepSleepNet(get_arch("tiny")).eval()
    out = model(torch.randn(batch, seq, 1, 3000))
    assert out.shape == (batch, seq, 5)


def test_branch_output_lengths_match_arch():
    arch = get_arch("paper")
    model = DeepSleepNet(arch).eval()
    x = torch.randn(2, 1, 3000)
    assert model.small(x).shape[1] == arch.small.out_features(3000) == 2048
    assert model.large(x).shape[1] == arch.large.out_features(3000) == 1024


def test_checkpoint_round_trip_strict(tmp_path):
    arch = get_arch("tiny").with_widths(small_channels=(3, 4, 5, 6), lstm_hidden=7)
    model = DeepSleepNet(arch).eval()
    path = save_checkpoint(tmp_path / "m.pt", model, config={"a": 1})
    loaded, payload = load_checkpoint(path)
    assert loaded.arch == arch and payload["config"] == {"a": 1}
    x = torch.randn(1, 3, 1, 3000)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_checkpoint_refuses_overwrite(tmp_path):
    model = DeepSleepNet(get_arch("tiny"))
    save_checkpoint(tmp_path / "m.pt", model)
    with pytest.raises(FileExistsError, match="m.pt"):
        save_checkpoint(tmp_path / "m.pt", model)


def test_corrupt_checkpoint_names_file(tmp_path):
    p = tmp_path / "bad.pt"
    p.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt"):
        load_checkpoint(p)
