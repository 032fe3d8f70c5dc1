"""docs/budget.md stays in step with the code: every key documented, the example loads, the workflow matches."""
import re
from pathlib import Path

import yaml

from sleepedge.check import LIMITS, SETTINGS, load_budget

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "budget.md").read_text()
WORKFLOW = REPO / "docs" / "github-actions-budget.yml"


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.S)


def test_every_key_is_documented():
    for key in list(LIMITS) + list(SETTINGS):
        assert f"| `{key}` |" in DOC, key


def test_documented_example_budget_loads(tmp_path):
    p = tmp_path / "budget.toml"
    p.write_text(_blocks("toml")[0])
    b = load_budget(p)
    assert b.resolve("compressed").limits["max_tflite_bytes"] == 786432
    assert b.resolve("compressed", "pi").settings["latency_device"] == "aarch64"


def test_workflow_file_is_the_documented_one_and_gates_pull_requests():
    text = WORKFLOW.read_text()
    assert _blocks("yaml") == [text]
    wf = yaml.safe_load(text)
    assert "pull_request" in wf[True]  # YAML 1.1 reads the key `on` as True
    runs = " ".join(step.get("run", "") for step in wf["jobs"]["budget"]["steps"])
    assert 'sleepedge check --budget "$BUDGET" --github --json' in runs
