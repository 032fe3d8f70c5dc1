"""The causal head (stage 3): warm start, night reassembly, look-ahead alignment, training, streaming
evaluation, look-ahead selection, resume, settings, and the compress stage's outputs with it on and off."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from compress_fakes import FakeFit, fake_evaluate
from sleepedge.compress import causal as C
from sleepedge.compress.hidden import hidden_scores
from sleepedge.compress.stage import run_compress_stage
from sleepedge.compress.table import CSV_COLUMNS, select_causal
from sleepedge.config.settings import ConfigError, load_config
from sleepedge.core.errors import DataError
from sleepedge.models import DeepSleepNet, get_arch, load_checkpoint, save_checkpoint
from sleepedge.models.causal import night_features, night_logits
from sleepedge.run.manifest import ManifestError, sha256_file
from sleepedge.train.sequences import SequenceData


def _parent(layers: int = 1, seed: int = 0) -> DeepSleepNet:
    torch.manual_seed(seed)
    arch = get_arch("tiny")
    if layers != arch.lstm_layers:
        import dataclasses
        arch = dataclasses.replace(arch, lstm_layers=layers)
    return DeepSleepNet(arch).eval()


def _nights_data(lengths=(3, 2), seq: int = 2, seed: int = 0) -> SequenceData:
    """Nights of ``lengths`` windows each, records contiguous, one subject per night."""
    rng = np.random.default_rng(seed)
    n = sum(lengths)
    records = [f"n{i}" for i, m in enumerate(lengths) for _ in range(m)]
    subjects = np.asarray([i for i, m in enumerate(lengths) for _ in range(m)], dtype=np.int64)
    return SequenceData(rng.standard_normal((n, seq, 1, 3000)).astype(np.float32),
                        rng.integers(0, 5, (n, seq)).astype(np.int64), records, subjects)


# ------------------------------------------------------------------------------------------ warm start
def test_student_keeps_the_cnn_and_the_forward_direction():
    parent = _parent(layers=2)
    h = parent.arch.lstm_hidden
    student = C.causal_student(parent, lookahead=1)
    assert not student.arch.bidirectional and student.arch.lookahead == 1 and student.arch.lstm_hidden == h
    ps, ss = parent.state_dict(), student.state_dict()
    for k in ss:
        if k.startswith(("small.", "large.")):
            assert torch.equal(ss[k], ps[k]), k
    assert torch.equal(ss["lstm.weight_ih_l0"], ps["lstm.weight_ih_l0"])
    assert torch.equal(ss["lstm.weight_ih_l1"], ps["lstm.weight_ih_l1"][:, :h])  # the forward half of the input
    assert torch.equal(ss["lstm.weight_hh_l1"], ps["lstm.weight_hh_l1"])
    assert torch.equal(ss["shortcut.weight"], ps["shortcut.weight"][:h])
    assert torch.equal(ss["shortcut_bn.running_var"], ps["shortcut_bn.running_var"][:h])
    assert torch.equal(ss["head.weight"], ps["head.weight"][:, :h])
    assert not any(k.endswith("_reverse") for k in ss)


def test_student_equals_a_parent_whose_backward_direction_is_silenced():
    """With every path out of the backward direction zeroed, the parent IS its forward direction: equal outputs."""
    parent = _parent(layers=2, seed=1)
    h = parent.arch.lstm_hidden
    with torch.no_grad():
        parent.lstm.weight_ih_l1[:, h:] = 0  # backward layer-0 output into layer 1 (forward direction)
        parent.lstm.weight_ih_l1_reverse.zero_()
        parent.lstm.weight_hh_l1_reverse.zero_()
        parent.lstm.bias_ih_l1_reverse.zero_()
        parent.lstm.bias_hh_l1_reverse.zero_()
        parent.head.weight[:, h:] = 0  # ... and into the classifier
    student = C.causal_student(parent, lookahead=0)
    x = torch.from_numpy(_nights_data((2,), seq=4).x)
    with torch.no_grad():
        assert torch.allclose(student(x), parent(x), atol=1e-5)


def test_smaller_student_keeps_the_most_important_forward_units():
    parent = _parent(seed=2)
    with torch.no_grad():  # make the LAST unit the most important, so "the first units" would be wrong
        for g in range(4):
            parent.lstm.weight_ih_l0[g * 16 + 15] *= 50
    student = C.causal_student(parent, lookahead=0, hidden=4)
    keep = C.forward_units(parent, 4)[0]
    assert 15 in keep.tolist() and len(keep) == 4
    assert keep.tolist() == sorted(torch.argsort(hidden_scores(parent)[(0, "")], descending=True)[:4].tolist())
    rows = torch.cat([g * 16 + keep for g in range(4)])
    assert torch.equal(student.lstm.weight_hh_l0, parent.lstm.weight_hh_l0[rows][:, keep])
    assert torch.equal(student.head.weight, parent.head.weight[:, keep])
    with pytest.raises(ConfigError, match="causal_hidden"):
        C.causal_student(parent, 0, hidden=17)


# --------------------------------------------------------------------------------------- nights, alignment
def test_nights_are_reassembled_and_non_contiguous_records_refused():
    data = _nights_data((3, 2))
    idx = C.night_index(data)
    assert [i.tolist() for i in idx] == [[0, 1, 2], [3, 4]]
    bad = SequenceData(data.x[:3], data.y[:3], ["a", "b", "a"], data.subjects[:3])
    with pytest.raises(DataError, match="'a' are not contiguous"):
        C.night_index(bad, "val data")
    with pytest.raises(DataError, match="record names"):
        C.night_index(SequenceData(data.x, data.y, []))


def test_aligned_targets_decide_epoch_t_at_step_t_plus_k():
    steps, epochs = C.aligned_targets(5, 2)
    assert steps.tolist() == [2, 3, 4, 4, 4] and epochs.tolist() == [0, 1, 2, 3, 4]  # the tail: the last step
    assert C.aligned_targets(3, 0)[0].tolist() == [0, 1, 2]


def _future_task(n_nights: int, n: int, f: int, seed: int) -> C.NightFeatures:
    """Features whose label at epoch t (stage 0 or 1) is the sign of feature 0 of epoch t + 1 (the future)."""
    rng = np.random.default_rng(seed)
    feats = [rng.standard_normal((n + 1, f)).astype(np.float32) * np.r_[3.0, np.full(f - 1, 0.1)].astype(np.float32)
             for _ in range(n_nights)]  # feature 0 stands out of the noise
    labels = [(x[1:, 0] > 0).astype(np.int64) for x in feats]
    feats = [x[:n] for x in feats]
    return C.NightFeatures(feats, labels, [np.arange(i, i + 1) for i in range(n_nights)], (n_nights, n))


def _settings(**kw) -> C.CausalSettings:
    base = dict(epochs=12, lr=2e-2, chunk=8, alpha=0.0, temperature=2.0, batch_nights=4, weight_decay=0.0,
                grad_clip=5.0, class_weights="none", seed=0, dropout=0.0)
    return C.CausalSettings(**{**base, **kw})


def _head_only(lookahead: int) -> DeepSleepNet:
    torch.manual_seed(0)
    return DeepSleepNet(get_arch("tiny").causal(lookahead=lookahead)).eval()


def test_a_label_from_the_next_epoch_is_learnt_only_with_lookahead():
    train, val = _future_task(8, 20, 192, 0), _future_task(8, 20, 192, 1)
    teacher = [np.zeros((len(y), 5), np.float32) for y in train.labels]
    val_y = np.stack(val.labels)
    f1 = {k: C.train_causal(_head_only(k), train, teacher, val, val_y, _settings(epochs=4)).best_val["macro_f1"] for k in (0, 1)}
    assert f1[1] > 0.85 and f1[0] < 0.7, f1


# ------------------------------------------------------------------------------------ training, evaluation
def test_training_lowers_the_loss_and_is_deterministic():
    train, val = _future_task(6, 16, 192, 2), _future_task(3, 16, 192, 3)
    rng = np.random.default_rng(0)
    teacher = [rng.standard_normal((len(y), 5)).astype(np.float32) for y in train.labels]
    val_y = np.stack(val.labels)
    s = _settings(epochs=5, alpha=0.5, chunk=5, dropout=0.2)
    a, b = _head_only(1), _head_only(1)
    fit_a = C.train_causal(a, train, teacher, val, val_y, s)
    fit_b = C.train_causal(b, train, teacher, val, val_y, s)
    assert fit_a.history[-1]["train_loss"] < fit_a.history[0]["train_loss"]
    assert [h["train_loss"] for h in fit_a.history] == [h["train_loss"] for h in fit_b.history]
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    cnn = _head_only(1).state_dict()  # the CNN never trains
    assert all(torch.equal(a.state_dict()[k], v) for k, v in cnn.items() if k.startswith(("small.", "large.")))


def test_cell_excess_is_zero_within_the_bound_and_grows_beyond_it():
    c = torch.tensor([[[-3.0, 2.0, 9.0, -12.0]]])
    assert C.cell_excess(c, 8.0, 0.0) == 0.0
    assert float(C.cell_excess(c, 20.0, 1.0)) == 0.0
    assert float(C.cell_excess(c, 8.0, 0.5)) == pytest.approx(0.5 * (1 + 16) / 4)


def _integrating_task() -> tuple:
    """Long nights whose label is the sign of a feature summed since the night began: a unit that integrates fits."""
    rng = np.random.default_rng(4)
    feats = [rng.standard_normal((60, 192)).astype(np.float32) for _ in range(4)]
    labels = [(np.cumsum(x[:, 0]) > 0).astype(np.int64) for x in feats]
    return C.NightFeatures(feats, labels, [np.arange(i, i + 1) for i in range(4)], (4, 60))


def test_the_cell_penalty_keeps_the_state_of_a_long_night_within_reach():
    train = _integrating_task()
    teacher = [np.zeros((len(y), 5), np.float32) for y in train.labels]
    val_y = np.stack(train.labels)
    spans = {}
    for pen in (0.0, 1.0):
        model = _head_only(0)
        C.train_causal(model, train, teacher, train, val_y, _settings(epochs=15, chunk=20, cell_bound=1.0, cell_penalty=pen))
        spans[pen] = C.state_range(model, train)["c"]
    assert spans[1.0] < spans[0.0]


def test_evaluate_streaming_equals_night_logits_in_the_window_layout():
    model = C.causal_student(_parent(seed=3), lookahead=1)
    data = _nights_data((3, 2), seq=2, seed=4)
    m = C.evaluate_streaming(model, data)
    assert m["y_pred"].shape == data.y.shape
    for rows in ([0, 1, 2], [3, 4]):
        feats = night_features(model, data.x[rows].reshape(-1, 1, 3000))
        expected = night_logits(model, feats).argmax(-1).reshape(len(rows), 2)
        assert np.array_equal(m["y_pred"][rows], expected)
    assert m["accuracy"] == pytest.approx(float((m["y_pred"] == data.y).mean()))


def test_teacher_from_cached_features_equals_predict_logits():
    from sleepedge.train.loop import predict_logits

    parent, data = _parent(seed=6), _nights_data((3, 2), seq=3, seed=5)
    got = C.teacher_logits(parent, C.window_features(parent, data))
    assert np.allclose(got, predict_logits(parent, data.x), atol=1e-5)
    nights = C.nights_of(parent, data)
    assert [t.shape for t in C.teacher_nights(got, nights)] == [(9, 5), (6, 5)]
    assert np.array_equal(C.teacher_nights(got, nights)[1], got[3:].reshape(6, 5))


# ------------------------------------------------------------------------------------------- selection
def _crow(k: int, f1: float, lo: float) -> dict:
    return {"model": f"causal-k{k}", "lookahead": k, "val_macro_f1": f1, "val_d_macro_f1_vs_parent": lo + 0.5,
            "val_d_macro_f1_vs_parent_lo": lo, "causal_selected": False}


def test_selection_takes_the_smallest_qualifying_lookahead():
    rows = [_crow(0, 0.70, -3.0), _crow(1, 0.74, -0.8), _crow(2, 0.76, -0.2)]
    chosen, sel = select_causal(rows, 1.0, "s2-h32")
    assert chosen["model"] == "causal-k1" and sel["qualified"] and sel["n_qualified"] == 2
    assert [r["causal_selected"] for r in rows] == [False, True, False]


def test_selection_without_a_qualifying_lookahead_takes_the_best_unqualified():
    rows = [_crow(0, 0.70, -3.0), _crow(1, 0.74, -2.5), _crow(2, 0.73, -1.2)]
    chosen, sel = select_causal(rows, 1.0, "s2-h32")
    assert chosen["model"] == "causal-k1" and sel["qualified"] is False
    with pytest.raises(ConfigError, match="causal_margin_points"):
        select_causal(rows, -1.0, "p")


# -------------------------------------------------------------------------------------- settings
@pytest.mark.parametrize("override, key", [
    ("compress.causal_lookaheads=[0, -1]", "compress.causal_lookaheads"),
    ("compress.causal_lookaheads=[1, 1]", "compress.causal_lookaheads"),
    ("compress.causal_hidden=17", "compress.causal_hidden"),
    ("compress.causal_chunk=0", "compress.causal_chunk"),
    ("compress.causal_epochs=0", "compress.causal_epochs"),
    ("compress.causal_distill_alpha=1.5", "compress.causal_distill_alpha"),
    ("compress.causal_temperature=0", "compress.causal_temperature"),
    ("compress.causal_lr=0", "compress.causal_lr"),
    ("compress.causal_margin_points=-1", "compress.causal_margin_points"),
])
def test_bad_causal_settings_are_refused_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=key):
        load_config("tiny", [override])


def test_quick_preset_turns_the_causal_head_on():
    assert load_config("quick").compress.causal_lookaheads == [0, 1, 2]
    assert load_config("quick").compress.causal_cell_penalty > 0  # the deployed state must stay within reach
    assert load_config("tiny").compress.causal_lookaheads == []


# -------------------------------------------------------------------------------------- step and resume
def _ctx(tmp_path, tiny_cfg, data):
    path = save_checkpoint(tmp_path / "parent" / "model.pt", _parent(seed=5), config=tiny_cfg.to_dict())
    rec = {"id": "s1-25pct", "ratio": 0.25, "model": {"sha256": sha256_file(path)}}
    return C.CausalContext(tiny_cfg, tmp_path / "steps", path, rec, data)


def _night_splits():
    return {"train": _nights_data((2, 2), seed=6), "val": _nights_data((2, 1), seed=7), "test": _nights_data((1, 2), seed=8)}


def test_a_finished_causal_step_is_not_redone(tmp_path, tiny_cfg, monkeypatch):
    tiny_cfg.compress.causal_epochs = 2
    ctx = _ctx(tmp_path, tiny_cfg, _night_splits())
    rec = C.run_causal_step(ctx, 1)
    assert rec["id"] == "causal-k1" and rec["stage"] == 3 and rec["lookahead"] == 1 and rec["lag_s"] == 30.0
    assert rec["parent"] == "s1-25pct" and rec["ratio"] == 0.25 and len(rec["finetune"]["history"]) == 2
    assert set(rec["test"]["subject_confusion"]) == {"0", "1"}
    model, payload = load_checkpoint(tmp_path / "steps" / "causal-k1" / "model.pt")
    assert model.arch.lookahead == 1 and not model.arch.bidirectional and sha256_file(
        tmp_path / "steps" / "causal-k1" / "model.pt") == rec["model"]["sha256"]
    monkeypatch.setattr(C, "train_causal", lambda *a, **k: pytest.fail("a finished step was trained again"))
    again = C.run_causal_step(C.CausalContext(tiny_cfg, ctx.steps_dir, ctx.parent_path, ctx.parent_record, ctx.data), 1)
    assert again == json.loads((tmp_path / "steps" / "causal-k1" / "step.json").read_text())
    other = dict(ctx.parent_record, model={"sha256": "0" * 64})
    with pytest.raises(ManifestError, match="another parent"):
        C.run_causal_step(C.CausalContext(tiny_cfg, ctx.steps_dir, ctx.parent_path, other, ctx.data), 1)


# -------------------------------------------------------------------------------------- the stage
def _stage(run, cfg, data):
    return run_compress_stage(run, cfg, finetune=FakeFit(), evaluate=fake_evaluate, data=data, progress=False)


def test_stage_with_causal_heads_writes_rows_model_and_metrics(train_run, tiny_cfg):
    tiny_cfg.compress.causal_lookaheads, tiny_cfg.compress.causal_epochs = [0, 1], 2
    data = _night_splits()
    m = _stage(train_run, tiny_cfg, data)
    out = train_run / "compress"
    assert {"causal", "fig_causal"} <= set(m["outputs"])
    c = m["metrics"]["causal"]
    assert c["selected"] in ("causal-k0", "causal-k1") and c["parent"] == m["metrics"]["selected"]["model"]
    assert c["lag_s"] == 30.0 * c["lookahead"] and set(c["rows"]) == {"causal-k0", "causal-k1"}
    assert isinstance(c["qualified"], bool) and "look-ahead" in c["criterion"]
    model, payload = load_checkpoint(out / "causal.pt")
    assert not model.arch.bidirectional and model.arch.lookahead == c["lookahead"]
    span = payload["meta"]["state_range"]  # what the export's int8 calibration must cover
    assert 0 < span["h"] <= 1.0 and span["c"] >= span["h"]
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    causal = [r for r in rows if r["stage"] == "3"]
    assert [r["model"] for r in causal] == ["causal-k0", "causal-k1"]
    assert sum(r["causal_selected"] == "True" for r in causal) == 1 and all(r["selected"] == "False" for r in causal)
    assert all(r["val_d_macro_f1_vs_parent_lo"] != "" for r in causal)  # paired CI vs the parent
    assert "Causal head (stage 3)" in (out / "sweep.md").read_text()
    assert (out / "fig_causal.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "sweep.json").read_text())["causal"]["selected"] == c["selected"]


def test_stage_without_causal_heads_writes_nothing_new(train_run, tiny_cfg, data):
    m = _stage(train_run, tiny_cfg, data)
    out = train_run / "compress"
    assert "causal" not in m["outputs"] and "causal" not in m["metrics"] and not (out / "causal.pt").exists()
    assert (out / "sweep.csv").read_text().splitlines()[0] == ",".join(CSV_COLUMNS)
    assert "causal" not in json.loads((out / "sweep.json").read_text())
    assert not any(p.name.startswith("causal") for p in (out / "steps").iterdir())
    assert not any(k.startswith("causal") for k in json.loads((out / "plan.json").read_text())["compress"])
