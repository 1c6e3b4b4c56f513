"""``LoadableModule``: what every hnn LightningModule shares with the one checkpoint loader, :func:`hnn.load`."""
from __future__ import annotations

from typing import Any

import pytorch_lightning as pl

__all__ = ["LoadableModule"]


class LoadableModule(pl.LightningModule):
    """Records the model class in each checkpoint (``checkpoint["hnn_model_class"]``, which :func:`hnn.load` reads)
    and routes Lightning's ``load_from_checkpoint`` to :func:`hnn.load`."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["hnn_model_class"] = f"{type(self).__module__}.{type(self).__qualname__}"

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning's trainer sets ``_current_fx_name`` (a hook name or None) around every hook call, about forty
        # times per training step; nn.Module.__setattr__ would look the name up in the parameter, buffer and
        # submodule registries each time. It is a plain attribute, so it is stored directly.
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, map_location: Any = None, **kwargs: Any) -> Any:
        """Lightning's conventional name for :func:`hnn.load` (the one loader: safe, rebuilds the injected modules
        from the checkpoint alone, eval mode), restricted to this class. Extra Lightning arguments are not supported."""
        if kwargs:
            raise TypeError(f"load_from_checkpoint takes checkpoint_path and map_location only, got {sorted(kwargs)}")
        from hnn.training.checkpoint import load  # the loader sits in the training room, above the models

        return load(checkpoint_path, map_location=map_location, expected_class=cls)
