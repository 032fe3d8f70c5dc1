"""Every subcommand answers --help quickly, without importing torch or TensorFlow."""
import subprocess
import sys
import time

import pytest

from sleepedge.commands.cli import SUBCOMMANDS

PROBE = (
    "import sys, time; t = time.perf_counter(); from sleepedge.commands.cli import main\n"
    "try: main({args!r})\n"
    "except SystemExit: pass\n"
    "heavy = [m for m in ('torch', 'tensorflow', 'mne', 'onnx', 'matplotlib') if m in sys.modules]\n"
    "print('HEAVY', heavy, 'SECONDS', time.perf_counter() - t)\n"
)


@pytest.mark.parametrize("args", [["--help"]] + [[name, "--help"] for name in SUBCOMMANDS])
def test_help_is_light(args):
    r = subprocess.run([sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "usage: sleepedge" in r.stdout
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("HEAVY []"), last  # no heavy import: that is what keeps --help instant
    assert float(last.split()[-1]) < 1.0


def test_bad_override_exits_2(capsys):
    from sleepedge.commands.cli import main

    assert main(["train", "--preset", "tiny", "--set", "train.epoch=1", "--out", "unused"]) == 2
    assert "train.epoch" in capsys.readouterr().err
