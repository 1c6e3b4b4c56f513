"""Where hnn's files live: the files that ship inside the package, and the user's cache.

Shipped (read-only, inside the installed package, found through the import system):

- ``hnn.configs``  -- the training configs (``configs/`` in the repository);
- ``hnn.datasets`` -- the measured recordings (``schmidt_lipson_2009/``) and the pretrained checkpoints with their
  manifest (``pretrained/``) (``datasets/`` in the repository).

In the repository these folders are ``configs/`` and ``datasets/`` at the top level; ``pyproject.toml`` maps them
into the package (``package-dir``), so a wheel carries them and an editable install reads them in place.

Written (the user's): generated datasets go to :func:`cache_dir` — ``$HNN_CACHE_DIR`` if set, else
``$XDG_CACHE_HOME/hnn``, else ``~/.cache/hnn`` — never into the package or the working directory. Training runs go
wherever ``trainer.default_root_dir`` says (``runs/`` under the working directory by default: the user's own
choice of folder, as with any Lightning run).
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["CACHE_ENV_VAR", "cache_dir", "configs_dir", "config_file", "datasets_dir", "shipped_file"]

CACHE_ENV_VAR = "HNN_CACHE_DIR"


def _package_folder(package: str, checkout_name: str) -> Path:
    """The folder of a shipped data package; in a bare source checkout (no install) the repository folder."""
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        spec = None
    # a data folder is a namespace package (no __init__.py): its locations are the folders themselves
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if Path(location).is_dir():
            return Path(location)
    checkout = Path(__file__).resolve().parent.parent / checkout_name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"hnn's shipped folder {package!r} is missing from this installation (looked in the "
                            f"package and in {checkout}); reinstall hnn-lightning")


def configs_dir() -> Path:
    """The shipped training configs (``configs/`` of the repository)."""
    return _package_folder("hnn.configs", "configs")


def datasets_dir() -> Path:
    """The shipped data: recordings and pretrained checkpoints (``datasets/`` of the repository)."""
    return _package_folder("hnn.datasets", "datasets")


def shipped_file(*parts: str) -> Path:
    """A file shipped in ``hnn.datasets``, e.g. ``shipped_file("pretrained", "manifest.json")``; must exist."""
    path = datasets_dir().joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"hnn's shipped file {'/'.join(parts)!r} is missing at {path}; the installation is "
                                "incomplete (reinstall hnn-lightning)")
    return path


def config_file(name: str) -> Path:
    """A shipped config by file name (``"hnn_spring.yaml"``) or stem (``"hnn_spring"``)."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"config name must be a non-empty string, got {name!r}")
    folder = configs_dir()
    path = folder / (name if name.endswith(".yaml") else f"{name}.yaml")
    if not path.is_file():
        available = sorted(p.stem for p in folder.glob("*.yaml"))
        raise FileNotFoundError(f"no shipped config {name!r}; available: {', '.join(available)}")
    return path


def cache_dir() -> Path:
    """Where generated datasets are cached: ``$HNN_CACHE_DIR``, else ``$XDG_CACHE_HOME/hnn``, else ``~/.cache/hnn``."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "hnn"
