"""sleepedge.lab.package_copy lays the package out as pip would: every module and the package data."""
import subprocess
import sys
from pathlib import Path

from sleepedge.lab.package_copy import REPO, copy_package


def test_copy_has_every_subpackage_and_the_package_data(tmp_path):
    dest = copy_package(tmp_path / "site")
    for sub in ("commands", "models", "train", "compress", "export", "firmware_bench", "check", "predict", "core", "run", "config", "pipeline", "lab"):
        assert (dest / "sleepedge" / sub / "__init__.py").is_file(), sub
    assert (dest / "sleepedge" / "config" / "presets" / "quick.toml").is_file()
    assert (dest / "sleepedge" / "config" / "budgets" / "wearable.toml").is_file()
    assert (dest / "sleepedge" / "train" / "hypnogram_stats.json").is_file()


def test_the_copy_imports_from_another_folder_without_the_repository(tmp_path):
    dest = copy_package(tmp_path / "site")
    code = ("import sleepedge.config.formats, sleepedge.predict.score, sleepedge.config.settings as c, pathlib;"
            "print(pathlib.Path(c.__file__).resolve())")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       env={"PYTHONPATH": str(dest), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).is_relative_to(dest.resolve())


def test_runs_as_a_script_with_a_relative_destination(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "sleepedge" / "lab" / "package_copy.py"), "rel/site", "--repo", str(REPO)],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()) == (tmp_path / "rel" / "site").resolve()
    assert (tmp_path / "rel" / "site" / "sleepedge" / "lab" / "converters.py").is_file()
