"""The setuptools package mapping must match the stage folders on disk (DESIGN.md)."""
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STAGES = {"models", "train", "compress", "export", "firmware_bench"}
# Subpackages of the core folder sleepedge/: setuptools' explicit packages list is not globbed, so a
# folder forgotten there would silently be missing from a wheel (as sleepedge.commands once was).
CORE_SUBPACKAGES = {
    f"sleepedge.{p.parent.name}": f"sleepedge/{p.parent.name}" for p in (REPO / "sleepedge").glob("*/__init__.py")
}


def _tool():
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_package_dir_maps_every_stage_folder():
    mapping = _tool()["package-dir"]
    folders = {p.name for p in REPO.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders == STAGES | {"sleepedge"}
    assert {"sleepedge.commands", "sleepedge.check"} <= set(CORE_SUBPACKAGES)
    assert mapping == {"sleepedge": "sleepedge", **{f"sleepedge.{s}": s for s in STAGES}, **CORE_SUBPACKAGES}
    assert sorted(_tool()["packages"]) == sorted(mapping)


def test_installed_subpackages_come_from_the_stage_folders():
    import sleepedge.compress
    import sleepedge.export
    import sleepedge.firmware_bench
    import sleepedge.models
    import sleepedge.train

    for mod, folder in [(sleepedge.models, "models"), (sleepedge.train, "train"), (sleepedge.compress, "compress"),
                        (sleepedge.export, "export"), (sleepedge.firmware_bench, "firmware_bench")]:
        assert Path(mod.__file__).resolve().parent == REPO / folder


@pytest.mark.integration  # builds a wheel with pip
def test_wheel_holds_every_subpackage_and_data_file(tmp_path):
    """A non-editable install (what a board gets) must carry the CLI, the presets and the budgets."""
    import subprocess
    import sys
    import zipfile

    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("sleepedge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for pkg in ["sleepedge", *CORE_SUBPACKAGES, *(f"sleepedge.{s}" for s in STAGES)]:
        assert f"{pkg.replace('.', '/')}/__init__.py" in names, pkg
    for data in ("presets/quick.toml", "presets/paper.toml", "presets/tiny.toml", "budgets/nrf52840.toml", "budgets/wearable.toml"):
        assert f"sleepedge/config/{data}" in names, data
    assert "sleepedge/train/hypnogram_stats.json" in names  # the synthetic generator needs it at run time
