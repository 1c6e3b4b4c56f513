"""Checkpoints: safe loading (``hnn.load``) and crash-safe writing (``AtomicCheckpointIO``).

``load(path)`` is the one way hnn loads a checkpoint. It reads the file with ``torch.load(weights_only=True)``: only
tensors and plain containers are unpickled, so a file carrying a pickled code payload is refused instead of executed.
The model class is taken from the checkpoint's class record and must be one of hnn's LightningModules
(:data:`MODEL_CLASSES`; no other module is ever imported because a file says so). The model
is rebuilt from the record of its injected network in its hyperparameters (``field``:
``{"class_path": "hnn.nn.<Field>", "init_args": {...}}``, see :func:`hnn.nn.build_field`) and its other plain
hyperparameters — no config file needed; the weights are loaded strictly and the model is
returned in eval mode. Checkpoints of hnn 0.1 (classes ``HNN``/``BaselineMLP``/``DissipativeHNN``) are refused with a
message saying so.

Lightning writes checkpoints through fsspec's local "transaction": a temp file from ``tempfile.mkstemp()`` in
the *system* temp folder, then ``shutil.move`` to the target. When that folder is on another filesystem than the
run folder (common: tmpfs /tmp), the move is a copy straight into ``last.ckpt``, and a process killed during
that copy leaves a truncated ``last.ckpt``; nothing is fsynced either. :class:`AtomicCheckpointIO` writes to a
temp file in the checkpoint's own folder, fsyncs it, and ``os.replace``-s it over the target (atomic on POSIX
and Windows), so a run killed at any point leaves either the old or the new checkpoint, never a torn one.
"""
from __future__ import annotations

import importlib
import inspect
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from hnn.io import atomic_write

__all__ = ["load", "read_checkpoint", "resolve_model_class", "peek_class", "AtomicCheckpointIO", "CheckpointError",
           "MODEL_CLASSES", "atomic_torch_save"]

# keys this project's checkpoints use to record the model class
CLASS_KEY = "hnn_model_class"
MODEL_CLASSES = ("hnn.models.dynamics.DynamicsModule", "hnn.models.energy.EnergyModel", "hnn.models.gan.HamiltonianGAN")
# classes of hnn 0.1 checkpoints (one LightningModule per architecture, before fields were injected)
_OLD_CLASSES = ("hnn.models.hamiltonian.HNN", "hnn.models.hamiltonian.DissipativeHNN", "hnn.models.baseline.BaselineMLP")


class CheckpointError(ValueError):
    """A file that is not a loadable hnn checkpoint (unreadable, unsafe, truncated, or of the wrong class)."""


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)`` through :func:`hnn.io.atomic_write` (temp file in the same folder, fsync, rename)."""
    atomic_write(path, lambda handle: torch.save(obj, handle))


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning CheckpointIO whose local saves are atomic (temp file in the same folder + ``os.replace``).

    Remote URLs (``s3://``, ...) fall back to Lightning's own writer.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        atomic_torch_save(checkpoint, path)


def read_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint dict safely (``weights_only=True``); raise :class:`CheckpointError` naming the problem."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {str(path)!r}")
    if not path.is_file():
        raise CheckpointError(f"{str(path)!r} is not a file (expected a .ckpt checkpoint file)")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        globals_line = next((ln.strip() for ln in text.splitlines() if "Unsupported global" in ln), None)
        if globals_line is not None:
            raise CheckpointError(
                f"refusing to load {str(path)!r}: it contains pickled objects other than tensors and plain "
                f"containers, which could run code when unpickled ({globals_line}). hnn checkpoints never do; only "
                "load files you trust, with torch.load(weights_only=False)."
            ) from None
        reason = next((ln.strip() for ln in text.splitlines()
                       if ln.strip() and not ln.startswith(("Weights only", "Please file", "Check the"))), text)
        raise CheckpointError(f"{str(path)!r} is not a readable checkpoint (corrupt, truncated or not a torch "
                              f"file): {reason}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError, AttributeError,
            IndexError, TypeError) as err:
        raise CheckpointError(
            f"{str(path)!r} is not a readable checkpoint (truncated, corrupt or not a torch file): "
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        kind = type(checkpoint).__name__
        raise CheckpointError(f"{str(path)!r} is a torch file but not a Lightning checkpoint (a {kind} without a "
                              "'state_dict' entry)")
    return checkpoint


def _class_path_of(checkpoint: dict[str, Any]) -> str | None:
    path = checkpoint.get(CLASS_KEY)
    return path if isinstance(path, str) else None


def resolve_model_class(class_path: str) -> type[pl.LightningModule]:
    """The hnn model class named by a checkpoint's class record (only :data:`MODEL_CLASSES` are imported)."""
    if class_path in _OLD_CLASSES:
        raise CheckpointError(f"the checkpoint holds a {class_path.rsplit('.', 1)[1]} of hnn 0.1, whose models built "
                              "their own networks; hnn 0.2 injects a field into DynamicsModule (hnn.nn.HamiltonianField, "
                              "BaselineField, DissipativeField). Retrain it with the current config "
                              "(python scripts/train.py --config ...), or load it with hnn-lightning 0.1")
    if class_path not in MODEL_CLASSES:
        raise CheckpointError(f"the checkpoint names the model class {class_path!r}, which is not an hnn model "
                              f"class; hnn.load rebuilds only {', '.join(MODEL_CLASSES)}")
    module_name, _, attr = class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


