"""Registry of named pretrained models: ``hnn.load_pretrained(name)``.

Each entry names a checkpoint file shipped under ``datasets/pretrained/`` in the repository and the config that
trained it. The shipped models are the seed-0 baseline and HNN of the four Table 1 tasks, written by
``python scripts/evaluate.py --export-pretrained datasets/pretrained`` (trained through ``scripts/train.py``'s path
with the config plus ``--seed_everything 0 --data.init_args.seed 0 --data.init_args.val_fraction 0``);
``datasets/pretrained/manifest.json`` records each file's SHA-256 and the metrics measured on it. The table only
lists checkpoints that exist in the repository.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from hnn.models.checkpoint import load

__all__ = ["PretrainedEntry", "REGISTRY", "available_pretrained", "load_pretrained", "PRETRAINED_DIR"]

PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "datasets" / "pretrained"


@dataclass(frozen=True)
class PretrainedEntry:
    """A shipped checkpoint: file (relative to ``datasets/pretrained/``), the config that made it, a description."""

    checkpoint: str
    config: str
    description: str


# name -> entry. Add a row only together with the committed checkpoint file it points to.
REGISTRY: dict[str, PretrainedEntry] = {
    "baseline_spring": PretrainedEntry(
        "baseline_spring.ckpt", "configs/baseline_spring.yaml", "baseline MLP, ideal mass-spring, seed 0"),
    "hnn_spring": PretrainedEntry(
        "hnn_spring.ckpt", "configs/hnn_spring.yaml", "HNN, ideal mass-spring, seed 0"),
    "baseline_pendulum": PretrainedEntry(
        "baseline_pendulum.ckpt", "configs/baseline_pendulum.yaml", "baseline MLP, ideal pendulum, seed 0"),
    "hnn_pendulum": PretrainedEntry(
        "hnn_pendulum.ckpt", "configs/hnn_pendulum.yaml", "HNN, ideal pendulum, seed 0"),
    "baseline_real_pendulum": PretrainedEntry(
        "baseline_real_pendulum.ckpt", "configs/baseline_real_pendulum.yaml", "baseline MLP, real pendulum, seed 0"),
    "hnn_real_pendulum": PretrainedEntry(
        "hnn_real_pendulum.ckpt", "configs/hnn_real_pendulum.yaml", "HNN, real pendulum, seed 0"),
    "baseline_two_body": PretrainedEntry(
        "baseline_two_body.ckpt", "configs/baseline_two_body.yaml", "baseline MLP, two-body problem, seed 0"),
    "hnn_two_body": PretrainedEntry(
        "hnn_two_body.ckpt", "configs/hnn_two_body.yaml", "HNN, two-body problem, seed 0"),
}


def available_pretrained() -> list[str]:
    """Names accepted by :func:`load_pretrained`."""
    return sorted(REGISTRY)


def load_pretrained(name: str, map_location: Any = None) -> pl.LightningModule:
    """Load the pretrained model ``name`` (safely, in eval mode) — see :func:`hnn.load`."""
    if name not in REGISTRY:
        names = available_pretrained()
        raise ValueError(f"unknown pretrained model {name!r}; available: "
                         + (", ".join(names) if names else "none yet (train one with scripts/train.py and load it "
                                                             "with hnn.load(path))"))
    entry = REGISTRY[name]
    path = PRETRAINED_DIR / entry.checkpoint
    if not path.is_file():
        raise FileNotFoundError(f"pretrained checkpoint for {name!r} is missing at {path}; retrain it with "
                                f"python scripts/train.py --config {entry.config}")
    return load(path, map_location=map_location)
