"""A real .tflite file from TensorFlow's converter is checked for size on its own."""
import pytest

import sleepedge.commands.cli
from sleepedge.check import check_budget


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory):
    import tensorflow as tf  # CI has it (marker `tensorflow`): a missing install fails, it does not skip
    model = tf.keras.Sequential([tf.keras.Input(shape=(16,)), tf.keras.layers.Dense(8, activation="relu"),
                                 tf.keras.layers.Dense(5)])
    data = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    path = tmp_path_factory.mktemp("tflite") / "tiny.tflite"
    path.write_bytes(data)
    return path


@pytest.mark.tensorflow
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
