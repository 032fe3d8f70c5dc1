"""``sleepedge check --against BASE``: deltas per metric, growth limits (fail and warn levels), models and metrics on
one side only, a result JSON as the base, the PR comment and the history (fake runs of tests/fixtures/check_runs.py)."""
import json

import pytest
from fixtures.check_runs import default_export_rows, export_row, make_run

import sleepedge.commands.cli
from sleepedge.check import check_budget, load_budget
from sleepedge.check.comment import MARKER, comment_markdown
from sleepedge.core.errors import BudgetError

GROWTH = """max_tflite_bytes = 10000000
[growth.params]
max_growth_percent = 10
warn_growth_percent = 2
[growth.file_bytes]
max_growth_bytes = 50000
[growth.macro_f1]
max_drop_points = 1.0
"""


@pytest.fixture(autouse=True)
def only_check(monkeypatch):
    monkeypatch.setattr(sleepedge.commands.cli, "SUBCOMMANDS", {"check": "sleepedge.commands.check"})
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def _main(*args):
    return sleepedge.commands.cli.main(["check", *map(str, args)])


def _budget(tmp_path, text=GROWTH):
    p = tmp_path / "budget.toml"
    p.write_text(text)
    return p


def _run(root, **compressed):
    """A fake run whose compressed tflite_int8 row has the given fields changed."""
    rows = [export_row(r["model"], r["format"], **compressed) if (r["model"], r["format"]) == ("compressed", "tflite_int8")
            else r for r in default_export_rows()]
    return make_run(root, export_rows=rows)


def test_against_the_same_run_shows_zero_deltas(tmp_path, run_dir, capsys):
    md = tmp_path / "comment.md"
    assert _main("--budget", _budget(tmp_path), "--against", run_dir, "--markdown", md, run_dir) == 0
    out = capsys.readouterr().out
    assert "growth.params.max_growth_percent" in out and "FAIL" not in out
    result = check_budget(_budget(tmp_path), run_dir, against=run_dir)
    metrics = result.comparison["models"]["compressed"]["metrics"]
    measured = {k: e for k, e in metrics.items() if e["side"] == "both"}
    assert {"file_bytes", "params", "arena_bytes", "macs_per_epoch", "accuracy", "macro_f1"} <= set(measured)
    assert all(e["delta"] == 0 and e["delta_pct"] == 0.0 for e in measured.values())
    assert result.comparison["models"]["compressed"]["largest"] == []
    text = md.read_text()
    assert text.startswith(MARKER) and "**PASS**" in text and "<details>" in text and "Largest changes:** none" in text


def test_a_growing_model_fails_and_a_shrinking_one_passes_with_negative_deltas(tmp_path, run_dir, capsys):
    big = _run(tmp_path / "big", params=300_000, macs_per_epoch=1_500_000, file_bytes=340_000)
    assert _main("--budget", _budget(tmp_path), "--against", run_dir, big) == 1
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if "growth.params.max_growth_percent" in x]
    assert "FAIL" in line and "25.00 %" in line and "240000 -> 300000" in line
    (size,) = [x for x in out.splitlines() if "growth.file_bytes.max_growth_bytes" in x]
    assert "PASS" in size and "40,000 B" in size
    assert "+60.0 k" in out and "+25.0 %" in out and "▲ worse" in out

    small = _run(tmp_path / "small", params=200_000, file_bytes=250_000)
    result = check_budget(_budget(tmp_path), small, against=run_dir)
    assert result.exit_code == 0
    m = result.comparison["models"]["compressed"]["metrics"]
    assert m["params"]["delta"] == -40_000 and m["file_bytes"]["delta"] == -50_000 and m["params"]["delta_pct"] < 0
    assert "▼ better" in comment_markdown(result)


def test_warn_level_warns_without_failing(tmp_path, run_dir, capsys):
    grown = _run(tmp_path / "g", params=252_000)  # +5 %: over warn (2 %), under max (10 %)
    assert _main("--budget", _budget(tmp_path), "--against", run_dir, "--github", grown) == 0
    out = capsys.readouterr().out
    assert "WARN" in out and "1 with a warning" in out and "::warning" in out and "::error" not in out


