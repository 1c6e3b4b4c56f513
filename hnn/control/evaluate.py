"""Closed-loop evaluation in the real gymnasium env: a planner (or the random policy) acting for whole episodes.

One episode (:func:`run_episode`): ``env = gymnasium.make(env_id)`` (the registered time limit included),
``env.reset(seed=seed)``; then, every step, the planner plans from the env's true state ``env.unwrapped.state``
(copied to a float64 torch tensor) and the first planned action is executed with ``env.step``; the episode's return
is the sum of the real env's rewards until it terminates or is truncated (or after ``max_steps`` steps, for smoke
runs). The planner is reset with one row per episode seeded with the episode's seed, so an episode depends only on
its seed.

Several seeds (:func:`run_episodes`, :func:`evaluate`) run side by side: one env per seed, stepped in lock step,
every live episode planned in one :meth:`hnn.control.CEMPlanner.plan_batch` (the candidates of all episodes go
through the dynamics as one batch); an episode that ends leaves the batch. An episode's ``seconds`` is the wall
time from the start of its batch to its end.

The random policy (:func:`random_episode`) samples ``env.action_space`` seeded with the episode's seed; an
observation policy (:func:`policy_episodes`, e.g. a stable-baselines3 model) maps the live episodes' observations to
their actions.

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

__all__ = ["Episode", "run_episode", "run_episodes", "random_episode", "random_episodes", "policy_episodes", "evaluate",
           "mean_std"]


@dataclass
class Episode:
    """One real-env episode: its seed, return, length, whether it terminated (reached the goal / the line; for
    CartPole: the pole fell), and its wall time (from the start of the batch it ran in)."""

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


def _check_seeds(seeds: Sequence[int]) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    seeds = [check_int("seed", s, minimum=0) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {seeds}")
    return seeds


def _episodes(env_id: str, seeds: list[int], max_steps: int | None, start: Callable[[list[Any]], None],
              act: Callable[[list[Any], list[int], list[Any]], list[Any]],
              on_episode: Callable[[Episode], None] | None,
              on_step: Callable[[int, int], None] | None = None) -> list[Episode]:
    """Episodes from ``reset(seed=s)`` for every seed, stepped in lock step: ``start(envs)`` once, then each step
    ``act(live envs, their indices, their latest observations)`` gives one action per live env, and
    ``on_step(steps done, live episodes)`` is called after it. The one episode loop of the module."""
    begin = time.perf_counter()
    envs = [gym.make(env_id) for _ in seeds]
    episodes: list[Episode | None] = [None] * len(seeds)
    try:
        observations = [env.reset(seed=seed)[0] for env, seed in zip(envs, seeds)]
        start(envs)
        totals, steps = [0.0] * len(seeds), [0] * len(seeds)
        live = list(range(len(seeds)))
        while live:
            actions = act([envs[i] for i in live], live, [observations[i] for i in live])
            still = []
            for i, action in zip(live, actions):
                observations[i], reward, terminated, truncated, _ = envs[i].step(action)
                totals[i] += float(reward)
                steps[i] += 1
                if terminated or truncated or (max_steps is not None and steps[i] >= max_steps):
                    episodes[i] = Episode(seed=seeds[i], ret=totals[i], steps=steps[i], terminated=bool(terminated),
                                          seconds=time.perf_counter() - begin)
                    if on_episode is not None:
                        on_episode(episodes[i])
                else:
                    still.append(i)
            live = still
            if on_step is not None:
                on_step(max(steps), len(live))
    finally:
        for env in envs:
            env.close()
    return episodes  # type: ignore[return-value]


def run_episodes(env_id: str, planner: CEMPlanner, seeds: Sequence[int], max_steps: int | None = None,
                 on_episode: Callable[[Episode], None] | None = None,
                 on_step: Callable[[int, int], None] | None = None) -> list[Episode]:
    """Episodes of ``planner`` in the real env ``env_id``, one per seed, run side by side (module docstring): the
    planner is reset with one row per seed and plans every live episode in one :meth:`CEMPlanner.plan_batch`."""
    gym_system(env_id)  # ValueError naming the supported envs
    if not isinstance(planner, CEMPlanner):
        raise TypeError(f"planner must be a CEMPlanner, got {type(planner).__name__}")
    seeds, max_steps = _check_seeds(seeds), _check_max_steps(max_steps)

    def act(envs: list[Any], live: list[int], observations: list[Any]) -> list[Any]:
        states = torch.tensor(np.stack([np.asarray(env.unwrapped.state, dtype=np.float64) for env in envs]))
        actions = planner.plan_batch(states, rows=live)
        return [_env_action(a, env.action_space) for a, env in zip(actions, envs)]

    return _episodes(env_id, seeds, max_steps, lambda envs: planner.reset(seed=seeds), act, on_episode, on_step)


def run_episode(env_id: str, planner: CEMPlanner, seed: int, max_steps: int | None = None) -> Episode:
    """One episode of ``planner`` in the real env ``env_id`` from ``reset(seed=seed)`` (module docstring)."""
    return run_episodes(env_id, planner, [seed], max_steps)[0]


def random_episodes(env_id: str, seeds: Sequence[int], max_steps: int | None = None,
                    on_episode: Callable[[Episode], None] | None = None) -> list[Episode]:
    """Episodes of uniformly random actions, one per seed (``env.action_space.sample()`` seeded with the seed)."""
    gym_system(env_id)
    seeds, max_steps = _check_seeds(seeds), _check_max_steps(max_steps)

    def start(envs: list[Any]) -> None:
        for env, seed in zip(envs, seeds):
            env.action_space.seed(seed)

    return _episodes(env_id, seeds, max_steps, start,
                     lambda envs, live, observations: [e.action_space.sample() for e in envs], on_episode)


def random_episode(env_id: str, seed: int, max_steps: int | None = None) -> Episode:
    """One episode of uniformly random actions (``env.action_space.sample()`` seeded with ``seed``)."""
    return random_episodes(env_id, [seed], max_steps)[0]


def policy_episodes(env_id: str, policy: Callable[[np.ndarray], Any], seeds: Sequence[int],
                    max_steps: int | None = None,
                    on_episode: Callable[[Episode], None] | None = None) -> list[Episode]:
    """Episodes of an observation policy, one per seed, side by side: ``policy(observations [B, obs_dim])`` gives
    the B live episodes' actions (e.g. ``lambda obs: sb3_model.predict(obs, deterministic=True)[0]``)."""
    gym_system(env_id)
    if not callable(policy):
        raise TypeError(f"policy must be a callable policy(observations) -> actions, got {type(policy).__name__}")
    seeds, max_steps = _check_seeds(seeds), _check_max_steps(max_steps)

    def act(envs: list[Any], live: list[int], observations: list[Any]) -> list[Any]:
        actions = policy(np.stack([np.asarray(o) for o in observations]))
        if len(actions) != len(envs):
            raise ValueError(f"policy returned {len(actions)} actions for {len(envs)} observations")
        out = []
        for a, env in zip(actions, envs):
            space = env.action_space
            out.append(int(a) if isinstance(space, gym.spaces.Discrete)
                       else np.asarray(a, dtype=space.dtype).reshape(space.shape))
        return out

    return _episodes(env_id, seeds, max_steps, lambda envs: None, act, on_episode)


def evaluate(env_id: str, planner: CEMPlanner | None, seeds: Sequence[int], max_steps: int | None = None,
             on_episode: Callable[[Episode], None] | None = None,
             on_step: Callable[[int, int], None] | None = None) -> list[Episode]:
    """Episodes of ``planner`` (None: the random policy) for each seed, run side by side, in the order of
    ``seeds``; ``on_episode(episode)`` is called as each ends, ``on_step(steps done, live episodes)`` after each
    planned lock step."""
    if planner is None:
        return random_episodes(env_id, seeds, max_steps, on_episode)
    return run_episodes(env_id, planner, seeds, max_steps, on_episode, on_step)


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """(mean, sample standard deviation with ddof = 1) of ``values``; the std is None for a single value."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("mean_std needs at least one value")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"mean_std needs finite values, got {values}")
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)
