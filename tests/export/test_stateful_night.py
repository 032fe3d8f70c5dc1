"""A whole night through the int8 stateful pair under TFLite Micro's interpreter, against the PyTorch causal model.

The causal model is trained here, cheaply: the tiny session checkpoint's CNN, LSTM forward direction, shortcut and
classifier (the rows and columns of the forward direction) warm-start a causal tiny model (look-ahead 1), trained
for a few seconds on a synthetic night (windows of 240 epochs, so that it meets long runs of state), then exported
with ``stateful_tflite_int8`` (int8 feature model, 16x8 step; calibrated on the training night). The test night is
another synthetic subject's, cut to 1,080 epochs; every epoch is one feature call and one step call under TFLite
Micro, the state carried (:func:`sleepedge.export.tflm.run_stateful_tflm`).

No drift, the criterion: the per-epoch state error (max |h|, |c| difference from PyTorch's state after the same
epoch, PyTorch on its own features) averaged over the night's last hour is not larger than 1.25 times the largest
hourly average of hours 2 to 4. Not the first hour alone: the state starts at zero and its error with it, so the
first hour's level is lower than the settled one (measured: 1.0 in hour 1, 2.2 to 4.8 in every later hour). Noise
that the LSTM forgets stays at one level; an error that accumulates grows with the hours and fails it.

Measured on a first version of this fixture trained for 6 s of wall time (not a fixed step count): LiteRT 99.8 %,
TFLite Micro 98.6 to 98.8 % of the epochs equal to PyTorch, with |c| up to 147 (TFLite Micro's int16 kernels differ
from LiteRT's on that range). The fixed-step model here meets 99.5 % under TFLite Micro; a model whose cell state
ranges that wide may not (docs/streaming.md, "State quantisation").
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

NIGHT_EPOCHS = 1080
HOUR = 120


def _warm_start(bi):
    from sleepedge.models import DeepSleepNet

    m = DeepSleepNet(bi.arch.causal(lookahead=1))
    own, src, hid = m.state_dict(), bi.state_dict(), m.arch.lstm_hidden
    for k, v in own.items():
        s = src[k]
        own[k] = s.clone() if s.shape == v.shape else (s[:, :hid] if k == "head.weight" else s[:hid]).clone()
    m.load_state_dict(own)
    return m


def _train(m, night, steps: int = 100, win: int = 240, batch: int = 2):
    """A fixed number of Adam steps (about 6 s on one core), so the model is the same on every machine."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    x, y = torch.from_numpy(night.x[:, None, :]), torch.from_numpy(night.y)
    m.train()
    for _ in range(steps):
        s = rng.integers(0, len(y) - win, batch)
        loss = torch.nn.functional.cross_entropy(m(torch.stack([x[i:i + win] for i in s])).reshape(-1, 5),
                                                 torch.stack([y[i:i + win] for i in s]).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return m.eval()


@pytest.fixture(scope="module")
def pair(tiny_checkpoint, tmp_path_factory):
    """``(causal model, test night, int8 pair row, export folder)``."""
    from sleepedge.config.settings import ExportConfig
    from sleepedge.export.checkpoint_export import export_model
    from sleepedge.models import load_checkpoint
    from sleepedge.train.synthetic import synthetic_night

    train, test = synthetic_night(0, 3, 1, 8.0), synthetic_night(0, 4, 1, 8.0)
    model = _train(_warm_start(load_checkpoint(tiny_checkpoint)[0]), train)
    n = (len(test.y) // 10) * 10
    seqs, labels = test.x[:n].reshape(-1, 10, 1, 3000), test.y[:n].reshape(-1, 10)
    calib = train.x[:640].reshape(-1, 10, 1, 3000)
    out = tmp_path_factory.mktemp("stateful")
    cfg = ExportConfig(formats=["stateful_tflite_int8"], int8_attempts=3, timeout_s=600, tflm_max_arena=1 << 20)
    rows = export_model(model, out, calib, seqs, labels, cfg, "causal", test_records=np.array([test.record] * len(seqs)))
    assert rows[0]["status"] == "ok", rows[0]["reason"]
    return model, test, rows[0], out


def _tflm(row, out, epochs, starts):
    from sleepedge.export.tflm import run_stateful_tflm

    a = row["arch"]
    return run_stateful_tflm(out / row["files"]["features"], out / row["files"]["step"], epochs, starts, row["step_io"],
                             a["lstm_layers"], a["lstm_hidden"], row["lookahead"], arena_size=1 << 20)


def _torch(model, epochs, starts):
    from sleepedge.export.stateful_export import run_states
    from sleepedge.models.causal import night_features, night_logits, step_function

    feats = night_features(model, epochs)
    return night_logits(model, feats, starts), run_states(step_function(model), feats, starts, model.arch)


def test_step_io_read_from_the_file_names_the_tensors(pair):
    _, _, row, _ = pair
    assert sorted(row["step_io"]["inputs"]) == ["c", "features", "h"]
    assert row["step_tensors"]["h"]["dtype"] == row["state_dtype"] == "int16"
    assert row["step_tensors"]["h"]["shape"] == [1, 1, 16] and row["step_tensors"]["features"]["shape"] == [1, 192]
    assert row["agreement_torch"] >= 0.995  # the export's own check, in LiteRT, with this mapping
    assert row["tflm_night_epochs"] > 0 and row["tflm_night_agreement_torch"] >= 0.995  # and its TFLite Micro night
    assert row["tflm_arena_step_bytes"] and row["stateful_ram_bytes"] == (
        row["tflm_arena_bytes"] + row["state_bytes"] + row["epoch_bytes"])


@pytest.fixture(scope="module")
def night(pair):
    """The 1,080-epoch night under TFLite Micro and in PyTorch: ``(tflm result, torch logits, torch states)``."""
    model, test, row, out = pair
    epochs = test.x[:NIGHT_EPOCHS]
    assert len(epochs) == NIGHT_EPOCHS
    return (_tflm(row, out, epochs, [0]), *_torch(model, epochs, [0]))


def test_whole_night_under_tflite_micro_gives_pytorchs_stages(night):
    got, ref_logits, _ = night
    ref_stages = ref_logits.argmax(1)
    assert len(np.unique(ref_stages)) >= 3  # a trained model whose decisions change over the night
    assert (got["logits"].argmax(1) == ref_stages).mean() >= 0.995


def test_whole_night_under_tflite_micro_agrees_with_pytorch_and_does_not_drift(night):
    got, ref_logits, ref_states = night
    err = np.abs(got["states"] - ref_states).reshape(NIGHT_EPOCHS, -1).max(axis=1)
    hourly = err.reshape(-1, HOUR).mean(axis=1)
    assert hourly[-1] <= 1.25 * hourly[1:4].max(), f"state error by hour: {np.round(hourly, 3).tolist()}"


def test_reset_after_a_gap_forgets_what_came_before(pair):
    """A night with a gap: the pair with the starts of segment_starts equals PyTorch segment by segment, and every
    decision and state from the gap on is the same whatever the epochs before the gap were."""
    from sleepedge.models.stateful import segment_starts
    from sleepedge.train.synthetic import synthetic_night

    model, test, row, out = pair
    a = test.x[:300].copy()
    a[150:180] = 0.0  # 15 minutes without signal
    b = a.copy()
    b[:150] = synthetic_night(0, 5, 1, 8.0).x[300:450]  # another subject before the gap
    starts = segment_starts(np.all(a == 0, axis=1))
    assert list(starts) == [0, 150, 180]
    ra, rb = _tflm(row, out, a, starts), _tflm(row, out, b, starts)
    ref, _ = _torch(model, a, starts)
    for s, e in zip(starts, [*starts[1:], len(a)]):  # each segment from a zero state, like PyTorch's
        same = (ra["logits"][s:e].argmax(1) == ref[s:e].argmax(1)).mean()
        assert same >= 0.95, f"segment {s}..{e}: {100 * same:.1f} % of the decisions are PyTorch's"  # measured 96.7 % on 0..150
    np.testing.assert_array_equal(ra["logits"][150:], rb["logits"][150:])
    np.testing.assert_array_equal(ra["states"][150:], rb["states"][150:])
    assert not np.array_equal(ra["states"][:150], rb["states"][:150])