def test_accuracy_drop_is_limited_in_points(tmp_path, run_dir):
    worse = _run(tmp_path / "w", macro_f1=0.70)  # 0.72 -> 0.70: 2 points
    result = check_budget(_budget(tmp_path), worse, against=run_dir)
    (row,) = [r for r in result.rows if r.limit == "growth.macro_f1.max_drop_points"]
    assert row.status == "FAIL" and row.measured == pytest.approx(2.0)


def test_models_and_metrics_on_one_side_only_are_listed(tmp_path, run_dir):
    base = make_run(tmp_path / "b", export_rows=default_export_rows(models=("baseline",)), bench_rows=None)
    result = check_budget(_budget(tmp_path), run_dir, models=["all"], against=base)
    assert result.comparison["models"]["compressed"]["side"] == "new only"
    rows = {(r.model, r.limit): r for r in result.rows}
    assert rows[("compressed", "growth.params.max_growth_percent")].status == "FAIL"  # fails closed
    assert "not in the base" in rows[("compressed", "growth.params.max_growth_percent")].detail
    no_bench = make_run(tmp_path / "nb", bench_rows=None)
    lat = check_budget(_budget(tmp_path), run_dir, against=no_bench).comparison["models"]["compressed"]["metrics"]
    assert lat["latency_ms_p50"]["side"] == "new only" and "no bench results" in lat["latency_ms_p50"]["note"]
    assert "new only" in comment_markdown(check_budget(_budget(tmp_path), run_dir, against=no_bench))


def test_a_result_json_is_a_base(tmp_path, run_dir, capsys):
    base_json = tmp_path / "main.json"
    assert _main("--budget", _budget(tmp_path), "--json", base_json, run_dir) == 0
    data = json.loads(base_json.read_text())
    assert data["metrics"]["compressed"]["params"]["value"] == 240_000 and "compressed" in data["layers"]
    big = _run(tmp_path / "big", params=300_000)
    assert _main("--budget", _budget(tmp_path), "--against", base_json, big) == 1
    data.pop("metrics")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    capsys.readouterr()
    assert _main("--budget", _budget(tmp_path), "--against", old, big) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds no metrics" in err and str(old) in err
    assert _main("--budget", _budget(tmp_path), "--against", tmp_path / "nope.json", big) == 2


def test_growth_limits_need_a_base_and_are_noted_without_one(tmp_path, run_dir):
    result = check_budget(_budget(tmp_path), run_dir)
    assert not any(r.limit.startswith("growth.") for r in result.rows)
    assert any("no base to compare with" in n for n in result.notes)


@pytest.mark.parametrize("text, message", [
    ("[growth.file_byte]\nmax_growth_percent = 1\n", "did you mean 'file_bytes'"),
    ("[growth.params]\nmax_growth_bytes = 1\n", "'max_growth_bytes' does not apply to params"),
    ("[growth.accuracy]\nmax_growth_percent = 1\n", "does not apply to accuracy"),
    ("[growth.file_bytes]\nmax_growth_percent = -1\n", "must not be negative"),
    ("[growth.file_bytes]\nmax_growth_bytes = 1.5\n", "not a number with decimals"),
    ("[growth]\nfile_bytes = 3\n", "one table per metric"),
])
def test_bad_growth_tables_are_refused(tmp_path, text, message):
    with pytest.raises(BudgetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_budget(_budget(tmp_path, text))


def test_growth_tables_layer_like_limits(tmp_path):
    b = load_budget(_budget(tmp_path, GROWTH + "[model.compressed.growth.params]\nmax_growth_percent = 5\n"))
    assert b.resolve("compressed").growth["params"] == {"max_growth_percent": 5, "warn_growth_percent": 2}
    assert b.resolve("baseline").growth["params"]["max_growth_percent"] == 10
    assert "[model.compressed]" in b.resolve("compressed").growth_origins["params.max_growth_percent"]


def test_growth_keys_and_metrics_are_documented():
    from pathlib import Path

    from sleepedge.check.schema import GROWTH_KEYS, METRICS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "budget.md").read_text()
    for metric in METRICS:
        assert f"`{metric}`" in doc, metric
    for key in GROWTH_KEYS:
        assert f"`{key}`" in doc, key
    assert "generated/check_comment.md" in doc and "<!-- sleepedge-check -->" in doc
