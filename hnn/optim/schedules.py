"""Learning-rate schedules for the step-length optimizers in :mod:`hnn.optim`."""
from __future__ import annotations

import math

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["InverseSqrtLR"]


class InverseSqrtLR(LRScheduler):
    r"""Inverse-square-root decay with optional linear warm-up, for optimizer step t = 1, 2, ...:

    .. math::
        \eta_t = \eta_0 / \sqrt{t}                          \quad\text{(warmup = 0)},\qquad
        \eta_t = \eta_0 \min\!\big(t/w,\ \sqrt{w/t}\big)    \quad\text{(warmup = w > 0)}

    (continuous at t = w, where η_w = η₀; warmup = 1 equals warmup = 0). η₀ is each group's initial lr.

    Why 1/√t: :class:`hnn.optim.HamiltonianOptimizer` takes steps of length ≈ η_t, so it settles within ~η_t of
    a minimum; Σ η_t diverges (it can travel any distance) while η_t → 0 (the ball it rattles in shrinks).

    Call ``scheduler.step()`` after every ``optimizer.step()``. Under Lightning, t counts whatever the scheduler's
    interval is: LightningCLI's ``--lr_scheduler`` steps once per *epoch* by default; return
    ``{"scheduler": ..., "interval": "step"}`` from ``configure_optimizers`` to decay per optimizer step.
    """

    def __init__(self, optimizer: Optimizer, warmup: int = 0, last_epoch: int = -1) -> None:
        if isinstance(warmup, bool) or not isinstance(warmup, int):
            raise TypeError(f"warmup must be an int number of steps, got {type(warmup).__name__}")
        if warmup < 0:
            raise ValueError(f"invalid warmup={warmup}: must be >= 0")
        self.warmup = warmup
        super().__init__(optimizer, last_epoch)

    def lr_factor(self, step: int) -> float:
        """η_t/η₀ at optimizer step t = ``step`` ≥ 1."""
        if step < 1:
            raise ValueError(f"step must be >= 1, got {step}")
        if self.warmup <= 1:
            return 1.0 / math.sqrt(step)
        if step <= self.warmup:
            return step / self.warmup
        return math.sqrt(self.warmup / step)

    def get_lr(self) -> list[float | Tensor]:
        # torch's last_epoch is 0 while the first optimizer step runs, so t = last_epoch + 1.
        factor = self.lr_factor(self.last_epoch + 1)
        return [base_lr * factor for base_lr in self.base_lrs]

    def _get_closed_form_lr(self) -> list[float | Tensor]:
        return self.get_lr()
