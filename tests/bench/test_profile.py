from sleepedge.lab.profile import profile_onnx


def test_onnx_profile_attributes_time_to_the_model_operators(onnx_run):
    model = next(onnx_run.rglob("*.onnx"))
    per_op = profile_onnx(model, runs=3)
    assert "LSTM" in per_op and any("Conv" in op for op in per_op), per_op  # CNN (Conv or FusedConv) and BiLSTM
    assert all(v >= 0 for v in per_op.values()) and sum(per_op.values()) > 0
