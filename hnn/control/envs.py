"""The planner on the four classic-control envs: dynamics functions, per-env objectives and planner settings.

A *dynamics function* ``step(state [N, d], action [N, ...]) -> (next_state, reward, terminated)`` in the env's own
state layout (``env.unwrapped.state``) is what :class:`hnn.control.CEMPlanner` plans through:

- :func:`true_dynamics` — the exact batched copy of the env (:func:`hnn.systems.gym.gym_system` ``.step``) with
  the env's reward and termination (:func:`hnn.envs.tasks.task`);
- :func:`learned_dynamics` — one step of a learned controlled model the way the learned envs step
  (:meth:`hnn.systems.gym.GymSystem.step_model`: the model's transition, then the env's own clips, walls and wraps),
  with the same reward and termination. The state is cast to the model's device and dtype and the results back.

Per-env objectives (:data:`SHAPING`, added to the sequence return by the planner):

==========================  ===========================================================================
env                         objective
==========================  ===========================================================================
Pendulum-v1                 the return
Acrobot-v1                  reach the line soonest, else the highest tip: the return (−1 per step before
                            the terminating one) plus, for a sequence that never reaches the line,
                            ½·(h + 2)/3 ∈ [0, ½] with h the highest tip height −cos θ1 − cos(θ1 + θ2)
                            over the horizon, so reaching always beats not reaching
CartPole-v1                 the return plus the tie-break −1e-3·Σ_t (θ² + 0.1 x²) over the live steps'
                            next states (below 0.03 over a horizon of 40: it orders equal returns only)
MountainCarContinuous-v0    the return
==========================  ===========================================================================

:data:`REFERENCE_SETTINGS` are the planner settings of the reference measurements (``scripts/control.py``);
:data:`QUICK_SETTINGS` are much smaller ones for smoke runs (not the reference settings).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

from hnn.control.cem import DISTRIBUTIONS, CEMPlanner, Dynamics, Rollout
from hnn.envs.tasks import task
from hnn.systems.gym import gym_system
from hnn.validate import check_choice, check_int

__all__ = ["PlannerSettings", "REFERENCE_SETTINGS", "QUICK_SETTINGS", "SHAPING", "true_dynamics",
           "learned_dynamics", "make_planner", "acrobot_objective", "cartpole_tiebreak"]


@dataclass(frozen=True)
class PlannerSettings:
    """The CEM settings of one env (see :class:`hnn.control.CEMPlanner` for each field's meaning)."""

    distribution: str
    horizon: int
    samples: int
    iterations: int
    elites: int
    smoothing: float = 0.0
    pull: float = 0.0
    block: int = 1

    def describe(self) -> str:
        """One line, e.g. ``gaussian CEM, horizon 30, 400 samples, 5 iterations, 40 elites``."""
        text = (f"{self.distribution} CEM, horizon {self.horizon}, {self.samples} samples, {self.iterations} "
                f"iterations, {self.elites} elites")
        if self.block > 1:
            text += f", noise held over {self.block}-step blocks"
        if self.smoothing:
            text += f", smoothing {self.smoothing:g}"
        if self.pull:
            text += f", pulled {self.pull:g} of the way to the prior after each shift"
        return text

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


REFERENCE_SETTINGS: dict[str, PlannerSettings] = {
    "Pendulum-v1": PlannerSettings("gaussian", horizon=30, samples=400, iterations=5, elites=40),
    "Acrobot-v1": PlannerSettings("categorical", horizon=30, samples=400, iterations=3, elites=30, smoothing=0.8),
    "CartPole-v1": PlannerSettings("bernoulli", horizon=40, samples=200, iterations=3, elites=20, smoothing=0.8,
                                   pull=0.5),
    "MountainCarContinuous-v0": PlannerSettings("gaussian", horizon=100, samples=300, iterations=4, elites=30,
                                                block=5),
}

# smoke-run settings: same distributions and horizons, a fraction of the samples and iterations
QUICK_SETTINGS: dict[str, PlannerSettings] = {
    "Pendulum-v1": PlannerSettings("gaussian", horizon=20, samples=100, iterations=2, elites=10),
    "Acrobot-v1": PlannerSettings("categorical", horizon=20, samples=100, iterations=2, elites=10, smoothing=0.8),
    "CartPole-v1": PlannerSettings("bernoulli", horizon=20, samples=50, iterations=2, elites=5, smoothing=0.8,
                                   pull=0.5),
    "MountainCarContinuous-v0": PlannerSettings("gaussian", horizon=50, samples=100, iterations=2, elites=10,
                                                block=5),
}


def acrobot_objective(rollout: Rollout) -> Tensor:
    """Acrobot-v1's shaping: ½·(h_max + 2)/3 for a sequence that never reaches the line, 0 for one that does
    (h_max: the highest tip height −cos θ1 − cos(θ1 + θ2) of the next states over the horizon)."""
    states = rollout.states[1:]
    tip = -torch.cos(states[..., 0]) - torch.cos(states[..., 0] + states[..., 1])
    reached = (rollout.terminated & rollout.alive).any(0)
    bonus = 0.5 * (tip.max(0).values.clamp(-2.0, 1.0) + 2.0) / 3.0
    return torch.where(reached, torch.zeros_like(bonus), bonus)


def cartpole_tiebreak(rollout: Rollout) -> Tensor:
    """CartPole-v1's tie-break: −1e-3·Σ_t alive_t (θ_{t+1}² + 0.1 x_{t+1}²)."""
    states = rollout.states[1:]
    cost = states[..., 2] ** 2 + 0.1 * states[..., 0] ** 2
    return -1e-3 * (cost * rollout.alive.to(cost.dtype)).sum(0)


SHAPING = {"Pendulum-v1": None, "Acrobot-v1": acrobot_objective, "CartPole-v1": cartpole_tiebreak,
           "MountainCarContinuous-v0": None}


def true_dynamics(env_id: str) -> Dynamics:
    """The env's exact batched dynamics, reward and termination as a dynamics function."""
    system, env_task = gym_system(env_id), task(env_id)

    def step(state: Tensor, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        next_state = system.step(state, action)
        return next_state, env_task.reward(state, action, next_state), env_task.terminated(next_state)

    step.__qualname__ = f"true_dynamics({env_id!r})"
    return step


def learned_dynamics(env_id: str, model: Any) -> Dynamics:
    """One learned step of ``model`` (a controlled :class:`hnn.models.DynamicsModule` of ``env_id``, checked as the
    learned envs check it) followed by the env's post-step, with the env's reward and termination."""
    from hnn.envs.core import LearnedDynamics  # imports gymnasium; the true dynamics do not need it

    learned = LearnedDynamics(env_id, model=model)  # TypeError/ValueError for a model that does not fit the env
    system, env_task, transition = learned.system, learned.task, model.transition
    device, dtype = learned.device, learned.dtype

    def step(state: Tensor, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        s = state.to(device=device, dtype=dtype)
        a = action.to(device=device, dtype=dtype if action.is_floating_point() else action.dtype)
        next_state = system.step_model(transition, s, a)
        reward, done = env_task.reward(s, a, next_state), env_task.terminated(next_state)
        return next_state.to(state), reward.to(state), done.to(state.device)

    step.__qualname__ = f"learned_dynamics({env_id!r}, {type(model).__name__})"
    return step


def make_planner(env_id: str, dynamics: Dynamics, settings: PlannerSettings | None = None, seed: int = 0,
                 shaping: bool = True) -> CEMPlanner:
    """A :class:`CEMPlanner` for ``env_id`` planning through ``dynamics``: the env's action space (Box bounds or
    number of actions), ``settings`` (default :data:`REFERENCE_SETTINGS`), and the env's objective from
    :data:`SHAPING` unless ``shaping=False``."""
    system = gym_system(env_id)  # ValueError naming the supported envs
    settings = REFERENCE_SETTINGS[env_id] if settings is None else settings
    if not isinstance(settings, PlannerSettings):
        raise TypeError(f"settings must be a PlannerSettings, got {type(settings).__name__}")
    check_choice("settings.distribution", settings.distribution, DISTRIBUTIONS)
    check_int("seed", seed)
    kwargs: dict[str, Any] = {}
    if system.n_actions is None:
        if settings.distribution != "gaussian":
            raise ValueError(f"{env_id} has a Box action space: plan it with the gaussian distribution, not "
                             f"{settings.distribution!r}")
        kwargs.update(action_low=system.action_low, action_high=system.action_high)
    else:
        if settings.distribution == "gaussian":
            raise ValueError(f"{env_id} has Discrete({system.n_actions}) actions: plan it with the categorical "
                             "distribution" + (" or the bernoulli one" if system.n_actions == 2 else ""))
        if settings.distribution == "bernoulli" and system.n_actions != 2:
            raise ValueError(f"the bernoulli distribution needs 2 actions; {env_id} has {system.n_actions}")
        kwargs.update(n_actions=system.n_actions)
    return CEMPlanner(dynamics, distribution=settings.distribution, horizon=settings.horizon,
                      samples=settings.samples, iterations=settings.iterations, elites=settings.elites,
                      smoothing=settings.smoothing, pull=settings.pull, block=settings.block,
                      shaping=SHAPING[env_id] if shaping else None, seed=seed, **kwargs)
