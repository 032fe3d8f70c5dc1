"""``sleepedge check`` notes a checked model that was trained on synthetic data or is untrained (from the files' provenance)."""
from __future__ import annotations

from sleepedge.check import check_budget
from sleepedge.firmware_bench.provenance import provenance_notes
from sleepedge.run.manifest import read_manifest, resolve_entry


def _files(export):
    return {k: resolve_entry(export, e) for k, e in read_manifest(export, verify=False)["outputs"].items()}


def test_notes_say_synthetic_or_untrained(stream_run):
    notes = provenance_notes(["compressed", "deepsleepnet"], _files(stream_run / "export"))
    assert len(notes) == 2
    assert notes[0].startswith("model compressed was trained on SYNTHETIC data (synthetic")
    assert notes[1].startswith("model deepsleepnet is untrained")


def test_files_without_provenance_give_no_note(onnx_run_master):
    assert provenance_notes(["baseline", "compressed"], _files(onnx_run_master / "export")) == []


def test_check_result_carries_the_note(stream_run, tmp_path):
    budget = tmp_path / "budget.toml"
    budget.write_text("max_params = 10000000\n")
    result = check_budget(budget, stream_run / "export")
    assert result.models == ["compressed"]
    assert any(n.startswith("model compressed was trained on SYNTHETIC data") for n in result.notes), result.notes
