"""Open-loop accuracy of a learned gym model against the real env: error against horizon, valid-prediction time,
and the energy drift of zero-action Pendulum rollouts.

Protocol (one call of :func:`open_loop_accuracy`):

- ``n_starts`` held-out start states drawn uniformly over the env's whole state-space box
  (:data:`hnn.data.gym.WIDE_START_BOXES`) from a generator seeded with ``seed`` (training data use their own seed
  streams), and one uniformly random action per start and step (Discrete: uniform over the actions; Box: uniform
  over the bounds);
- the real env's rollout is its exact batched copy (:meth:`hnn.systems.gym.GymSystem.step`, float64), the learned
  one the learned envs' step (:meth:`~hnn.systems.gym.GymSystem.step_model`: the model's transition, then the env's
  own post-step) in the model's dtype, both for ``horizon`` steps with termination ignored ("unterminated physics");
- the error at step k is the max-abs observation error e_k = max_i |ô_k,i − o_k,i|, and the *k-step error* of a
  start is its running maximum max_{j ≤ k} e_j (the worst deviation over the first k steps);
- the valid-prediction time (VPT) of a start is the number of steps before e_k first exceeds ``threshold``
  (``horizon`` if it never does);
- Pendulum-v1 only: the zero-action rollouts' energy E = ½θ̇² + (3g/2l)·cos θ (the env's H in its own units,
  under which θ̈ = (3g/2l) sin θ), relative drift max_k |E_k − E_0| / (|E_0| + 1) for learned and real.

Figures are medians over starts with the 25–75 % range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor

from hnn.data.gym import WIDE_START_BOXES
from hnn.systems.gym import GymSystem, gym_system
from hnn.validate import check_int, check_positive

__all__ = ["OpenLoopReport", "open_loop_accuracy", "random_actions", "wide_starts", "pendulum_energy"]


@dataclass
class OpenLoopReport:
    """What :func:`open_loop_accuracy` measured. ``k_step_error[k-1]`` is ``[n_starts]`` for horizons 1..H."""

    env_id: str
    horizon: int
    threshold: float
    k_step_error: Tensor  # [H, n_starts] running max of the max-abs observation error
    vpt_steps: Tensor  # [n_starts]
    energy_drift: dict[str, float] = field(default_factory=dict)  # Pendulum: learned / real median relative drift

    def median_error(self, k: int) -> float:
        """Median over starts of the k-step error."""
        return float(self.k_step_error[k - 1].median())

    def error_range(self, k: int) -> tuple[float, float]:
        """25 % and 75 % quantiles over starts of the k-step error."""
        q = torch.quantile(self.k_step_error[k - 1].double(), torch.tensor([0.25, 0.75], dtype=torch.float64))
        return float(q[0]), float(q[1])

    @property
    def median_vpt(self) -> float:
        return float(self.vpt_steps.double().median())

    def curve(self, horizons: Sequence[int] = (1, 5, 10, 20, 50, 100, 200)) -> list[tuple[int, float, float, float]]:
        """``(k, median, q25, q75)`` for each k ≤ horizon."""
        return [(k, self.median_error(k), *self.error_range(k)) for k in horizons if k <= self.horizon]


def wide_starts(system: GymSystem, n: int, generator: torch.Generator) -> Tensor:
    """``n`` states uniform over the env's whole state-space box, float64, env layout."""
    low, high = (torch.tensor(b, dtype=torch.float64) for b in WIDE_START_BOXES[system.env_id])
    return low + (high - low) * torch.rand((n, len(low)), generator=generator, dtype=torch.float64)


def random_actions(system: GymSystem, n: int, steps: int, generator: torch.Generator) -> Tensor:
    """Uniformly random actions ``[steps, n, 1]`` (Box, float64) or ``[steps, n]`` (Discrete, int64)."""
    if system.n_actions is not None:
        return torch.randint(system.n_actions, (steps, n), generator=generator)
    draw = torch.rand((steps, n, 1), generator=generator, dtype=torch.float64)
    return system.action_low + (system.action_high - system.action_low) * draw


def pendulum_energy(state: Tensor) -> Tensor:
    """E = ½θ̇² + (3g/2l) cos θ of Pendulum-v1 states ``[..., 2]`` (conserved by its u = 0 continuous dynamics)."""
    system = gym_system("Pendulum-v1")
    return 0.5 * state[..., 1] ** 2 + 3 * system.g / (2 * system.l) * torch.cos(state[..., 0])


def _real_rollout(system: GymSystem, start: Tensor, actions: Tensor) -> Tensor:
    states = [start]
    for a in actions:
        states.append(system.step(states[-1], a))
    return torch.stack(states)


def _learned_rollout(model: Any, system: GymSystem, start: Tensor, actions: Tensor) -> Tensor:
    parameter = next(model.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float32
    device = parameter.device if parameter is not None else torch.device("cpu")
    state = start.to(device, dtype)
    states = [state]
    with torch.no_grad():
        for a in actions:
            state = system.step_model(model.transition, state, a.to(device, dtype if a.is_floating_point() else a.dtype))
            states.append(state)
    return torch.stack(states).to("cpu", torch.float64)


def open_loop_accuracy(model: Any, env_id: str, n_starts: int = 200, horizon: int = 200, seed: int = 12345,
                       threshold: float = 0.1) -> OpenLoopReport:
    """Run the protocol of the module docstring for ``model`` (a controlled DynamicsModule of ``env_id``)."""
    n_starts = check_int("n_starts", n_starts, minimum=1)
    horizon = check_int("horizon", horizon, minimum=1)
    threshold = check_positive("threshold", threshold)
    system = gym_system(env_id)
    if not callable(getattr(model, "transition", None)) or not getattr(getattr(model, "field", None), "n_u", None):
        raise ValueError(f"open_loop_accuracy needs a controlled DynamicsModule (a field with an input u), got "
                         f"{type(model).__name__}")
    generator = torch.Generator().manual_seed(int(seed))
    starts = wide_starts(system, n_starts, generator)
    if system.env_id == "MountainCarContinuous-v0":
        starts = starts.to(torch.float32).to(torch.float64)  # the env stores its state in float32
    actions = random_actions(system, n_starts, horizon, generator)
    real = _real_rollout(system, starts, actions)
    learned = _learned_rollout(model, system, starts, actions)
    errors = (system.observation(learned[1:]) - system.observation(real[1:])).abs().amax(-1)  # [H, n]
    errors = torch.nan_to_num(errors, nan=math.inf)
    k_step = torch.cummax(errors, dim=0).values
    exceeded = errors > threshold
    first = torch.where(exceeded.any(0), exceeded.float().argmax(0), torch.full((n_starts,), horizon))
    report = OpenLoopReport(env_id, horizon, threshold, k_step.float(), first)
    if env_id == "Pendulum-v1":
        zero = torch.zeros_like(actions)
        for name, rollout in (("learned", _learned_rollout(model, system, starts, zero)),
                              ("real", _real_rollout(system, starts, zero))):
            energy = pendulum_energy(rollout)
            drift = (energy - energy[0]).abs().amax(0) / (energy[0].abs() + 1.0)
            report.energy_drift[name] = float(drift.median())
    return report
