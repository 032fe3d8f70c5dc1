"""``sleepedge predict`` reads the model's provenance: it warns about synthetic training data, refuses an untrained
model unless --allow-untrained, checks each recording against the training input statistics, and notes when
a model (exported before provenance) says nothing."""
from __future__ import annotations

import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest
from edf_fixtures import START, write_psg

from sleepedge.core.errors import DataError


def _cli(argv):
    from sleepedge.commands.cli import main

    return main(["predict", *argv])


def _comments_and_rows(path):
    lines = path.read_text().splitlines()
    comments = [ln for ln in lines if ln.startswith("# ")]
    assert lines[:len(comments)] == comments  # all before the header row
    return comments, list(csv.DictReader(ln for ln in lines if not ln.startswith("# ")))


@pytest.fixture
def in_distribution(stream_run, tmp_path):
    """An EDF of the run's own calibration epochs: the training distribution by construction."""
    with np.load(stream_run / "train" / "calib.npz") as z:
        eeg = z["x"].reshape(-1).astype(np.float64)
    return write_psg(tmp_path / "calib.edf", START, len(eeg) // 100, eeg=eeg)


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


def test_synthetic_model_warns_and_records_it(stream_run, in_distribution, tmp_path, caplog):
    out = tmp_path / "out"
    model = stream_run / "export" / "compressed" / "onnx_fp32.onnx"
    assert _cli(["--model", str(model), str(in_distribution), "--out", str(out)]) == 0
    warnings = _warnings(caplog)
    assert len(warnings) == 1 and "SYNTHETIC" in warnings[0] and str(model) in warnings[0], warnings
    summary = json.loads((out / "predict.json").read_text())
    assert summary["provenance"]["synthetic"] is True and summary["provenance"]["untrained"] is False
    check = summary["nights"][0]["input_check"]
    assert check["ood"] is False and check["reasons"] == []
    comments, rows = _comments_and_rows(out / "calib.hypnogram.csv")
    assert any("WARNING: model trained on SYNTHETIC data" in c for c in comments)
    assert any(c.startswith("# input check: ok") for c in comments) and len(rows) == summary["nights"][0]["epochs"]


def test_out_of_distribution_recording_warns(stream_run, in_distribution, tmp_path, caplog):
    with np.load(stream_run / "train" / "calib.npz") as z:
        eeg = z["x"].reshape(-1).astype(np.float64) * 10.0
    loud = write_psg(tmp_path / "loud.edf", START, len(eeg) // 100, eeg=eeg)
    out = tmp_path / "out"
    assert _cli(["--model", str(stream_run / "export" / "compressed"), str(loud), "--out", str(out)]) == 0
    warnings = _warnings(caplog)
    assert any("loud.edf: unlike the model's training data: amplitude" in w for w in warnings), warnings
    check = json.loads((out / "predict.json").read_text())["nights"][0]["input_check"]
    assert check["ood"] is True and check["level_ratio"] > 4
    comments, _ = _comments_and_rows(out / "loud.hypnogram.csv")
    assert any(c.startswith("# WARNING: input unlike the training data: amplitude") for c in comments)


def test_untrained_model_is_refused_unless_allowed(stream_run, in_distribution, tmp_path, capsys):
    model = stream_run / "export" / "deepsleepnet" / "onnx_fp32.onnx"
    assert _cli(["--model", str(model), str(in_distribution), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(model) in err[0] and "--allow-untrained" in err[0], err
    assert not (tmp_path / "a").exists()
    assert _cli(["--model", str(model), str(in_distribution), "--out", str(tmp_path / "b"), "--allow-untrained"]) == 0
    assert json.loads((tmp_path / "b" / "predict.json").read_text())["provenance"]["untrained"] is True


def test_model_without_provenance_works_with_a_note(onnx_run_master, in_distribution, tmp_path, caplog):
    out = tmp_path / "out"
    model = onnx_run_master / "export" / "compressed" / "model.onnx"  # written without the export stage: no provenance
    assert _cli(["--model", str(model), str(in_distribution), "--out", str(out)]) == 0
    notes = [r.getMessage() for r in caplog.records if "provenance unknown" in r.getMessage()]
    assert len(notes) == 1 and str(model) in notes[0] and not _warnings(caplog), caplog.text
    summary = json.loads((out / "predict.json").read_text())
    assert summary["provenance"] == {"known": False} and summary["nights"][0]["input_check"]["ood"] is None
    comments, rows = _comments_and_rows(out / "calib.hypnogram.csv")
    assert comments[0] == "# model provenance: unknown (the model file carries none)" and rows


def test_export_manifest_row_speaks_for_an_old_untrained_file(onnx_run_master, tmp_path):
    """A model folder whose file carries no provenance: the export manifest's row says ``untrained``."""
    from sleepedge.predict.provenance_check import model_provenance, refuse_untrained
    from sleepedge.run.manifest import write_manifest

    export = tmp_path / "export"
    (export / "deepsleepnet").mkdir(parents=True)
    file = export / "deepsleepnet" / "onnx_fp32.onnx"
    file.write_bytes((onnx_run_master / "export" / "compressed" / "model.onnx").read_bytes())
    write_manifest(export, "export", outputs={"deepsleepnet/onnx_fp32": file},
                   metrics={"rows": [{"model": "deepsleepnet", "format": "onnx_fp32", "status": "ok",
                                      "file": "deepsleepnet/onnx_fp32.onnx", "untrained": True}]})
    prov = model_provenance([file], export / "deepsleepnet")
    assert prov["untrained"] is True and "carries no provenance" in prov["source"]
    with pytest.raises(DataError, match="--allow-untrained"):
        refuse_untrained(SimpleNamespace(files=[file], provenance=prov), allow=False)
    refuse_untrained(SimpleNamespace(files=[file], provenance=prov), allow=True)
    assert model_provenance([file]) is None  # the file alone says nothing
