"""The setuptools package mapping must match the stage folders on disk (DESIGN.md)."""
import tomllib
from pathlib import Path

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
    assert {"sleepedge.commands", "sleepedge.budget"} <= set(CORE_SUBPACKAGES)
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
