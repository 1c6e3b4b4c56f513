"""Registry of named pretrained models: ``hnn.load_pretrained(name)``.

Each entry names a checkpoint file shipped under ``pretrained/`` in the repository and the config that trained
it (so ``python scripts/train.py --config <config>`` reproduces it). The table only lists checkpoints that
actually exist in the repository; it is empty until trained checkpoints are committed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from hnn.models.checkpoint import load

__all__ = ["PretrainedEntry", "REGISTRY", "available_pretrained", "load_pretrained", "PRETRAINED_DIR"]

PRETRAINED_DIR = Path(__file__).resolve().parents[2] / "pretrained"


@dataclass(frozen=True)
class PretrainedEntry:
    """A shipped checkpoint: file (relative to ``pretrained/``), the config that made it, and a description."""

    checkpoint: str
    config: str
    description: str


# name -> entry. Add a row only together with the committed checkpoint file it points to.
REGISTRY: dict[str, PretrainedEntry] = {}


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
