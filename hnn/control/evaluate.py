"""Closed-loop evaluation in the real gymnasium env: a planner (or the random policy) acting for whole episodes.

One episode (:func:`run_episode`): ``env = gymnasium.make(env_id)`` (the registered time limit included),
``env.reset(seed=seed)``; then, every step, the planner plans from the env's true state ``env.unwrapped.state``
(copied to a float64 torch tensor) and the first planned action is executed with ``env.step``; the episode's return
is the sum of the real env's rewards until it terminates or is truncated (or after ``max_steps`` steps, for smoke
runs). The planner is reset and reseeded with the episode's seed first, so an episode depends only on its seed.

The random policy (:func:`random_episode`) samples ``env.action_space`` seeded with the episode's seed.

:func:`mean_std` summarises returns over seeds as the mean and the *sample* standard deviation (ddof = 1; None for a
single seed).
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
import torch

from hnn.control.cem import CEMPlanner
from hnn.systems.gym import gym_system
from hnn.validate import check_int

__all__ = ["Episode", "run_episode", "random_episode", "evaluate", "mean_std"]


@dataclass
class Episode:
    """One real-env episode: its seed, return, length, whether it terminated (reached the goal / the line; for
    CartPole: the pole fell), and its wall time."""

    seed: int
    ret: float
    steps: int
    terminated: bool
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _env_action(action: torch.Tensor, space: gym.Space) -> Any:
    if isinstance(space, gym.spaces.Discrete):
        return int(action)
    return np.asarray(action.detach().cpu().numpy(), dtype=space.dtype).reshape(space.shape)


def _check_max_steps(max_steps: int | None) -> int | None:
    return None if max_steps is None else check_int("max_steps", max_steps, minimum=1)


def _episode(env_id: str, seed: int, max_steps: int | None, start_episode: Callable[[Any], None],
             act: Callable[[Any], Any]) -> Episode:
    """One real-env episode from ``reset(seed=seed)``: ``start_episode(env)`` once, then ``act(env)`` each step."""
    start = time.perf_counter()
    env = gym.make(env_id)
    try:
        env.reset(seed=seed)
        start_episode(env)
        total, steps, terminated, truncated = 0.0, 0, False, False
        while not (terminated or truncated) and (max_steps is None or steps < max_steps):
            _, reward, terminated, truncated, _ = env.step(act(env))
            total += float(reward)
            steps += 1
    finally:
        env.close()
    return Episode(seed=seed, ret=total, steps=steps, terminated=bool(terminated),
                   seconds=time.perf_counter() - start)


def run_episode(env_id: str, planner: CEMPlanner, seed: int, max_steps: int | None = None) -> Episode:
    """One episode of ``planner`` in the real env ``env_id`` from ``reset(seed=seed)`` (module docstring)."""
    gym_system(env_id)  # ValueError naming the supported envs
    if not isinstance(planner, CEMPlanner):
        raise TypeError(f"planner must be a CEMPlanner, got {type(planner).__name__}")
    seed, max_steps = check_int("seed", seed, minimum=0), _check_max_steps(max_steps)

    def act(env: Any) -> Any:
        state = torch.tensor(np.asarray(env.unwrapped.state, dtype=np.float64))
        return _env_action(planner.plan(state), env.action_space)

    return _episode(env_id, seed, max_steps, lambda env: planner.reset(seed=seed), act)


def random_episode(env_id: str, seed: int, max_steps: int | None = None) -> Episode:
    """One episode of uniformly random actions (``env.action_space.sample()`` seeded with ``seed``)."""
    gym_system(env_id)
    seed, max_steps = check_int("seed", seed, minimum=0), _check_max_steps(max_steps)
    return _episode(env_id, seed, max_steps, lambda env: env.action_space.seed(seed),
                    lambda env: env.action_space.sample())


def evaluate(env_id: str, planner: CEMPlanner | None, seeds: Sequence[int], max_steps: int | None = None,
             on_episode: Callable[[Episode], None] | None = None) -> list[Episode]:
    """Episodes of ``planner`` (None: the random policy) for each seed, in order; ``on_episode`` is called after
    each."""
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    episodes = []
    for seed in seeds:
        episode = (random_episode(env_id, seed, max_steps) if planner is None
                   else run_episode(env_id, planner, seed, max_steps))
        episodes.append(episode)
        if on_episode is not None:
            on_episode(episode)
    return episodes


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """(mean, sample standard deviation with ddof = 1) of ``values``; the std is None for a single value."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std needs at least one value")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"mean_std needs finite values, got {values}")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)
