"""Named pretrained models: ``hnn.load_pretrained(name)``.

The registry is the shipped ``pretrained/manifest.json`` (``datasets/pretrained/`` in the repository, ``hnn.datasets``
when installed): one entry per model with its file, SHA-256, size, class, task, seed, the config and overrides that
trained it and the metrics measured on its weights. It is written through :func:`export_pretrained_model` (by
``python scripts/evaluate.py --export-pretrained datasets/pretrained`` for the Table 1 models and ``python
scripts/control.py --train --export-pretrained datasets/pretrained`` for the controlled gym models), and nothing
else lists the models.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from hnn.io import atomic_write_text, sha256_of_file
from hnn.paths import shipped_file
from hnn.training.checkpoint import CheckpointError, atomic_torch_save, load, read_checkpoint

__all__ = ["available_pretrained", "pretrained_entry", "pretrained_path", "load_pretrained",
           "export_pretrained_model"]

# keys of a Lightning checkpoint that a weights-only model file needs (hnn.load, load_from_checkpoint)
_SLIM_KEYS = ("state_dict", "hyper_parameters", "hnn_model_class", "datamodule_hyper_parameters",
              "pytorch-lightning_version", "epoch", "global_step")

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


def export_pretrained_model(checkpoint: str | os.PathLike, directory: str | os.PathLike, name: str,
                            entry: dict[str, Any]) -> dict[str, Any]:
    """Write the training checkpoint ``checkpoint`` as the shipped model ``name``: ``<directory>/<name>.ckpt`` with
    the optimizer state stripped (weights, hyperparameters, class record; no machine-specific data path), checked
    to reload through :func:`hnn.load` with the same weights, and its manifest entry — ``entry`` (config,
    overrides, metrics, command, ...) plus file, sha256, bytes, class and creation time — written into
    ``<directory>/manifest.json`` (other entries kept). Both files are written atomically. Returns the entry."""
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"a pretrained model name is a non-empty string without '/', got {name!r}")
    if not isinstance(entry, dict):
        raise TypeError(f"entry must be a dict of manifest fields, got {type(entry).__name__}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / "manifest.json"
    manifest: dict[str, Any] = {"format": 2, "models": {}}
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest.setdefault("models", {})
        manifest["format"] = 2
    full = read_checkpoint(checkpoint)
    slim = {k: full[k] for k in _SLIM_KEYS if k in full}
    if isinstance(slim.get("datamodule_hyper_parameters"), dict):  # no machine-specific paths in shipped files
        slim["datamodule_hyper_parameters"] = {**slim["datamodule_hyper_parameters"], "cache_dir": None}
    target = directory / f"{name}.ckpt"
    atomic_torch_save(slim, target)
    reloaded, evaluated = load(target), load(checkpoint)  # the shipped file must load and hold the evaluated weights
    for key, value in evaluated.state_dict().items():
        if not torch.equal(reloaded.state_dict()[key], value):
            raise RuntimeError(f"{target}: weight {key!r} differs from the evaluated checkpoint {checkpoint}")
    record = {**entry, "file": target.name, "sha256": sha256_of_file(target), "bytes": target.stat().st_size,
              "class": full.get("hnn_model_class"),
              "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    manifest["models"][name] = record
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return record
