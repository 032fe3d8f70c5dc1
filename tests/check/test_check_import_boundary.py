"""The whole gate (--against, attribution, --markdown, --history, --json) needs only the [bench] extra: it runs with
torch and TensorFlow made unimportable, and imports neither (like tests/bench/test_import_boundary.py)."""
import json
import subprocess
import sys
import textwrap

from fixtures.check_runs import export_row, default_export_rows, make_run

BLOCK = textwrap.dedent("""
    import importlib.abc, sys
    HEAVY = ("torch", "tensorflow", "keras", "tf_keras")
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HEAVY:
                raise ImportError(f"{name} is blocked: the check must not need it")
    sys.meta_path.insert(0, Block())
""")


def test_the_gate_with_a_base_needs_no_torch_and_no_tensorflow(tmp_path):
    base = make_run(tmp_path / "base")
    rows = [export_row(r["model"], r["format"], params=300_000) if r["model"] == "compressed" else r
            for r in default_export_rows()]
    new = make_run(tmp_path / "new", export_rows=rows)
    budget = tmp_path / "b.toml"
    budget.write_text("max_tflite_bytes = 1000000\n[growth.params]\nmax_growth_percent = 10\n")
    args = ["check", "--budget", str(budget), "--against", str(base), "--markdown", str(tmp_path / "c.md"),
            "--history", str(tmp_path / "h.jsonl"), "--json", str(tmp_path / "r.json"), str(new)]
    code = BLOCK + textwrap.dedent(f"""
        import json
        from sleepedge.commands.cli import main
        rc = main({args!r})
        print(json.dumps({{"rc": rc, "heavy": sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)}}))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"rc": 1, "heavy": []}, r.stderr[-2000:]
    assert "growth.params.max_growth_percent" in (tmp_path / "c.md").read_text()
    assert json.loads((tmp_path / "r.json").read_text())["comparison"]["models"]["compressed"]["side"] == "both"
