"""The gate fails closed: files that do not run never count, crashes are not verdicts, limits are exact.

Includes the randomized test of ``check`` over truncated and corrupted model files, and two
``check --json`` writers racing for one file.
"""
import json
import random
import subprocess
import sys

import pytest
from fixtures.check_runs import DATA, export_row, make_run, write_budget

import sleepedge.commands.cli
from sleepedge.check import check_budget
from sleepedge.check.evaluate import evaluate_limit
from sleepedge.check.measure import Measured
from sleepedge.core.errors import BudgetError
from sleepedge.run.manifest import write_manifest

TINY = (DATA / "tiny.tflite").read_bytes()
# An independent look at a file: does ai-edge-litert (with its flatbuffer verifier) load it and run it once?
RUNS = ("import sys, numpy as np\nfrom ai_edge_litert.interpreter import Interpreter\n"
        "it = Interpreter(model_content=open(sys.argv[1], 'rb').read()); it.allocate_tensors()\n"
        "for d in it.get_input_details(): it.set_tensor(d['index'], np.zeros(d['shape'], d['dtype']))\n"
        "it.invoke()\n")


@pytest.fixture
def cli(monkeypatch, capsys):
    monkeypatch.setattr(sleepedge.commands.cli, "SUBCOMMANDS", {"check": "sleepedge.commands.check"})

    def run(*args):
        capsys.readouterr()
        rc = sleepedge.commands.cli.main(["check", *map(str, args)])
        return rc, capsys.readouterr().err
    return run


def _runs(path) -> bool:
    return subprocess.run([sys.executable, "-c", RUNS, str(path)], capture_output=True, timeout=120).returncode == 0


@pytest.mark.parametrize("seed", range(3))
def test_truncated_model_files_never_pass(tmp_path, cli, seed):
    budget = write_budget(tmp_path / "b.toml", "max_tflite_bytes = 100000000\n")
    rng = random.Random(seed)
    for cut in sorted(rng.sample(range(len(TINY)), 5)):
        f = tmp_path / f"cut{cut}.tflite"
        f.write_bytes(TINY[:cut])
        rc, err = cli("--budget", budget, f)
        assert rc == 2 and err.count("\n") == 1 and str(f) in err, (cut, err)
        assert "not a TFLite model" in err or "cannot be loaded and run" in err


@pytest.mark.parametrize("seed", range(3))
def test_corrupted_model_files_pass_only_when_they_run(tmp_path, cli, seed):
    budget = write_budget(tmp_path / "b.toml", "max_tflite_bytes = 100000000\n")
    rng = random.Random(100 + seed)
    for k in range(5):
        data = bytearray(TINY)
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if k % 2:
            start = rng.randrange(len(data))
            data[start:start + rng.randint(1, 200)] = bytes(min(200, len(data) - start))
        f = tmp_path / f"bad{k}.tflite"
        f.write_bytes(bytes(data))
        rc, err = cli("--budget", budget, f)
        assert rc in (0, 2) and "Traceback" not in err and "inside sleepedge" not in err, err
        if rc == 0:
            assert _runs(f), f"the gate passed {f}, which does not run"
        else:
            assert str(f) in err and err.count("\n") == 1


def test_only_the_identifier_is_not_a_model(tmp_path, cli):
    f = tmp_path / "magic.tflite"
    f.write_bytes(TINY[:8])
    rc, err = cli("--budget", write_budget(tmp_path / "b.toml", "max_tflite_bytes = 1000\n"), f)
    assert rc == 2 and "cannot be loaded and run" in err


