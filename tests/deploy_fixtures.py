"""A tiny run folder with train/, compress/ and an export holding window and streaming ONNX models and the
untrained paper-size reference (shared by the export, bench and predict tests; ONNX only, no TensorFlow)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

SEQ_LEN = 5
FORMATS = "onnx_fp32,stream_onnx_fp32"


def build_stream_run(run: Path, reference: str = "paper") -> Path:
    """RUN/train (model, test, calib), RUN/compress (a narrower selected model), RUN/export (``FORMATS``)."""
    import torch

    from sleepedge.config.settings import load_config
    from sleepedge.lab.export_measure import synthetic_sequences
    from sleepedge.export.stage import run_export_stage
    from sleepedge.models import DeepSleepNet, get_arch, save_checkpoint
    from sleepedge.run.manifest import write_manifest

    torch.manual_seed(0)
    cfg = load_config("tiny", [f"export.formats={FORMATS}", f"export.reference_arch={reference}",
                               "export.reference_test_sequences=2"])
    train = run / "train"
    train.mkdir(parents=True)
    save_checkpoint(train / "model.pt", DeepSleepNet(get_arch("tiny")).eval())
    calib_x, calib_y = synthetic_sequences(8, SEQ_LEN, seed=1)
    test_x, test_y = synthetic_sequences(6, SEQ_LEN, seed=2)
    records = np.array(["SYN00101", "SYN00102", "SYN00201", "SYN00201", "SYN00301", "SYN00302"])
    np.savez(train / "test.npz", x=test_x, y=test_y, record=records)
    np.savez(train / "calib.npz", x=calib_x, y=calib_y, record=np.array(["SYN00001"] * 8))
    dataset = {"name": "synthetic", "synthetic": True, "label": "SYNTHETIC data (test)", "channel": "EEG Fpz-Cz",
               "sfreq": 100.0, "n_nights": 6, "n_epochs": 30}
    write_manifest(train, "train", outputs={k: train / f for k, f in (("model", "model.pt"), ("test", "test.npz"),
                                                                        ("calib", "calib.npz"))},
                   config=cfg.to_dict(), dataset=dataset, split={"train": [0], "val": [4], "test": [1, 2, 3]},
                   metrics={"test": {"accuracy": 0.5, "macro_f1": 0.4, "kappa": 0.3}})
    comp = run / "compress"
    torch.manual_seed(1)
    save_checkpoint(comp / "selected.pt", DeepSleepNet(get_arch("tiny").with_widths(lstm_hidden=8)).eval())
    write_manifest(comp, "compress", outputs={"selected": comp / "selected.pt"}, parent=train, config=cfg.to_dict(),
                   dataset=dataset, metrics={"selected": {"model": "s2-test", "test_accuracy": 0.45,
                                                          "test_macro_f1": 0.35, "test_kappa": 0.25}})
    run_export_stage(run, cfg)
    return run
