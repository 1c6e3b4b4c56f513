"""pyproject.toml lists every package and ships the data the package reads (tests/test_install.py builds it)."""
from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_and_the_data_folders_are_mapped():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "hnn").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
    assert project["tool"]["setuptools"]["package-dir"] == {"hnn.configs": "configs", "hnn.datasets": "datasets"}
    assert project["project"]["name"] == "hnn-lightning"  # 'hnn' on the index is another project
    scripts = project["project"]["scripts"]
    assert scripts == {"hnn-train": "hnn.training.cli:main", "hnn-table1": "hnn.experiments.table1:main"}
    for target in scripts.values():  # each entry point names a function that exists
        module, _, name = target.partition(":")
        assert callable(getattr(__import__(module, fromlist=[name]), name))
    assert "scipy>=1.10" in project["project"]["dependencies"]  # hnn.sampling.diagnostics imports it
    assert not any(d.startswith("torch") and "cpu" in d for d in project["project"]["dependencies"])