def test_a_rehashed_broken_file_in_a_run_is_refused(tmp_path, cli):
    """Even a file whose manifest was rewritten to match it must run before its size counts."""
    run = make_run(tmp_path)
    f = run / "export" / "compressed" / "tflite_int8.tflite"
    f.write_bytes(f.read_bytes()[:600])
    m = json.loads((run / "export" / "manifest.json").read_text())
    write_manifest(run / "export", "export", metrics=m["metrics"],
                   outputs={k: run / "export" / e["path"] for k, e in m["outputs"].items()})
    write_manifest(run / "bench", "bench", outputs={"results": run / "bench" / "results.json"}, parent=run / "export")
    rc, err = cli("--budget", write_budget(tmp_path / "b.toml", "max_tflite_bytes = 100000000\n"), run)
    assert rc == 2 and str(f) in err


@pytest.mark.parametrize("bound, limit, measured, status", [
    ("max", 5.0, 5.000000000000004, "PASS"), ("max", 2.0, (0.86 - 0.84) * 100, "PASS"),
    ("min", 0.7, 0.7 - 1e-16, "PASS"), ("max", 5.0, 5.0001, "FAIL"), ("min", 0.7, 0.6999, "FAIL"),
])
def test_a_value_at_its_limit_passes_despite_float_rounding(bound, limit, measured, status):
    key = "max_accuracy_drop_points" if bound == "max" else "min_macro_f1"
    row = evaluate_limit("compressed", None, key, limit, Measured(measured, "test"), "test")
    assert row.status == status
    if status == "PASS":
        assert row.headroom_pct >= 0


def test_the_wearable_budget_passes_a_drop_of_exactly_two_points(tmp_path):
    rows = [export_row("baseline", "tflite_int8", accuracy=0.86), export_row("compressed", "tflite_int8", accuracy=0.84)]
    run = make_run(tmp_path, export_rows=rows, bench_rows=None)
    (row,) = [r for r in check_budget("wearable", run).rows if r.limit == "max_accuracy_drop_points"]
    assert row.measured > 2.0 and row.status == "PASS"


def test_a_model_table_naming_no_model_is_an_error(tmp_path):
    run = make_run(tmp_path)
    with pytest.raises(BudgetError, match=r"\[model.compresed\].*did you mean 'compressed'"):
        check_budget(write_budget(tmp_path / "b.toml", "[model.compresed]\nmax_params = 1\n"), run)
    base_only = make_run(tmp_path / "b", export_rows=[export_row("baseline", "tflite_int8")], bench_rows=None,
                         compress=False)
    r = check_budget(write_budget(tmp_path / "c.toml", "max_params = 1000000\n[model.compressed]\nmax_params = 1\n"),
                     base_only)
    assert r.passed and any("compressed" in n for n in r.notes)


def test_a_stale_bench_is_refused_and_an_unfinished_one_is_not_read(tmp_path, cli):
    run = make_run(tmp_path)
    budget = write_budget(tmp_path / "b.toml", 'max_latency_ms_p50 = 100\nlatency_device = "x86_64"\n')
    assert check_budget(budget, run).passed
    m = json.loads((run / "export" / "manifest.json").read_text())
    m["created"] = "export redone"
    (run / "export" / "manifest.json").write_text(json.dumps(m))  # the bench was made from the old export
    rc, err = cli("--budget", budget, run)
    assert rc == 2 and f"{run / 'bench'} is stale" in err and "sleepedge bench --run" in err
    (run / "bench" / "manifest.json").unlink()
    r = check_budget(budget, run)
    assert not r.passed and "no bench results" in r.rows[0].detail


def test_two_json_writers_never_silently_replace_each_other(tmp_path):
    f = tmp_path / "m.tflite"
    f.write_bytes(TINY)
    budget = write_budget(tmp_path / "b.toml", "max_tflite_bytes = 100000\n")
    out = tmp_path / "result.json"
    cmd = [sys.executable, "-m", "sleepedge.commands.cli", "check", "--budget", str(budget), str(f), "--json", str(out)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(120), p.stderr.read()) for p in procs]
    assert sorted(rc for rc, _ in results) == [0, 2, 2], results
    assert all("exists; refusing to overwrite" in err for rc, err in results if rc == 2)
    assert json.loads(out.read_text())["verdict"] == "PASS"
