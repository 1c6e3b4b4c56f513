"""``SB3VecEnvAdapter``: a learned vector env as a stable-baselines3 ``VecEnv`` (needs the ``rl`` extra).

stable-baselines3 takes its own ``VecEnv`` API, not a gymnasium ``VectorEnv``: ``reset() -> obs``,
``step(actions) -> (obs, rewards, dones, infos)`` with ``dones = terminated | truncated``, one info dict per env,
and the env reset on the step that ends its episode (``infos[i]["terminal_observation"]`` the final observation,
``infos[i]["TimeLimit.truncated"]`` True when the episode was cut by the time limit rather than terminated). That
is gymnasium's SAME_STEP autoreset, so the adapter runs over a :class:`hnn.envs.LearnedVectorEnv` in SAME_STEP mode.
Episode statistics for SB3's logger come from wrapping the adapter in ``stable_baselines3.common.vec_env.VecMonitor``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

try:
    from stable_baselines3.common.vec_env import VecEnv
    from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise ImportError("hnn.envs.sb3 needs stable-baselines3, which the 'rl' extra installs: "
                      "pip install 'hnn-lightning[rl]'") from err

from hnn.envs.vector import LearnedVectorEnv

__all__ = ["SB3VecEnvAdapter"]


class SB3VecEnvAdapter(VecEnv):
    """stable-baselines3 ``VecEnv`` over a SAME_STEP :class:`~hnn.envs.LearnedVectorEnv` (module docstring).

    Args:
        venv: the vector env, made with ``autoreset_mode=AutoresetMode.SAME_STEP`` (another mode is a ValueError);
            :meth:`make` builds one from an id.

    Observations are float32 numpy ``[N, obs_dim]``, rewards float32 ``[N]``, dones bool ``[N]``. ``seed(s)``
    seeds the next ``reset`` (the batch has one generator: env i does not get seed s + i); ``set_options`` takes one
    options dict for all envs. The batch is one object, so ``get_attr``/``env_method`` return its value once per
    requested index and ``set_attr`` sets it for all envs.
    """

    def __init__(self, venv: LearnedVectorEnv) -> None:
        base = getattr(venv, "unwrapped", None)
        if not isinstance(base, LearnedVectorEnv):
            raise TypeError(f"SB3VecEnvAdapter takes an hnn.envs.LearnedVectorEnv (gymnasium.make_vec('hnn/Learned...',"
                            f" autoreset_mode=gymnasium.vector.AutoresetMode.SAME_STEP, ...)), got "
                            f"{type(venv).__name__}")
        mode = venv.metadata.get("autoreset_mode")
        if mode is not AutoresetMode.SAME_STEP:
            raise ValueError(f"stable-baselines3 resets an env on the step that ends its episode (SAME_STEP); this "
                             f"vector env autoresets {mode}: make it with autoreset_mode=AutoresetMode.SAME_STEP, or "
                             "use SB3VecEnvAdapter.make(id, num_envs, ...)")
        self.venv = venv
        self._actions: Any = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    @classmethod
    def make(cls, env_id: str, num_envs: int = 1, **kwargs: Any) -> "SB3VecEnvAdapter":
        """``SB3VecEnvAdapter(gymnasium.make_vec(env_id, num_envs, autoreset_mode=SAME_STEP, **kwargs))`` for a
        registered learned id (``"hnn/LearnedPendulum-v1"``, ...)."""
        import hnn.envs  # noqa: F401  (registers the ids)

        return cls(gym.make_vec(env_id, num_envs=num_envs, autoreset_mode=AutoresetMode.SAME_STEP, **kwargs))

    # ------------------------------------------------------------------ stepping
    def reset(self) -> VecEnvObs:
        seed = self._seeds[0]
        options = self._options[0]
        if any(o != options for o in self._options[1:]):
            raise ValueError("the learned vector env takes one options dict for all envs; set_options(dict) sets it")
        obs, _ = self.venv.reset(seed=seed, options=options or None)
        self.reset_infos = [{} for _ in range(self.num_envs)]
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async(actions)")
        actions, self._actions = self._actions, None
        obs, rewards, terminated, truncated, info = self.venv.step(actions)
        dones = terminated | truncated
        time_limit = truncated & ~terminated
        infos: list[dict[str, Any]] = [{"TimeLimit.truncated": bool(t)} for t in time_limit]
        if dones.any():
            final_obs = info["final_obs"]
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = final_obs[i]
        return obs, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        frames = self.venv.render()
        return [None] * self.num_envs if frames is None else list(frames)

    # ------------------------------------------------------------------ attributes (one batch object)
    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        if len(list(self._get_indices(indices))) != self.num_envs:
            raise ValueError("the learned vector env is one batch object: set_attr sets an attribute for all envs")
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]
