"""Reference rollouts: starting states, times and the trajectories a learned model's rollout is judged against.

A :class:`ReferenceRollouts` is built by whoever owns the data — ``HamiltonianDataModule.reference_rollouts`` for a
task (the simulated-vs-recorded decision is made there, once), or a protocol such as Table 1's — and consumed by the
one metric, :func:`hnn.evaluation.evaluate_rollouts` (validation monitor, ``train.py``'s summary, Table 1).

It holds one or more :class:`RolloutGroup`s (starting states that share a time grid) and the reference energy
``energy(x) -> [...]`` the rollouts are scored with (``None`` when the data has none, e.g. a recording with no
fitted Hamiltonian).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor

__all__ = ["RolloutGroup", "ReferenceRollouts"]


@dataclass
class RolloutGroup:
    """Starting states ``x0 [K, dim]``, model times ``t_model [T]``, reference times ``t_truth [T]`` (equal to
    ``t_model`` except in protocols that compare on different grids) and reference states ``truth [T, K, dim]``."""

    x0: Tensor
    t_model: Tensor
    t_truth: Tensor
    truth: Tensor

    def __post_init__(self) -> None:
        T, K = len(self.t_truth), self.x0.shape[0]
        if self.x0.ndim != 2 or len(self.t_model) != T or self.truth.shape != (T, K, self.x0.shape[-1]):
            raise ValueError(f"a rollout group needs x0 [K, dim], t_model and t_truth [T] and truth [T, K, dim]; got "
                             f"x0 {tuple(self.x0.shape)}, t_model {tuple(self.t_model.shape)}, t_truth "
                             f"{tuple(self.t_truth.shape)}, truth {tuple(self.truth.shape)}")

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> "RolloutGroup":
        return RolloutGroup(*(v.to(dtype=dtype, device=device) for v in (self.x0, self.t_model, self.t_truth,
                                                                         self.truth)))


@dataclass
class ReferenceRollouts:
    """Rollouts to compare against, with the energy that scores them.

    Attributes:
        groups: the rollout groups (all start at the same time).
        energy: reference energy H_ref(x) ``[..., dim] -> [...]``, or None.
        conservative: H_ref is conserved along the reference (energy drift of a rollout is then an error).
        energy_label: how H_ref is written (for tables and figures).
        description: one line saying where the starts, times and trajectories come from.
        system: the ground-truth system that made the trajectories (None for a recording).
    """

    groups: list[RolloutGroup]
    energy: Callable[[Tensor], Tensor] | None
    conservative: bool
    energy_label: str
    description: str
    system: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.groups:
            raise ValueError("reference rollouts need at least one group")
        t0 = float(self.groups[0].t_model[0])
        if any(float(g.t_model[0]) != t0 for g in self.groups):
            raise ValueError("all rollout groups must start at the same time")

    @classmethod
    def single(cls, x0: Tensor, t: Tensor, truth: Tensor, **kwargs: Any) -> "ReferenceRollouts":
        """One group with the same times for the model and the reference."""
        return cls(groups=[RolloutGroup(x0=x0, t_model=t, t_truth=t, truth=truth)], **kwargs)

    @property
    def n_starts(self) -> int:
        return sum(int(g.x0.shape[0]) for g in self.groups)

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> "ReferenceRollouts":
        """A copy with every tensor in ``dtype`` on ``device``."""
        return ReferenceRollouts(groups=[g.to(dtype, device) for g in self.groups], energy=self.energy,
                                 conservative=self.conservative, energy_label=self.energy_label,
                                 description=self.description, system=self.system, extra=dict(self.extra))
