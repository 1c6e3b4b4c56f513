"""Training callbacks used by ``scripts/train.py``."""
from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

__all__ = ["NonFiniteLossError", "FiniteLossGuard", "last_good_checkpoint"]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the message names the step and the last good checkpoint."""


def last_good_checkpoint(trainer: pl.Trainer) -> str | None:
    """Path of the most recent checkpoint this run saved (last.ckpt, else the best one), or None."""
    for callback in trainer.checkpoint_callbacks:
        for path in (getattr(callback, "last_model_path", ""), getattr(callback, "best_model_path", "")):
            if path:
                return path
    return None


class FiniteLossGuard(pl.Callback):
    """Stop training with :class:`NonFiniteLossError` as soon as the loss is NaN/inf.

    The check runs before ``backward``, so the non-finite loss never reaches the weights or the optimizer state,
    and no checkpoint is written after it: the last checkpoint on disk is the last good one.
    Under multi-process training the decision is shared by all ranks (one tiny all-reduce per step).
    """

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: Tensor) -> None:
        bad = not bool(torch.isfinite(loss.detach()).all())
        if trainer.world_size > 1:
            bad = bool(trainer.strategy.reduce_boolean_decision(bad, all=False))
        if bad:
            value = loss.detach().float().cpu().tolist()
            ckpt = last_good_checkpoint(trainer)
            raise NonFiniteLossError(
                f"training stopped: the loss became {value} at step {trainer.global_step} "
                f"(epoch {trainer.current_epoch}). Last good checkpoint: "
                + (f"{ckpt} (resume with --ckpt_path {ckpt}, e.g. with a lower --model.lr)" if ckpt
                   else "none saved yet (the run failed before its first checkpoint)")
            )

    def state_dict(self) -> dict[str, Any]:
        return {}
