"""A real .tflite file from TensorFlow's converter is checked for size on its own."""
import pytest

import sleepedge.commands.cli
from sleepedge.check import check_budget


@pytest.fixture
def tiny_tflite(request):
    """The session run's fp32 .tflite (tests/fixtures/plugin.py), made by TensorFlow's TFLiteConverter."""
    import tensorflow  # noqa: F401  CI has it (marker `tensorflow`): a missing install fails, it does not skip
    return request.getfixturevalue("tflite_run_master") / "export" / "baseline" / "model_fp32.tflite"


@pytest.mark.tensorflow
@pytest.mark.integration
def test_real_tflite_size_is_checked(tmp_path, tiny_tflite, monkeypatch, capsys):
    size = tiny_tflite.stat().st_size
    budget = tmp_path / "budget.toml"
    budget.write_text(f"max_tflite_bytes = {size}\n")
    r = check_budget(budget, tiny_tflite)
    assert r.passed and r.rows[0].measured == size and r.rows[0].headroom_pct == 0.0
    budget.write_text(f"max_tflite_bytes = {size - 1}\n")
    monkeypatch.setattr(sleepedge.commands.cli, "SUBCOMMANDS", {"check": "sleepedge.commands.check"})
    assert sleepedge.commands.cli.main(["check", "--budget", str(budget), str(tiny_tflite)]) == 1
    assert "max_tflite_bytes" in capsys.readouterr().out
