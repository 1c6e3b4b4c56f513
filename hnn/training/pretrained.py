"""Named pretrained models: ``hnn.load_pretrained(name)``.

The registry is the shipped ``pretrained/manifest.json`` (``datasets/pretrained/`` in the repository, ``hnn.datasets``
when installed): one entry per model with its file, SHA-256, size, class, task, seed, the config and overrides that
trained it and the metrics measured on its weights. It is written by ``python scripts/evaluate.py
--export-pretrained datasets/pretrained`` and nothing else lists the models.
"""
from __future__ import annotations

import json
from typing import Any

import pytorch_lightning as pl

from hnn.io import sha256_of_file
from hnn.paths import shipped_file
from hnn.training.checkpoint import CheckpointError, load

__all__ = ["available_pretrained", "pretrained_entry", "pretrained_path", "load_pretrained"]

MANIFEST = ("pretrained", "manifest.json")


def _manifest() -> dict[str, Any]:
    manifest = json.loads(shipped_file(*MANIFEST).read_text(encoding="utf-8"))
    if not isinstance(manifest.get("models"), dict):
        raise CheckpointError("the shipped pretrained/manifest.json has no 'models' table")
    return manifest


def available_pretrained() -> list[str]:
    """Names accepted by :func:`load_pretrained`."""
    return sorted(_manifest()["models"])


def pretrained_entry(name: str) -> dict[str, Any]:
    """The manifest entry of ``name`` (file, sha256, config, overrides, metrics, ...)."""
    if not isinstance(name, str):
        raise TypeError(f"a pretrained model name is a string, got {type(name).__name__}")
    models = _manifest()["models"]
    if name not in models:
        raise ValueError(f"unknown pretrained model {name!r}; available: {', '.join(sorted(models))}")
    return dict(models[name])


def pretrained_path(name: str, verify: bool = True) -> str:
    """Path of the shipped checkpoint ``name``, its SHA-256 checked against the manifest (``verify``)."""
    entry = pretrained_entry(name)
    path = shipped_file("pretrained", entry["file"])
    if verify and sha256_of_file(path) != entry["sha256"]:
        raise CheckpointError(f"the shipped checkpoint {path} does not match its manifest checksum (modified or "
                              "corrupted); reinstall hnn-lightning")
    return str(path)


def load_pretrained(name: str, map_location: Any = None) -> pl.LightningModule:
    """Load the pretrained model ``name`` (checksum-verified, weights-only, eval mode) — see :func:`hnn.load`."""
    return load(pretrained_path(name), map_location=map_location)
