"""What makes a gymnasium classic-control env a *task*: its reward, termination and reset distribution, in torch.

The physics of the four envs lives in :mod:`hnn.systems.gym`; this module holds the rest of each env's ``step`` and
``reset``, written once as batched torch functions in the env's own state layout (``env.unwrapped.state``) and used
by both learned envs (:class:`hnn.envs.LearnedDynamicsEnv`, :class:`hnn.envs.LearnedVectorEnv`):

- ``reward(state, action, next_state) -> [...]``: ``state`` is the pre-step state, ``action`` the env's action as
  the agent gave it (``[..., 1]`` floats for Box spaces, before the env's own clipping; integers ``[...]`` for
  Discrete spaces) and ``next_state`` the post-step state;
- ``terminated(state) -> [...]`` (bool), evaluated on the post-step state;
- ``sample_initial(n, generator, ...) -> [n, state_dim]``: ``n`` draws from the env's ``reset`` distribution.

==========================  ========================================================  ==============================
env                         reward r(s_t, a_t, s_{t+1}) and termination               reset distribution
==========================  ========================================================  ==============================
Pendulum-v1                 −(wrap(θ_t)² + 0.1 θ̇_t² + 0.001 u²), u = clip(a, ±2): the  θ ~ U(−π, π), θ̇ ~ U(−1, 1)
                            *pre-step* θ, θ̇ and the clipped torque; never terminates
Acrobot-v1                  −1, or 0 on the terminating step; terminal when           θ1, θ2, θ̇1, θ̇2 ~ U(−0.1, 0.1)
                            −cos θ1 − cos(θ1 + θ2) > 1 (tip above the bar)            (rounded to float32, as the env)
CartPole-v1                 1 per step, the terminating one included; terminal at     x, ẋ, θ, θ̇ ~ U(−0.05, 0.05)
                            |x| > 2.4 or |θ| > 12°
MountainCarContinuous-v0    100·terminated − 0.1 a², with the *unclipped* action a    x ~ U(−0.6, −0.4), v = 0
                            (the env charges the action it was given); terminal
                            when x ≥ 0.45 and v ≥ 0
==========================  ========================================================  ==============================

The distributions are the envs' defaults; their ``options`` that change the reset bounds are not reproduced (the
learned envs take an explicit start state instead). Draws use a ``torch.Generator``, so they follow the real env's
distribution, not its random stream: the same seed gives other starts than the real env's.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from hnn.systems.gym import (CartPoleSystem, GymSystem, MountainCarContinuousSystem, PendulumSystem,
                             gym_system, wrap_angle)

__all__ = ["Task", "PendulumTask", "AcrobotTask", "CartPoleTask", "MountainCarContinuousTask", "TASKS", "task"]


class Task:
    """One env's reward, termination and reset distribution (batched torch; module docstring).

    Attributes:
        env_id: the gymnasium id.  system: its :class:`~hnn.systems.gym.GymSystem`.
        reset_low, reset_high: per state entry, the bounds of the uniform reset distribution (equal bounds: that
            entry is fixed).  reset_float32: the env rounds its reset state to float32.
    """

    env_id: str
    reset_low: tuple[float, ...]
    reset_high: tuple[float, ...]
    reset_float32: bool = False

    @property
    def system(self) -> GymSystem:
        return gym_system(self.env_id)

    def reward(self, state: Tensor, action: Tensor, next_state: Tensor) -> Tensor:
        """r(s_t, a_t, s_{t+1}) ``[...]`` in the dtype of ``state``."""
        raise NotImplementedError

    def terminated(self, state: Tensor) -> Tensor:
        """True ``[...]`` where ``state`` ends the episode (the env checks its post-step state)."""
        return torch.zeros(state.shape[:-1], dtype=torch.bool, device=state.device)

    def sample_initial(self, n: int, generator: torch.Generator | None = None, *, dtype: torch.dtype = torch.float64,
                       device: torch.device | str | None = None) -> Tensor:
        """``n`` start states ``[n, state_dim]`` from the env's reset distribution (``generator`` on ``device``)."""
        low = torch.tensor(self.reset_low, dtype=torch.float64, device=device)
        high = torch.tensor(self.reset_high, dtype=torch.float64, device=device)
        draw = torch.rand((n, len(self.reset_low)), generator=generator, dtype=torch.float64, device=device)
        state = low + (high - low) * draw
        if self.reset_float32:
            state = state.to(torch.float32)
        return state.to(dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id!r})"


class PendulumTask(Task):
    env_id = "Pendulum-v1"
    reset_low, reset_high = (-math.pi, -1.0), (math.pi, 1.0)

    def reward(self, state: Tensor, action: Tensor, next_state: Tensor) -> Tensor:
        system = PendulumSystem
        u = torch.clamp(action[..., 0], system.action_low, system.action_high).to(state.dtype)
        th, thdot = state[..., 0], state[..., 1]
        # the env's angle_normalize is ((x + π) % 2π) − π: the same wrap
        return -(wrap_angle(th) ** 2 + 0.1 * thdot ** 2 + 0.001 * u ** 2)


class AcrobotTask(Task):
    env_id = "Acrobot-v1"
    reset_low, reset_high = (-0.1,) * 4, (0.1,) * 4
    reset_float32 = True

    def terminated(self, state: Tensor) -> Tensor:
        return -torch.cos(state[..., 0]) - torch.cos(state[..., 1] + state[..., 0]) > 1.0

    def reward(self, state: Tensor, action: Tensor, next_state: Tensor) -> Tensor:
        done = self.terminated(next_state)
        return torch.where(done, 0.0, -1.0).to(next_state.dtype)


class CartPoleTask(Task):
    env_id = "CartPole-v1"
    reset_low, reset_high = (-0.05,) * 4, (0.05,) * 4

    def terminated(self, state: Tensor) -> Tensor:
        x, theta = state[..., 0], state[..., 2]
        return (x.abs() > CartPoleSystem.x_threshold) | (theta.abs() > CartPoleSystem.theta_threshold)

    def reward(self, state: Tensor, action: Tensor, next_state: Tensor) -> Tensor:
        return torch.ones(next_state.shape[:-1], dtype=next_state.dtype, device=next_state.device)


class MountainCarContinuousTask(Task):
    env_id = "MountainCarContinuous-v0"
    reset_low, reset_high = (-0.6, 0.0), (-0.4, 0.0)

    def terminated(self, state: Tensor) -> Tensor:
        system = MountainCarContinuousSystem
        return (state[..., 0] >= system.goal_position) & (state[..., 1] >= system.goal_velocity)

    def reward(self, state: Tensor, action: Tensor, next_state: Tensor) -> Tensor:
        a = action[..., 0].to(next_state.dtype)
        return 100.0 * self.terminated(next_state).to(next_state.dtype) - 0.1 * a ** 2


TASKS: dict[str, Task] = {t.env_id: t for t in (PendulumTask(), AcrobotTask(), CartPoleTask(),
                                                MountainCarContinuousTask())}


def task(env_id: str) -> Task:
    """The :class:`Task` of ``env_id``; ValueError listing the supported ids otherwise."""
    gym_system(env_id)  # TypeError / ValueError naming the supported ids
    return TASKS[env_id]
