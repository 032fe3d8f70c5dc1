"""The export stage on a small run folder (ONNX rows only, so no TensorFlow), the manifest contract and the CLI."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from sleepedge.config.settings import load_config
from sleepedge.run.manifest import ManifestError, read_manifest, write_manifest

from fixtures.settings import SEQ_LEN

ROW_KEYS = {"model", "format", "status", "reason", "file", "file_bytes", "params", "macs_per_epoch", "arch",
            "seq_len", "input_dtype", "parity_max_abs", "accuracy", "macro_f1", "kappa", "agreement_torch",
            "flex_ops", "float_ops", "tflm_arena_bytes", "tflm_status", "convert_s"}


def _onnx_only():
    # no untrained paper-size reference here (its 94 MiB ONNX costs seconds); test_reference_row covers it
    return load_config("tiny", ["export.formats=onnx_fp32", "export.test_sequences=4", "export.reference_arch="])


@pytest.fixture()
def run_dir(tmp_path, tiny_checkpoint, sequences):
    """RUN/train (model, test, calib + manifest) and RUN/compress (a smaller selected model + manifest)."""
    import shutil

    import torch

    from sleepedge.models import DeepSleepNet, get_arch, save_checkpoint

    calib_x, test_x, test_y = sequences
    train = tmp_path / "run" / "train"
    train.mkdir(parents=True)
    shutil.copyfile(tiny_checkpoint, train / "model.pt")
    np.savez(train / "test.npz", x=test_x, y=test_y, record=np.array(["r0"] * len(test_x)))
    np.savez(train / "calib.npz", x=calib_x, y=np.zeros(calib_x.shape[:2], np.int64), record=np.array(["r1"] * len(calib_x)))
    cfg = _onnx_only()
    write_manifest(train, "train", outputs={k: train / f for k, f in
                                            (("model", "model.pt"), ("test", "test.npz"), ("calib", "calib.npz"))},
                   config=cfg.to_dict())
    comp = tmp_path / "run" / "compress"
    torch.manual_seed(1)
    small = DeepSleepNet(get_arch("tiny").with_widths(lstm_hidden=8))
    save_checkpoint(comp / "selected.pt", small)
    write_manifest(comp, "compress", outputs={"selected": comp / "selected.pt"}, parent=train, config=cfg.to_dict())
    return tmp_path / "run"


def test_stage_exports_baseline_and_compressed(run_dir):
    from sleepedge.export.stage import run_export_stage

    out = run_export_stage(run_dir, _onnx_only())
    m = read_manifest(out)
    rows = m["metrics"]["rows"]
    assert [(r["model"], r["format"], r["status"]) for r in rows] == [
        ("baseline", "onnx_fp32", "ok"), ("compressed", "onnx_fp32", "ok")]
    assert all(ROW_KEYS <= set(r) for r in rows)
    assert rows[1]["params"] < rows[0]["params"] and rows[0]["seq_len"] == SEQ_LEN
    assert {"baseline/onnx_fp32", "compressed/onnx_fp32", "formats_md"} <= set(m["outputs"])
    assert all(not e["path"].startswith(("/", "..")) for e in m["outputs"].values())  # bundle-safe
    assert m["parent"]["stage"] == "compress" and m["inputs"]["test"]["sha256"]
    assert (out / rows[1]["file"]).is_file() and "| compressed | onnx_fp32 | ok |" in (out / "formats.md").read_text()
    with pytest.raises(FileExistsError):
        run_export_stage(run_dir, _onnx_only())


def test_stage_refuses_a_changed_checkpoint(run_dir):
    from sleepedge.export.stage import run_export_stage

    (run_dir / "train" / "model.pt").write_bytes(b"tampered")
    with pytest.raises(ManifestError, match="sha256"):
        run_export_stage(run_dir, _onnx_only())


def test_stage_refuses_compress_made_from_another_train(run_dir):
    from sleepedge.export.stage import run_export_stage

    mp = run_dir / "train" / "manifest.json"
    m = json.loads(mp.read_text())
    m["seed"] = 123  # same outputs, different manifest: compress was made from another train run
    mp.write_text(json.dumps(m))
    with pytest.raises(ManifestError, match="another train"):
        run_export_stage(run_dir, _onnx_only())


def _cli(argv):
    from sleepedge.commands import export as cmd

    p = argparse.ArgumentParser()
    cmd.add_arguments(p)
    return cmd.run(p.parse_args(argv))


def test_cli_from_train_and_single_checkpoint(run_dir, tmp_path, capsys):
    assert _cli(["--from", str(run_dir / "train"), "--set", "export.test_sequences=2"]) == 0
    rows = read_manifest(run_dir / "export")["metrics"]["rows"]
    assert [r["model"] for r in rows] == ["baseline"] and read_manifest(run_dir / "export")["parent"]["stage"] == "train"
    assert "1/1 formats ok" in capsys.readouterr().out
    out = tmp_path / "single"
    assert _cli(["--checkpoint", str(run_dir / "compress" / "selected.pt"), "--data", str(run_dir / "train"),
                 "--out", str(out), "--name", "compressed"]) == 0
    m = read_manifest(out)
    assert list(m["outputs"]) == ["formats_md", "compressed/onnx_fp32", "compressed/model_card"] and "test" in m["inputs"]
    assert m["config"]["export"]["formats"] == ["onnx_fp32"]  # the run's config, not the quick preset


def test_cli_help_is_fast_and_light():
    import subprocess
    import sys

    code = ("import sys, argparse; from sleepedge.commands import export as c; p = argparse.ArgumentParser(); "
            "c.add_arguments(p); print([m for m in ('torch', 'tensorflow', 'numpy') if m in sys.modules])")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


@pytest.mark.parametrize("fail_at", ["second model", "formats table", "manifest written"])
def test_interrupted_overwrite_keeps_the_finished_export(run_dir, monkeypatch, fail_at):
    """Ctrl-C at several points of `export --overwrite`: the old export stays whole, nothing half-built remains."""
    import sleepedge.export.stage as st

    out = st.run_export_stage(run_dir, _onnx_only())
    before = (out / "manifest.json").read_bytes()
    (out / "marker").write_text("the old stage")
    real_export, real_md, real_manifest = st.export_checkpoint, st.formats_markdown, st.write_manifest

    def export_checkpoint(ckpt, *a, **k):
        if fail_at == "second model" and "selected" in str(ckpt):
            raise KeyboardInterrupt
        return real_export(ckpt, *a, **k)

    def formats_markdown(*a, **k):
        if fail_at == "formats table":
            raise KeyboardInterrupt
        return real_md(*a, **k)

    def write_manifest(*a, **k):
        path = real_manifest(*a, **k)
        if fail_at == "manifest written":
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(st, "export_checkpoint", export_checkpoint)
    monkeypatch.setattr(st, "formats_markdown", formats_markdown)
    monkeypatch.setattr(st, "write_manifest", write_manifest)
    with pytest.raises(KeyboardInterrupt):
        st.run_export_stage(run_dir, _onnx_only(), overwrite=True)
    assert (out / "manifest.json").read_bytes() == before and (out / "marker").is_file()
    read_manifest(out)  # every output still matches
    assert not (run_dir / ".export.partial").exists() and not (run_dir / ".export.old").exists()
    monkeypatch.undo()
    st.run_export_stage(run_dir, _onnx_only(), overwrite=True)
    assert not (out / "marker").exists() and read_manifest(out)["stage"] == "export"  # replaced when complete


def test_a_checkpoint_that_fails_to_load_leaves_the_old_export(run_dir):
    from sleepedge.core.errors import DataError
    from sleepedge.export.stage import run_export_stage

    out = run_export_stage(run_dir, _onnx_only())
    before = (out / "manifest.json").read_bytes()
    comp = run_dir / "compress"
    (comp / "selected.pt").write_bytes(b"not a checkpoint" * 50)
    write_manifest(comp, "compress", outputs={"selected": comp / "selected.pt"}, parent=run_dir / "train")
    with pytest.raises(DataError, match="selected.pt"):
        run_export_stage(run_dir, _onnx_only(), overwrite=True)
    assert (out / "manifest.json").read_bytes() == before
    read_manifest(out)


def test_export_of_a_stale_compress_stage_is_refused(run_dir):
    from sleepedge.export.stage import run_export_stage
    from sleepedge.run.transaction import StaleStageError

    train = run_dir / "train"
    m = json.loads((train / "manifest.json").read_text())
    m["created"] = "train redone"
    (train / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(StaleStageError, match=r"compress is stale.*sleepedge compress --out"):
        run_export_stage(run_dir, _onnx_only())