# constructor arguments that take factories (their hparams hold a description, or None): never passed back
_FACTORIES = ("optimizer", "scheduler", "generator_optimizer", "discriminator_optimizer")


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("class_path"), str)


def _build_model(cls: type, hparams: dict[str, Any], path: Any) -> pl.LightningModule:
    """``cls(field=build_field(hparams["field"]), **the other constructor arguments)``: every argument recorded as an
    ``hnn.nn`` module record (``{"class_path": "hnn.nn.<Class>", ...}``: the field, a discriminator) is rebuilt with
    :func:`hnn.nn.build_field`; other records (optimizer and scheduler factories) are left at their defaults — a
    loaded model is for use, and its weights do not depend on them; plain values are passed as they are."""
    from hnn.nn import build_field

    if not isinstance(hparams.get("field"), dict):
        raise CheckpointError(f"{str(path)!r} has no field record in its hyperparameters (hparams['field']); it was "
                              "not written by an hnn 0.2 model")
    names = [n for n in inspect.signature(cls.__init__).parameters if n != "self" and n in hparams]
    try:
        kwargs = {}
        for name in names:
            value = hparams[name]
            if name == "field" or _is_record(value) and value["class_path"].startswith("hnn.nn."):
                kwargs[name] = build_field(value)
            elif not _is_record(value) and name not in _FACTORIES:
                kwargs[name] = value
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"cannot rebuild {cls.__name__} from the hyperparameters in {str(path)!r}: {err}") \
            from None


def load(path: str | os.PathLike, map_location: Any = None, expected_class: type | None = None,
         strict: bool = True) -> pl.LightningModule:
    """Load any hnn checkpoint safely: the right model class, its weights, in eval mode.

    Args:
        path: a ``.ckpt`` written by ``scripts/train.py`` / Lightning for an hnn model.
        map_location: where to put the tensors (default: CPU).
        expected_class: if given, the checkpoint's class must be this class or a subclass of it.
        strict: load the state dict strictly (missing or unexpected weights raise).

    Raises:
        FileNotFoundError: no such file.
        CheckpointError (a ValueError): unreadable / truncated / non-checkpoint file, a pickled code payload, an
            unknown, non-hnn or hnn-0.1 class, a class other than ``expected_class``, or weights that do not fit.
    """
    checkpoint = read_checkpoint(path, map_location="cpu" if map_location is None else map_location)
    class_path = _class_path_of(checkpoint)
    if class_path is None:
        raise CheckpointError(f"{str(path)!r} does not record which model class it holds (no {CLASS_KEY!r} entry); "
                              "it was not written by an hnn model")
    cls = resolve_model_class(class_path)
    if expected_class is not None and not issubclass(cls, expected_class):
        raise CheckpointError(f"{str(path)!r} holds a {cls.__name__} checkpoint, not a {expected_class.__name__}")
    hparams = checkpoint.get("hyper_parameters") or {}
    if not isinstance(hparams, dict):
        raise CheckpointError(f"{str(path)!r} has malformed hyperparameters ({type(hparams).__name__})")
    model = _build_model(cls, hparams, path)
    try:
        model.load_state_dict(checkpoint["state_dict"], strict=strict)
    except RuntimeError as err:
        raise CheckpointError(f"the weights in {str(path)!r} do not fit {cls.__name__}: "
                              f"{str(err).splitlines()[0]}") from None
    if isinstance(map_location, (str, torch.device)):
        model = model.to(map_location)
    return model.eval()


def peek_class(path: str | os.PathLike) -> type | None:
    """The model class recorded in a checkpoint (safely read), or None when it records none."""
    class_path = _class_path_of(read_checkpoint(path))
    return None if class_path is None else resolve_model_class(class_path)
