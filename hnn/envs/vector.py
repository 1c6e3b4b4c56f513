"""``LearnedVectorEnv``: thousands of learned envs stepped as one tensor (a gymnasium ``VectorEnv``)."""
from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from torch import Tensor

from hnn.envs.core import LearnedDynamics, Renderer
from hnn.envs.learned import _check_options
from hnn.validate import check_int

__all__ = ["LearnedVectorEnv"]


class LearnedVectorEnv(VectorEnv):
    """``num_envs`` copies of a learned env, stepped together: one batched model call per step, state on the device.

    ``gymnasium.make_vec("hnn/Learned<env_id>", num_envs=N, model=...)`` returns this class (its registered
    ``vector_entry_point``), not a ``SyncVectorEnv`` of N single envs. Each step is the step of
    :class:`hnn.envs.LearnedDynamicsEnv` for the whole batch (:mod:`hnn.envs.core`); observations come back as a
    float32 numpy array ``[N, obs_dim]``, rewards float64 ``[N]``, terminations and truncations bool ``[N]``.

    Args:
        env_id, model, checkpoint, device, dtype, max_episode_steps, render_mode: as for
            :class:`hnn.envs.LearnedDynamicsEnv` (``render()`` returns one frame per env).
        num_envs: the batch size N.
        autoreset_mode: what happens to an env whose episode ended (terminated or truncated at ``max_episode_steps``,
            counted per env) — gymnasium 1.x semantics, declared in ``metadata["autoreset_mode"]``:

            - ``NEXT_STEP`` (default): the step that ends the episode returns its final observation; the env's next
              ``step`` ignores its action and resets it, returning the start observation, reward 0, terminated and
              truncated False;
            - ``SAME_STEP``: the ending step resets the env at once and returns the *start* observation; the final one
              is in ``infos["final_obs"]`` (an object array, None where no episode ended), with ``infos["final_info"]``
              and the masks ``infos["_final_obs"]``, ``infos["_final_info"]`` (as ``SyncVectorEnv``); infos are
              ``{}`` on steps where no episode ends;
            - ``DISABLED``: nothing is reset; stepping an ended env is a ValueError — reset it with
              ``reset(options={"reset_mask": mask})``.

    ``reset(seed=None, options=None)``: ``seed`` an int (one torch generator serves the batch, seeded from
    ``np_random``), ``options`` may hold ``"state"`` (``[N, state_dim]`` starts) and ``"reset_mask"`` (bool
    ``[N]``: reset only those envs; the others keep their state). ``state`` is the batch state as a tensor
    ``[N, state_dim]`` on the device, settable (checked); setting it clears pending autoresets.
    Actions: ``[N, 1]`` floats (Box) or ``[N]`` integers (Discrete), numpy or torch, checked as in
    :meth:`hnn.envs.core.LearnedDynamics.actions` (the message names the offending envs). A non-finite next state
    of any env that is not about to be reset is a RuntimeError naming the envs (the model diverged).
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 30,
                                "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, env_id: str, num_envs: int = 1, model: Any = None,
                 checkpoint: str | os.PathLike | None = None,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, max_episode_steps: int | None = None,
                 render_mode: str | None = None, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        self.num_envs = check_int("num_envs", num_envs, minimum=1)
        if isinstance(autoreset_mode, str):
            try:
                autoreset_mode = AutoresetMode(autoreset_mode)
            except ValueError:
                raise ValueError(f"unknown autoreset_mode {autoreset_mode!r}; choose one of "
                                 f"{[m.value for m in AutoresetMode]}") from None
        if not isinstance(autoreset_mode, AutoresetMode):
            raise TypeError(f"autoreset_mode must be a gymnasium.vector.AutoresetMode or its value, got "
                            f"{type(autoreset_mode).__name__}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.dynamics = LearnedDynamics(env_id, model=model, checkpoint=checkpoint, device=device, dtype=dtype)
        self.env_id = env_id
        self.autoreset_mode = autoreset_mode
        self.max_episode_steps = self.dynamics.max_episode_steps if max_episode_steps is None else \
            check_int("max_episode_steps", max_episode_steps, minimum=1)
        self.single_observation_space = self.dynamics.observation_space
        self.single_action_space = self.dynamics.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.metadata = {"render_modes": ["rgb_array"], "render_fps": self.dynamics.render_fps,
                         "autoreset_mode": autoreset_mode}
        self.render_mode = render_mode
        self._renderer = Renderer(env_id) if render_mode is not None else None
        self._state: Tensor | None = None  # [N, state_dim] on the device
        self._last_action: Tensor | None = None
        self._acted = np.zeros(self.num_envs, dtype=bool)  # rows of _last_action since their last reset
        self._elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._ended = np.zeros(self.num_envs, dtype=bool)  # episode over, not yet reset
        self._generator: torch.Generator | None = None

    @property
    def device(self) -> torch.device:
        return self.dynamics.device

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> Tensor | None:
        """The batch state ``[N, state_dim]`` (a copy, on the device), None before the first reset."""
        return None if self._state is None else self._state.clone()

    @state.setter
    def state(self, value: Any) -> None:
        self._state = self.dynamics.states(value, self.num_envs)
        self._ended[:] = False
        self._acted[:] = False

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"seed must be an int or None (one generator serves the whole batch), got "
                            f"{type(seed).__name__}")
        super().reset(seed=None if seed is None else int(seed))
        if seed is not None or self._generator is None:
            self._generator = self.dynamics.generator(self.np_random)
        options = _check_options(options, ("state", "reset_mask"))
        mask = _check_mask(options.get("reset_mask"), self.num_envs)
        if mask is not None and self._state is None and not mask.all():
            raise ValueError("reset_mask resets only some envs, but none has a state yet: reset all of them first")
        rows = np.arange(self.num_envs) if mask is None else np.flatnonzero(mask)
        if "state" in options:
            fresh = self.dynamics.states(options["state"], self.num_envs)[torch.as_tensor(rows, device=self.device)]
        else:
            fresh = self.dynamics.sample_initial(len(rows), self._generator)
        if mask is None or self._state is None:
            self._state = fresh
        else:
            self._state[torch.as_tensor(rows, device=self.device)] = fresh
        self._elapsed[rows] = 0
        self._ended[rows] = False
        self._acted[rows] = False
        return self.dynamics.observe(self._state), {}

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        n = self.num_envs
        checked = self.dynamics.actions(actions, n)
        if self.autoreset_mode is AutoresetMode.DISABLED and self._ended.any():
            ended = np.flatnonzero(self._ended).tolist()
            raise ValueError(f"envs {ended[:10]}{' ...' if len(ended) > 10 else ''} ended and autoreset_mode is "
                             "DISABLED: reset them first, reset(options={'reset_mask': mask})")
        resetting = self._ended.copy() if self.autoreset_mode is AutoresetMode.NEXT_STEP else None
        next_state, reward_t, terminated_t = self.dynamics.step(self._state, checked, ignore=resetting)
        reward = reward_t.to(torch.float64).cpu().numpy()
        terminated = terminated_t.cpu().numpy()
        self._elapsed += 1
        truncated = self._elapsed >= self.max_episode_steps
        self._acted[:] = True
        infos: dict[str, Any] = {}
        if resetting is not None:  # NEXT_STEP
            if resetting.any():
                self._restart(next_state, resetting)
                reward[resetting] = 0.0
                terminated[resetting] = False
                truncated[resetting] = False
            self._ended = terminated | truncated
            observation = self.dynamics.observe(next_state)
        elif self.autoreset_mode is AutoresetMode.SAME_STEP:
            done = terminated | truncated
            observation = self.dynamics.observe(next_state)
            if done.any():
                final_obs = np.full(n, None, dtype=object)
                rows = np.flatnonzero(done)
                for i in rows:
                    final_obs[i] = observation[i].copy()
                infos = {"final_obs": final_obs, "_final_obs": done.copy(), "final_info": {}, "_final_info": done.copy()}
                self._restart(next_state, done)
                observation[rows] = self.dynamics.observe(next_state[torch.as_tensor(rows, device=self.device)])
            self._ended = np.zeros(n, dtype=bool)
        else:
            self._ended = terminated | truncated
            observation = self.dynamics.observe(next_state)
        self._state, self._last_action = next_state, checked
        return observation, reward, terminated, truncated, infos

    def _restart(self, state: Tensor, mask: np.ndarray) -> None:
        """Reset the envs of ``mask`` in ``state`` (in place): fresh starts, step counters 0."""
        rows = np.flatnonzero(mask)
        state[torch.as_tensor(rows, device=self.device)] = self.dynamics.sample_initial(len(rows), self._generator)
        self._elapsed[rows] = 0
        self._acted[rows] = False

    def render(self) -> tuple[np.ndarray, ...] | None:
        """One ``rgb_array`` frame (H×W×3 uint8) per env, drawn by the real env's renderer; None before a reset."""
        if self._renderer is None:
            gym.logger.warn("render() of a learned vector env without a render mode; make it with "
                            "render_mode='rgb_array'")
            return None
        if self._state is None:
            return None
        states = self._state.to(torch.float64).cpu().numpy()
        return tuple(self._renderer.frame(states[i], self._last_action[i] if self._acted[i] else None)
                     for i in range(self.num_envs))

    def close_extras(self, **kwargs: Any) -> None:
        if self._renderer is not None:
            self._renderer.close()


def _check_mask(mask: Any, n: int) -> np.ndarray | None:
    """A reset mask as SyncVectorEnv takes it: a bool numpy array ``[n]`` with at least one True."""
    if mask is None:
        return None
    if not isinstance(mask, np.ndarray) or mask.dtype != np.bool_:
        raise TypeError(f"options['reset_mask'] must be a numpy bool array of shape ({n},), got "
                        f"{type(mask).__name__} {getattr(mask, 'dtype', '')}")
    if mask.shape != (n,):
        raise ValueError(f"options['reset_mask'] must have shape ({n},), got {mask.shape}")
    if not mask.any():
        raise ValueError("options['reset_mask'] resets no env (all False)")
    return mask
