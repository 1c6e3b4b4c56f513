"""hnn.envs: learned dynamics as reinforcement-learning environments (gymnasium, and stable-baselines3 through an
adapter).

Importing ``hnn.envs`` registers four gymnasium ids, one per classic-control env hnn knows the physics of
(:mod:`hnn.systems.gym`):

======================================  ==========================  =====  ==================
id                                      real env                    dt     max_episode_steps
======================================  ==========================  =====  ==================
``hnn/LearnedPendulum-v1``              Pendulum-v1                 0.05   200
``hnn/LearnedAcrobot-v1``               Acrobot-v1                  0.2    500
``hnn/LearnedCartPole-v1``              CartPole-v1                 0.02   500
``hnn/LearnedMountainCarContinuous-v0`` MountainCarContinuous-v0    1.0    999
======================================  ==========================  =====  ==================

- ``gymnasium.make(id, model=...)`` (or ``checkpoint=path``) → :class:`LearnedDynamicsEnv`: the real env's spaces,
  dt, reward, termination and time limit, with a learned model's dynamics. Without ``model``/``checkpoint`` it loads
  the shipped pretrained controlled Hamiltonian model of the env (:data:`hnn.envs.core.PRETRAINED` is the one place
  to name them; an env with none shipped is a ValueError saying so).
- ``gymnasium.make_vec(id, num_envs=N, model=...)`` → :class:`LearnedVectorEnv` (the registered
  ``vector_entry_point``): N envs stepped as one tensor on the model's device, NEXT_STEP (default) or SAME_STEP
  autoreset (``autoreset_mode=``).
- :class:`SB3VecEnvAdapter` (``hnn.envs.sb3``, needs the ``rl`` extra): a stable-baselines3 ``VecEnv`` over a
  SAME_STEP :class:`LearnedVectorEnv`.

The learned envs truncate by themselves at ``max_episode_steps``, so the ids are registered without gymnasium's
``TimeLimit`` wrapper (``gymnasium.make(id)`` is ``OrderEnforcing(PassiveEnvChecker(LearnedDynamicsEnv))``), and
``gymnasium.spec(id).max_episode_steps`` is None; ``env.unwrapped.max_episode_steps`` holds the limit.

Typical use::

    import gymnasium, hnn, hnn.envs
    model = hnn.load("runs/pendulum/version_0/checkpoints/last.ckpt")   # a controlled DynamicsModule
    env = gymnasium.make("hnn/LearnedPendulum-v1", model=model)
    envs = gymnasium.make_vec("hnn/LearnedPendulum-v1", num_envs=4096, model=model)

    from stable_baselines3 import SAC
    from hnn.envs import SB3VecEnvAdapter
    SAC("MlpPolicy", SB3VecEnvAdapter.make("hnn/LearnedPendulum-v1", num_envs=8, model=model)).learn(10_000)

Rewards, terminations and reset distributions: :mod:`hnn.envs.tasks`; the shared learned step and the checks of
models, actions and states: :mod:`hnn.envs.core`; throughput against gymnasium's own vector envs:
``python scripts/benchmark.py envs`` (:mod:`hnn.envs.benchmark`).
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym

try:
    from gymnasium.vector import AutoresetMode  # noqa: F401  (the gymnasium 1.x vector API)
except ImportError:  # pragma: no cover - depends on the installed gymnasium
    raise ImportError(f"hnn.envs needs gymnasium >= 1.0 (this is {gym.__version__}): pip install "
                      "'hnn-lightning[rl]'") from None

from hnn.envs.core import PRETRAINED, LearnedDynamics
from hnn.envs.learned import LearnedDynamicsEnv
from hnn.envs.tasks import TASKS, Task, task
from hnn.envs.vector import LearnedVectorEnv

__all__ = ["LEARNED_ENV_IDS", "LearnedDynamicsEnv", "LearnedVectorEnv", "LearnedDynamics", "SB3VecEnvAdapter",
           "Task", "TASKS", "task", "PRETRAINED", "learned_env_id", "register_envs"]

# registered id -> the real env it learns
LEARNED_ENV_IDS: dict[str, str] = {
    "hnn/LearnedPendulum-v1": "Pendulum-v1",
    "hnn/LearnedAcrobot-v1": "Acrobot-v1",
    "hnn/LearnedCartPole-v1": "CartPole-v1",
    "hnn/LearnedMountainCarContinuous-v0": "MountainCarContinuous-v0",
}


def learned_env_id(env_id: str) -> str:
    """The registered learned id of the real env ``env_id`` (``"Pendulum-v1"`` → ``"hnn/LearnedPendulum-v1"``)."""
    for learned, real in LEARNED_ENV_IDS.items():
        if real == env_id:
            return learned
    raise ValueError(f"no learned env of {env_id!r}; hnn has learned envs of {', '.join(LEARNED_ENV_IDS.values())}")


def register_envs() -> None:
    """Register the learned ids with gymnasium (done on import; ids already registered are left alone)."""
    for learned, real in LEARNED_ENV_IDS.items():
        if learned in gym.registry:
            continue
        gym.register(
            id=learned,
            entry_point="hnn.envs.learned:LearnedDynamicsEnv",
            vector_entry_point="hnn.envs.vector:LearnedVectorEnv",
            reward_threshold=gym.spec(real).reward_threshold,
            kwargs={"env_id": real},
        )


register_envs()


def __getattr__(name: str) -> Any:
    if name == "SB3VecEnvAdapter":  # stable-baselines3 is imported only when asked for
        from hnn.envs.sb3 import SB3VecEnvAdapter

        return SB3VecEnvAdapter
    raise AttributeError(f"module 'hnn.envs' has no attribute {name!r}")
