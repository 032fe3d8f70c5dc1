"""The real attribution path: two Keras-built int8 exports of the tiny DeepSleepNet, the second with its small
branch's second conv 25 % wider (8 -> 10 channels). The gate fails on the MACs growth limit and the comment names
that layer, from the .tflite flatbuffers and the architecture of the export rows (TensorFlow, about a minute).

The base is the session's export of the tiny checkpoint (``tiny_export``: the same seed, architecture,
calibration and Keras converter as the wide export here), its ``onnx_fp32`` and ``tflite_int8`` rows and files
filed under the model name ``compressed``; only the wide model is exported here."""
import json
import shutil
from pathlib import Path

import pytest

import sleepedge.commands.cli
from sleepedge.run.manifest import read_manifest, write_manifest

pytestmark = [pytest.mark.tensorflow, pytest.mark.slow]

FORMATS = ["onnx_fp32", "tflite_int8"]
MODEL = "compressed"


def _write_export_manifest(out: Path, rows: list[dict]) -> Path:
    assert all(r["status"] == "ok" for r in rows), rows
    write_manifest(out, "export", outputs={f"{r['model']}/{r['format']}": out / r["file"] for r in rows},
                   metrics={"rows": rows})
    return out


def _export(root: Path, arch, sequences) -> Path:
    import torch

    from fixtures.settings import export_cfg
    from sleepedge.export.checkpoint_export import export_checkpoint
    from sleepedge.models import DeepSleepNet, save_checkpoint

    torch.manual_seed(0)
    ckpt = save_checkpoint(root / "model.pt", DeepSleepNet(arch).eval())
    calib_x, test_x, test_y = sequences
    out = root / "export"
    return _write_export_manifest(out, export_checkpoint(ckpt, out, calib_x, test_x, test_y, export_cfg(FORMATS), MODEL))


def _base_from_session_export(root: Path, tiny_export) -> Path:
    """The ``FORMATS`` rows of ``tiny_export`` (model ``baseline``) and their files, copied into ``root/export``
    as model ``MODEL`` (the session export stays untouched)."""
    src, rows = tiny_export
    out, picked = root / "export", []
    for fmt in FORMATS:
        row = dict(rows[fmt], model=MODEL)
        for key in ("file", "c_source", "c_header"):
            if row.get(key):
                rel = Path(MODEL, *Path(row[key]).parts[1:])  # <model>/<file> -> MODEL/<file>
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src / row[key], out / rel)
                row[key] = rel.as_posix()
        picked.append(row)
    return _write_export_manifest(out, picked)


@pytest.fixture(scope="module")
def two_exports(tmp_path_factory, sequences, tiny_export):
    pytest.importorskip("tensorflow")
    from sleepedge.models import get_arch

    root = tmp_path_factory.mktemp("against")
    tiny = get_arch("tiny")
    base = _base_from_session_export(root / "base", tiny_export)
    base_rows = read_manifest(base)["metrics"]["rows"]
    assert all(r["arch"] == json.loads(json.dumps(tiny.to_dict())) for r in base_rows)  # the tiny architecture
    wide = _export(root / "wide", tiny.with_widths(small_channels=(8, 10, 8, 8)), sequences)
    return base, wide


def test_a_layer_grown_by_a_quarter_fails_and_is_named(tmp_path, two_exports, monkeypatch):
    monkeypatch.setattr(sleepedge.commands.cli, "SUBCOMMANDS", {"check": "sleepedge.commands.check"})
    base, wide = two_exports
    budget = tmp_path / "b.toml"
    budget.write_text("max_tflite_bytes = 1048576\n[growth.macs_per_epoch]\nmax_growth_percent = 1.0\n")
    md = tmp_path / "comment.md"
    assert sleepedge.commands.cli.main(["check", "--budget", str(budget), "--against", str(base), "--markdown", str(md),
                                        str(wide)]) == 1
    text = md.read_text()
    largest = text.split("**Largest changes:**")[1].split("**Limits")[0]
    first = [line for line in largest.splitlines() if line.startswith("- ")][0]
    assert first.startswith("- compressed: small.blocks.1.conv: weights +") and "MACs +8,064 (+25.0 %)" in first
    assert "growth.macs_per_epoch.max_growth_percent" in text and "<details>" in text
    # the reverse (a smaller model) passes with negative deltas; the same export against itself shows none
    assert sleepedge.commands.cli.main(["check", "--budget", str(budget), "--against", str(wide), str(base)]) == 0
    assert sleepedge.commands.cli.main(["check", "--budget", str(budget), "--against", str(base), "--markdown",
                                        str(tmp_path / "same.md"), str(base)]) == 0
    assert "Largest changes:** none" in (tmp_path / "same.md").read_text()
