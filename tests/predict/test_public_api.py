"""The public Python API (``import sleepedge``): the functions behind the commands, for notebooks."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from edf_fixtures import START, write_psg

import sleepedge
from sleepedge.core.errors import ConfigError


def test_import_is_cheap_and_lists_the_api():
    code = ("import sys, sleepedge; heavy = [m for m in ('numpy', 'torch', 'tensorflow', 'onnxruntime', 'mne') "
            "if m in sys.modules]; print(heavy, sorted(sleepedge.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] ['check_budget', 'load_config', 'load_model', 'predict_recordings', 'run_pipeline']"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sleepedge.nope  # noqa: B018


def test_load_config_applies_preset_and_overrides():
    cfg = sleepedge.load_config("tiny", ["data.dataset=synthetic", "train.epochs=2"])
    assert cfg.data.dataset == "synthetic" and cfg.train.epochs == 2
    with pytest.raises(ConfigError):
        sleepedge.load_config("tiny", ["train.nope=1"])


def test_run_pipeline_refuses_unknown_stages_before_running(tmp_path):
    with pytest.raises(ConfigError, match="unknown or no stage"):
        sleepedge.run_pipeline(tmp_path / "run", sleepedge.load_config("tiny"), stages=["train", "deploy"])
    with pytest.raises(ConfigError, match="unknown or no stage"):
        sleepedge.run_pipeline(tmp_path / "run", stages=[])
    assert not (tmp_path / "run").exists()


def test_check_load_model_and_predict_on_a_run(stream_run, tmp_path):
    """check -> CheckResult; load_model -> a model predict scores a night with, like the commands."""
    result = sleepedge.check_budget("wearable", stream_run / "export", models=["compressed"])
    assert result.rows and result.models == ["compressed"] and isinstance(result.passed, bool)
    assert all(r.model == "compressed" for r in result.rows)

    rows = json.loads((stream_run / "export" / "manifest.json").read_text())["metrics"]["rows"]
    onnx = next(r for r in rows if r["model"] == "compressed" and r["format"] == "onnx_fp32")
    model = sleepedge.load_model(stream_run / "export" / onnx["file"])
    rng = np.random.default_rng(0)
    edf = write_psg(tmp_path / "night.edf", START, 6 * 30, eeg=rng.standard_normal(6 * 3000) * 20)
    summary = sleepedge.predict_recordings(model, [edf], out=tmp_path / "scored", png=False)
    assert summary["nights"][0]["epochs"] == 6
    assert (tmp_path / "scored" / "night.hypnogram.csv").is_file()
    folder = sleepedge.load_model(stream_run / "export" / "compressed", format="onnx_fp32")
    assert type(folder) is type(model)


def test_api_names_stay_functions_after_every_subpackage_is_imported():
    """A subpackage imported later must not shadow an API name (why there is no ``sleepedge.check()``)."""
    import importlib
    import inspect

    for sub in ("check", "predict", "pipeline", "run", "config", "core", "commands", "lab", "models", "train",
                "compress", "export", "firmware_bench"):
        importlib.import_module(f"sleepedge.{sub}")
    assert all(inspect.isfunction(getattr(sleepedge, name)) for name in sleepedge.__all__)


def test_predict_recordings_refuses_an_untrained_model_like_the_command(tmp_path):
    from types import SimpleNamespace

    from sleepedge.core.errors import DataError

    untrained = SimpleNamespace(provenance={"untrained": True}, files=[tmp_path / "dsn.onnx"])
    with pytest.raises(DataError, match="untrained"):
        sleepedge.predict_recordings(untrained, [tmp_path / "night.edf"], out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
