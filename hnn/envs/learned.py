"""``LearnedDynamicsEnv``: one gymnasium env whose dynamics is a learned model of a real classic-control env."""
from __future__ import annotations

import os
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import torch
from gymnasium import logger
from torch import Tensor

from hnn.envs.core import LearnedDynamics, Renderer
from hnn.validate import check_int

__all__ = ["LearnedDynamicsEnv"]


class LearnedDynamicsEnv(gym.Env):
    """A real env with its physics replaced by a learned model: same spaces, dt, reward, termination and time limit.

    Each ``step`` is one learned step at the real env's dt followed by the real env's post-step (clips, walls, wraps)
    and its reward r(s_t, a_t, s_{t+1}) and termination, all in torch (:mod:`hnn.envs.core`, :mod:`hnn.envs.tasks`).
    The state lives as a tensor on the model's device; observations are float32 numpy arrays like the real env's.

    Args:
        env_id: the real env (``"Pendulum-v1"``, ``"Acrobot-v1"``, ``"CartPole-v1"``, ``"MountainCarContinuous-v0"``;
            registered as ``"hnn/Learned<env_id>"``, see :mod:`hnn.envs`).
        model: a controlled :class:`hnn.models.DynamicsModule` of that env; or ``checkpoint``: the path of one (read,
            never written). With neither, the shipped pretrained model of :data:`hnn.envs.core.PRETRAINED`.
        render_mode: None or ``"rgb_array"`` (the real env's renderer draws the learned state; needs pygame, the
            ``rl`` extra, and ``SDL_VIDEODRIVER=dummy`` without a display). ``gymnasium.make(..., render_mode="human")``
            wraps it in gymnasium's HumanRendering.
        device, dtype: of the state (default: the model's; see :class:`hnn.envs.core.LearnedDynamics`).
        max_episode_steps: the time limit (default the real env's: 200, 500, 500, 999). The env truncates by itself,
            so the registered ids add no ``TimeLimit`` wrapper.

    ``reset(seed=None, options=None)`` draws a start from the real env's reset distribution (a torch generator
    seeded from ``np_random``: reproducible under ``seed``, but not the real env's draws) or takes
    ``options={"state": s}`` (env layout); other options are a ValueError. ``step(action)`` checks the action
    (:meth:`hnn.envs.core.LearnedDynamics.actions`: NaN/inf, wrong shape or an invalid discrete action are a
    ValueError — stricter than Acrobot-v1, which maps an invalid action to some torque, and CartPole-v1, which raises
    AssertionError) and returns ``(obs, reward: float, terminated, truncated, {})``; stepping on after an episode
    ended is allowed (one warning per episode). A model that produces a non-finite state is a RuntimeError saying
    where (the state and action it diverged from). ``state`` (also ``unwrapped.state``) is the current state as a
    float64 numpy array in the real env's layout, settable (shape and finiteness checked).
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, env_id: str, model: Any = None, checkpoint: str | os.PathLike | None = None,
                 render_mode: str | None = None, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None, max_episode_steps: int | None = None) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r} (gymnasium.make(..., "
                             "render_mode='human') adds gymnasium's HumanRendering on top of 'rgb_array')")
        self.dynamics = LearnedDynamics(env_id, model=model, checkpoint=checkpoint, device=device, dtype=dtype)
        self.env_id = env_id
        self.max_episode_steps = self.dynamics.max_episode_steps if max_episode_steps is None else \
            check_int("max_episode_steps", max_episode_steps, minimum=1)
        self.observation_space = self.dynamics.observation_space
        self.action_space = self.dynamics.action_space
        self.metadata = {"render_modes": ["rgb_array"], "render_fps": self.dynamics.render_fps}
        self.render_mode = render_mode
        self._renderer = Renderer(env_id) if render_mode is not None else None
        self._state: Tensor | None = None  # [1, state_dim]
        self._last_action: Tensor | None = None
        self._elapsed = 0
        self._ended = False
        self._warned = False
        self._generator: torch.Generator | None = None

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> np.ndarray | None:
        """The current state (float64, the real env's ``unwrapped.state`` layout), None before the first reset."""
        return None if self._state is None else self._state[0].to(torch.float64).cpu().numpy()

    @state.setter
    def state(self, value: Any) -> None:
        self._state = self.dynamics.states(value)
        self._last_action = None
        self._ended = False

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None or self._generator is None:
            self._generator = self.dynamics.generator(self.np_random)
        options = _check_options(options, ("state",))
        if "state" in options:
            self._state = self.dynamics.states(options["state"])
        else:
            self._state = self.dynamics.sample_initial(1, self._generator)
        self._last_action = None
        self._elapsed, self._ended, self._warned = 0, False, False
        return self.dynamics.observe(self._state)[0], {}

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() (or set state) before step()")
        checked = self.dynamics.actions(action)
        if self._ended and not self._warned:
            logger.warn(f"{self.env_id} (learned): step() after the episode ended (terminated or truncated); call "
                        "reset() — the learned env keeps stepping the model from the final state")
            self._warned = True
        next_state, reward, terminated = self.dynamics.step(self._state, checked)
        self._state, self._last_action = next_state, checked
        self._elapsed += 1
        done = bool(terminated[0])
        truncated = self._elapsed >= self.max_episode_steps
        self._ended = self._ended or done or truncated
        return self.dynamics.observe(next_state)[0], float(reward[0]), done, truncated, {}

    def render(self) -> np.ndarray | None:
        """The real env's ``rgb_array`` frame of the current state (H×W×3 uint8); None before a reset."""
        if self._renderer is None:
            logger.warn("render() of a learned env without a render mode; make it with render_mode='rgb_array'")
            return None
        if self._state is None:
            return None
        return self._renderer.frame(self.state, self._last_action)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
        super().close()


def _check_options(options: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
    """``options`` as a dict with only ``allowed`` keys (TypeError / ValueError naming the problem)."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"options must be a dict or None, got {type(options).__name__}")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown reset options {unknown}; the learned envs take {list(allowed)} (the real envs' "
                         "reset-bound options are not reproduced: pass a start state instead)")
    return dict(options)
