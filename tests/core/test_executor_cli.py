"""The executor and k-fold options on the command line: validated before any work, one clear line."""
from __future__ import annotations

import sys

import pytest

from sleepedge.commands.cli import main


def test_ray_executor_without_ray_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["compress", "--out", str(tmp_path), "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert "sleepedge[distributed]" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, match", [
    (["--executor", "threads"], "unknown executor 'threads'"),
    (["--ray-address", "auto"], "--ray-address needs --executor ray"),
    (["--folds", "1"], "at least 2 folds"),
    (["--folds", "some"], "'all'"),
])
def test_bad_execution_options_exit_2_before_any_stage(argv, match, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["pipeline", "--preset", "tiny", "--out", str(out), "--stages", "train,compress", *argv]) == 2
    assert match in capsys.readouterr().err
    assert not (out / "train").exists() and not (out / "folds").exists()


def test_a_failed_fold_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    """The error policy holds for --folds: exit 2 (1 means a failed limit), one line naming the fold and stage."""
    import sleepedge.pipeline.kfold

    failed = {"folds": 2, "summary": None, "deployed": {},
              "rows": [{"fold": 0, "outcomes": [{"stage": "train", "status": "failed", "error": "DataError: bad\nnight"}]},
                       {"fold": 1, "outcomes": [{"stage": "compress", "status": "failed", "error": "boom"}]}]}
    monkeypatch.setattr(sleepedge.pipeline.kfold, "run_kfold", lambda *a, **k: failed)
    assert main(["pipeline", "--preset", "tiny", "--out", str(tmp_path / "run"), "--folds", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: fold 0: train: DataError: bad night" in err and "1 more" in err
