"""Transitions of the gymnasium classic-control envs, and :class:`GymDataModule`, which serves them for learning.

Collection
----------
:func:`collect` runs the real env (``gymnasium.make(env_id)``, so the ``TimeLimit`` applies) for a budget of
``n_transitions`` steps and returns a :class:`GymTransitions` record, one row per step: the physical state
``env.unwrapped.state`` before and after the step (float64 copies, in the env's own layout), the observations, the
action, the physical input ``u`` it applies (:meth:`~hnn.systems.gym.GymSystem.action_to_input`), the reward, the
``terminated``/``truncated`` flags, the episode and the step index within the episode, and ``constrained``: True
where a clip or a wall of the env's post-step changed the state (``system.constrain(system.free_step(state, u))``).
Episodes are reset by hand after ``terminated`` or ``truncated`` (there is no autoreset), so no transition spans a
reset; the last episode may be cut short by the budget (then neither flag is set on its last row). Every collected
transition is checked against the batched physics copy of :mod:`hnn.systems.gym` (``system.step(state, action)``
must reproduce the recorded next state to a few ulps; a mismatch raises ``RuntimeError``).

Envs: ``Pendulum-v1``, ``Acrobot-v1``, ``CartPole-v1``, ``MountainCarContinuous-v0``. What each env's update rule
means for a learned model — the integrator it amounts to, its clips, walls and wraps — is the table in the
docstring of :mod:`hnn.systems.gym`.

Policies (:data:`POLICIES`, or any callable)
--------------------------------------------
- ``"random"``: uniform over the action space, i.i.d. per step.
- ``"smooth"``: Box actions (Pendulum, MountainCar) — an Ornstein–Uhlenbeck process in discrete time,
  z' = ρ z + √(1 − ρ²) σ ξ with ρ = exp(−1/:data:`SMOOTH_CORRELATION_STEPS`), stationary std σ =
  :data:`SMOOTH_STD_FRACTION` × the half-width of the bounds, drawn from its stationary law at each episode start,
  centred on the middle of the bounds; the action is z clipped to the bounds. Discrete actions (Acrobot, CartPole)
  — a uniformly drawn action *held* for random durations: at each step after the first the action is redrawn
  (uniformly, possibly the same) with probability 1/:data:`SMOOTH_CORRELATION_STEPS`, so holds are geometric with
  mean :data:`SMOOTH_CORRELATION_STEPS` steps.
- ``"constant"``: the zero input where the env has one — Pendulum and MountainCar: action 0.0; Acrobot: action 1
  (torque a − 1 = 0). CartPole has no zero force (its two actions push with −10 N or +10 N): ``ValueError``.
- a callable ``policy(obs, rng) -> action``, with ``obs`` the env's observation (numpy) and ``rng`` the policy's
  ``numpy.random.Generator``; if it has a ``reset(rng)`` method, that is called at the start of every episode. What
  it returns is checked: Discrete spaces need an int in ``[0, n)``; Box spaces a float (or shape-(1,) array) inside
  the bounds; anything else raises ``ValueError`` naming the policy and the value.

Start states
------------
- ``"reset"``: the env's own reset distribution (small boxes around rest; MountainCar x ∈ [−0.6, −0.4], v = 0).
- ``"wide"``: after the reset, ``env.unwrapped.state`` is overwritten by a state drawn uniformly from
  :data:`WIDE_START_BOXES` (env layout), so the data cover the whole state space a model is judged on:
  Pendulum θ ∈ [−π, π], θ̇ ∈ [−8, 8] (the velocity clip); Acrobot θ₁, θ₂ ∈ [−π, π], θ̇₁ ∈ [−2π, 2π],
  θ̇₂ ∈ [−4π, 4π] — the velocities the free double pendulum reaches when it falls from the upright (the energy a
  swing-up needs; measured maxima ≈ 6.3 and 12.0), half and 4/9 of the clips ±4π, ±9π: the whole clip box would
  put most starts at energies no ±1 torque reaches and make the clips act on a large share of the data; CartPole
  x ∈ [−2.4, 2.4], θ ∈ [−12°, 12°] (the termination bounds), ẋ ∈ [−2, 2], θ̇ ∈ [−3, 3]; MountainCar x ∈ [−1.2,
  0.6], v ∈ [−0.07, 0.07] (the walls and the velocity clip).
- an array of start states ``[K, state_dim]`` (or one ``[state_dim]``) in the env layout: episode e starts from row
  e mod K. Rows must be finite and inside :data:`STATE_BOUNDS` (the velocity clips, the walls, Acrobot's angle
  range, CartPole's termination bounds).

Written start states are stored in the dtype the env's own step stores (float32 for MountainCar, float64 for the
others), and the first observation is recomputed from them.

Seeding
-------
``seed`` feeds one ``numpy.random.SeedSequence`` spawned into three streams: the env's reset seeds (one per
episode), the start states and the policy. The same arguments give the same transitions, and for a seed the episode
seeds and start states do not depend on the policy.

Constrained transitions
-----------------------
No smooth field reproduces a clip or a wall. :class:`GymDataModule` drops every window that contains a constrained
transition (``drop_constrained=True``, the default); with ``drop_constrained=False`` they are kept and the loss sees
clipped data (the alternative being a learned env that applies the env's post-step — ``system.constrain`` — after
each learned step, exactly as the real env does). Which clips act: Pendulum θ̇ at ±8; Acrobot θ̇₁ at ±4π, θ̇₂ at ±9π
(angle wraps are exact symmetries and are not counted); CartPole none (its episodes terminate instead);
MountainCar v at ±0.07 and the walls at x = −1.2 (where the car stops) and x = 0.6. :meth:`GymDataModule.summary`
reports their share.

Caching
-------
:func:`load_transitions` caches through :func:`hnn.data.cache.load_or_generate` (``gym-<env_id>-<key>.pt`` plus its
manifest). The recipe holds the env id, the gymnasium and NumPy versions, the policy (name and parameters), the
seed, the start (name and box, or the shape and SHA-256 of the given states), the budget, the episode length and the
code version (:data:`GYM_DATA_VERSION` and the SHA-256 of this module and of :mod:`hnn.systems.gym`). A callable
policy has no name a cache could be keyed by: its data are generated every time and nothing is written.

Serving
-------
:class:`GymDataModule` splits *by episode* (no leakage between splits), builds windows of ``window`` consecutive
steps of one episode (``window + 1`` states, in the canonical layout ``[q, q̇]`` of
:meth:`~hnn.systems.gym.GymSystem.to_canonical`, inputs ``u`` from the actions) and serves them as
:class:`~hnn.data.batches.ControlWindowBatch` ``(t, x, u)`` from device memory, like
:class:`~hnn.data.datamodule.HamiltonianDataModule`. Pendulum's θ is the env's unwrapped angle; Acrobot's angles are
wrapped by the env; a model compares angles on the circle.
"""
from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from hnn.data.batches import ControlWindowBatch
from hnn.data.cache import CacheResult, load_or_generate
from hnn.data.datamodule import FULL_BATCH_PASSES_PER_EPOCH, DeviceBatches, ServedFromMemory
from hnn.data.synthetic import _file_sha256, _source_sha256
from hnn.paths import cache_dir as default_cache_dir
from hnn.systems.gym import GymSystem, gym_system
from hnn.validate import check_bool, check_choice, check_fraction, check_int

__all__ = [
    "GYM_DATA_VERSION",
    "POLICIES",
    "SMOOTH_CORRELATION_STEPS",
    "SMOOTH_STD_FRACTION",
    "WIDE_START_BOXES",
    "STATE_BOUNDS",
    "GymTransitions",
    "GymDataModule",
    "collect",
    "collect_transitions",
    "GYM_POLICIES",
    "load_transitions",
    "gym_recipe",
    "policy_label",
]

# Bump when the collection procedure changes in a way the source hashes would not capture.
GYM_DATA_VERSION = 1

POLICIES = ("random", "smooth", "constant")
GYM_POLICIES = POLICIES  # the name hnn.data exports
SMOOTH_CORRELATION_STEPS = 10.0
SMOOTH_STD_FRACTION = 0.6
SPLITS = ("train", "val", "test")
DTYPES = {"float32": torch.float32, "float64": torch.float64}

_PI = math.pi
_DEG12 = 12 * 2 * math.pi / 360

# (low, high) per entry of env.unwrapped.state, env layout
WIDE_START_BOXES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "Pendulum-v1": ((-_PI, -8.0), (_PI, 8.0)),
    "Acrobot-v1": ((-_PI, -_PI, -2 * _PI, -4 * _PI), (_PI, _PI, 2 * _PI, 4 * _PI)),
    "CartPole-v1": ((-2.4, -2.0, -_DEG12, -3.0), (2.4, 2.0, _DEG12, 3.0)),
    "MountainCarContinuous-v0": ((-1.2, -0.07), (0.6, 0.07)),
}
_INF = math.inf
STATE_BOUNDS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "Pendulum-v1": ((-_INF, -8.0), (_INF, 8.0)),
    "Acrobot-v1": ((-_PI, -_PI, -4 * _PI, -9 * _PI), (_PI, _PI, 4 * _PI, 9 * _PI)),
    "CartPole-v1": ((-2.4, -_INF, -_DEG12, -_INF), (2.4, _INF, _DEG12, _INF)),
    "MountainCarContinuous-v0": ((-1.2, -0.07), (0.6, 0.07)),
}
# what the constrained flag means per env (the clips and walls of hnn.systems.gym's post-steps)
_CONSTRAINTS = {"Pendulum-v1": "the θ̇ clip at ±8 acted", "Acrobot-v1": "the velocity clips at ±4π, ±9π acted",
                "CartPole-v1": "CartPole has no clip or wall", "MountainCarContinuous-v0":
                "the v clip at ±0.07 or the walls at x = −1.2, 0.6 acted"}
# the dtype each env's own step stores its state in
_STATE_DTYPE = {"Pendulum-v1": np.float64, "Acrobot-v1": np.float64, "CartPole-v1": np.float64,
                "MountainCarContinuous-v0": np.float32}
# how far the physics copy may be from the env (a few ulps of the env's precision; tests/test_gym_systems.py)
_STEP_TOLERANCE = {"Pendulum-v1": 1e-12, "Acrobot-v1": 1e-12, "CartPole-v1": 1e-12,
                   "MountainCarContinuous-v0": 2e-7}

_THIS_SOURCE = _file_sha256(__file__)


# ---------------------------------------------------------------------------------------------------- policies
class PolicyFn(Protocol):
    def __call__(self, obs: np.ndarray, rng: np.random.Generator) -> Any: ...


class _Policy:
    """A built-in policy: ``reset(rng)`` at each episode start, then ``__call__(obs, rng)`` each step."""

    def __init__(self, system: GymSystem) -> None:
        self.discrete = system.n_actions is not None
        self.n = system.n_actions
        self.low, self.high = system.action_low, system.action_high

    def reset(self, rng: np.random.Generator) -> None:
        pass


class _RandomPolicy(_Policy):
    def __call__(self, obs: np.ndarray, rng: np.random.Generator) -> Any:
        if self.discrete:
            return int(rng.integers(self.n))
        return np.clip(rng.uniform(self.low, self.high, size=(1,)).astype(np.float32), self.low, self.high)


class _SmoothPolicy(_Policy):
    def __init__(self, system: GymSystem) -> None:
        super().__init__(system)
        self.rho = math.exp(-1.0 / SMOOTH_CORRELATION_STEPS)
        if not self.discrete:
            self.centre = 0.5 * (self.high + self.low)
            self.std = SMOOTH_STD_FRACTION * 0.5 * (self.high - self.low)
        self.z: float | None = None
        self.action: int | None = None

    def reset(self, rng: np.random.Generator) -> None:
        self.z, self.action = None, None

    def __call__(self, obs: np.ndarray, rng: np.random.Generator) -> Any:
        if self.discrete:
            if self.action is None or rng.random() < 1.0 / SMOOTH_CORRELATION_STEPS:
                self.action = int(rng.integers(self.n))
            return self.action
        if self.z is None:
            self.z = float(rng.normal())
        else:
            self.z = self.rho * self.z + math.sqrt(1.0 - self.rho ** 2) * float(rng.normal())
        a = np.array([self.centre + self.std * self.z], dtype=np.float32)
        return np.clip(a, np.float32(self.low), np.float32(self.high))


class _ConstantPolicy(_Policy):
    def __init__(self, system: GymSystem) -> None:
        super().__init__(system)
        if system.env_id == "CartPole-v1":
            raise ValueError("policy 'constant' applies the zero input, but CartPole-v1 has no zero force: its two "
                             "actions push the cart with -10 N (0) or +10 N (1); use 'random', 'smooth' or a callable")
        if system.env_id == "Acrobot-v1":
            self.value: Any = 1  # torque a - 1 = 0
        else:
            self.value = np.zeros(1, dtype=np.float32)

    def __call__(self, obs: np.ndarray, rng: np.random.Generator) -> Any:
        return self.value if self.discrete else self.value.copy()


class _CallablePolicy(_Policy):
    """A user's ``policy(obs, rng) -> action``, with every returned action checked against the action space."""

    def __init__(self, system: GymSystem, fn: Callable[..., Any]) -> None:
        super().__init__(system)
        self.fn = fn
        self.env_id = system.env_id
        self.label = policy_label(fn)

    def reset(self, rng: np.random.Generator) -> None:
        reset = getattr(self.fn, "reset", None)
        if callable(reset):
            reset(rng)

    def __call__(self, obs: np.ndarray, rng: np.random.Generator) -> Any:
        return self.check(self.fn(obs, rng))

    def check(self, action: Any) -> Any:
        where = f"policy {self.label} returned {action!r}"
        if self.discrete:
            value = action
            if isinstance(value, (np.ndarray, Tensor)) and value.ndim == 0:
                value = value.item()
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{where} ({type(action).__name__}); {self.env_id} has a Discrete({self.n}) action "
                                 f"space: return an int in [0, {self.n})")
            if not 0 <= int(value) < self.n:
                raise ValueError(f"{where}, outside the Discrete({self.n}) action space of {self.env_id}: return an "
                                 f"int in [0, {self.n})")
            return int(value)
        space = f"Box([{self.low:g}], [{self.high:g}], shape (1,))"
        if isinstance(action, Tensor):
            action = action.detach().cpu().numpy()
        if isinstance(action, (bool, np.bool_, str, bytes)) or action is None:
            raise ValueError(f"{where} ({type(action).__name__}); {self.env_id} has a {space} action space: return "
                             "a float or a shape-(1,) float array")
        try:
            raw = np.asarray(action)
        except Exception:  # noqa: BLE001 -- anything numpy cannot read is not an action
            raw = None
        if raw is None or raw.dtype.kind not in "iuf":
            raise ValueError(f"{where} ({type(action).__name__}); {self.env_id} has a {space} action space: return "
                             "a float or a shape-(1,) float array")
        if raw.shape not in ((), (1,)):
            raise ValueError(f"{where} of shape {raw.shape}; {self.env_id} has a {space} action space: return a "
                             "float or a shape-(1,) float array")
        a = raw.astype(np.float32).reshape(1)
        if not np.isfinite(a).all() or not self.low <= float(a[0]) <= self.high:
            raise ValueError(f"{where}, outside the {space} action space of {self.env_id}")
        return a


def policy_label(policy: str | Callable[..., Any]) -> str:
    """A readable name of a policy: the built-in name, or ``callable:<module>.<qualname>``."""
    if isinstance(policy, str):
        return policy
    target = getattr(policy, "__qualname__", None) or type(policy).__qualname__
    module = getattr(policy, "__module__", None) or type(policy).__module__
    return f"callable:{module}.{target}"


def _make_policy(system: GymSystem, policy: str | PolicyFn) -> _Policy:
    if isinstance(policy, str):
        check_choice("policy", policy, POLICIES)
        return {"random": _RandomPolicy, "smooth": _SmoothPolicy, "constant": _ConstantPolicy}[policy](system)
    if callable(policy):
        return _CallablePolicy(system, policy)
    raise TypeError(f"policy must be one of {list(POLICIES)} or a callable policy(obs, rng) -> action, got "
                    f"{type(policy).__name__}")


def _policy_options(policy: str | PolicyFn) -> dict[str, Any]:
    if policy == "smooth":
        return {"correlation_steps": SMOOTH_CORRELATION_STEPS, "std_fraction": SMOOTH_STD_FRACTION}
    return {}


# ---------------------------------------------------------------------------------------------------- starts
def _check_start(env_id: str, start: Any) -> str | np.ndarray:
    """``"reset"``, ``"wide"``, or a validated float64 array ``[K, state_dim]``."""
    if isinstance(start, str):
        return check_choice("start", start, ("reset", "wide"))
    if isinstance(start, Tensor):
        start = start.detach().cpu().numpy()
    if not isinstance(start, (np.ndarray, list, tuple)):
        raise TypeError(f"start must be 'reset', 'wide' or an array of start states [K, state_dim], got "
                        f"{type(start).__name__}")
    try:
        states = np.array(start, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"start must be an array of numbers [K, state_dim]: {error}") from None
    dim = gym_system(env_id).state_dim
    if states.ndim == 1:
        states = states[None]
    if states.ndim != 2 or states.shape[1] != dim or states.shape[0] < 1:
        raise ValueError(f"start states of {env_id} must have shape [K, {dim}] (env layout) with K >= 1, got "
                         f"{tuple(np.shape(start))}")
    if not np.isfinite(states).all():
        raise ValueError("start states must be finite (no nan or inf)")
    low, high = (np.array(b, dtype=np.float64) for b in STATE_BOUNDS[env_id])
    bad = (states < low) | (states > high)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        raise ValueError(f"start state {row} of {env_id} has entry {col} = {states[row, col]:g} outside "
                         f"[{low[col]:g}, {high[col]:g}] (STATE_BOUNDS: the clips, walls and termination bounds)")
    return states


def _observe(env_id: str, unwrapped: Any) -> np.ndarray:
    """The env's observation of its current state (what its reset/step would return)."""
    if env_id in ("Pendulum-v1",):
        return unwrapped._get_obs()
    if env_id == "Acrobot-v1":
        return unwrapped._get_ob()
    return np.array(unwrapped.state, dtype=np.float32)


# ---------------------------------------------------------------------------------------------------- record
@dataclass
class GymTransitions:
    """Transitions of one env, one row per step, in collection order (episode by episode, steps in order).

    Fields (N rows): ``state``, ``next_state`` ``[N, state_dim]`` float64 (``env.unwrapped.state`` before/after,
    env layout); ``obs``, ``next_obs`` ``[N, obs_dim]`` float32; ``action`` (Box: ``[N, 1]`` float64 holding the
    float32 action given to the env; Discrete: ``[N]`` int64); ``u [N, n_u]`` float64 (the physical input);
    ``reward [N]`` float64; ``terminated``, ``truncated``, ``constrained`` ``[N]`` bool; ``episode``, ``step``
    ``[N]`` int64 (episode number from 0, step index within the episode from 0).
    """

    env_id: str
    state: Tensor
    next_state: Tensor
    obs: Tensor
    next_obs: Tensor
    action: Tensor
    u: Tensor
    reward: Tensor
    terminated: Tensor
    truncated: Tensor
    constrained: Tensor
    episode: Tensor
    step: Tensor

    TENSOR_FIELDS = ("state", "next_state", "obs", "next_obs", "action", "u", "reward", "terminated", "truncated",
                     "constrained", "episode", "step")

    def __len__(self) -> int:
        return int(self.state.shape[0])

    @property
    def system(self) -> GymSystem:
        return gym_system(self.env_id)

    @property
    def n_episodes(self) -> int:
        return int(torch.unique(self.episode).numel())

    @property
    def constrained_share(self) -> float:
        """Share of the transitions where a clip or a wall acted (0 for an empty record)."""
        return float(self.constrained.double().mean()) if len(self) else 0.0

    def canonical(self) -> tuple[Tensor, Tensor]:
        """``(s, s_next)`` in the canonical layout ``[q, q̇]`` (float64)."""
        system = self.system
        return system.to_canonical(self.state), system.to_canonical(self.next_state)

    def tensors(self) -> dict[str, Tensor]:
        """The tensor fields as a dict (what the cache stores)."""
        return {name: getattr(self, name) for name in self.TENSOR_FIELDS}

    @classmethod
    def from_tensors(cls, env_id: str, tensors: dict[str, Tensor]) -> "GymTransitions":
        missing = [name for name in cls.TENSOR_FIELDS if name not in tensors]
        if missing:
            raise ValueError(f"transition tensors lack {missing}")
        return cls(env_id, **{name: tensors[name] for name in cls.TENSOR_FIELDS})

    def select(self, index: Tensor) -> "GymTransitions":
        """The rows ``index`` (a bool mask or integer indices), as a new record."""
        return GymTransitions(self.env_id, **{name: getattr(self, name)[index] for name in self.TENSOR_FIELDS})

    def episodes(self, ids: Tensor | list[int]) -> "GymTransitions":
        """The rows of the given episodes, in collection order."""
        ids = torch.as_tensor(ids, dtype=torch.int64)
        return self.select(torch.isin(self.episode, ids))

    def __repr__(self) -> str:
        return (f"GymTransitions({self.env_id!r}, {len(self)} transitions, {self.n_episodes} episodes, "
                f"{100 * self.constrained_share:.2f} % constrained)")


# ---------------------------------------------------------------------------------------------------- collection
def _check_common(env_id: str, n_transitions: int, seed: int, max_steps_per_episode: int | None) -> GymSystem:
    system = gym_system(env_id)
    check_int("n_transitions", n_transitions, minimum=1)
    check_int("seed", seed, minimum=0)
    if max_steps_per_episode is not None:
        check_int("max_steps_per_episode", max_steps_per_episode, minimum=1)
    return system


def collect(
    env_id: str,
    n_transitions: int,
    policy: str | PolicyFn = "random",
    seed: int = 0,
    start: str | np.ndarray | Tensor = "reset",
    max_steps_per_episode: int | None = None,
) -> GymTransitions:
    """Run ``gymnasium.make(env_id)`` for ``n_transitions`` steps and record every transition (module docstring).

    Args:
        env_id: one of ``Pendulum-v1``, ``Acrobot-v1``, ``CartPole-v1``, ``MountainCarContinuous-v0``.
        n_transitions: number of steps to record (>= 1), over as many episodes as that takes.
        policy: ``"random"``, ``"smooth"``, ``"constant"`` or a callable ``policy(obs, rng) -> action``.
        seed: the seed of everything random (env resets, start states, policy).
        start: ``"reset"``, ``"wide"`` or an array of start states ``[K, state_dim]`` (env layout).
        max_steps_per_episode: the episode length limit (the ``TimeLimit``); ``None`` = the env's registered limit.

    Returns the :class:`GymTransitions`. Raises ``RuntimeError`` if the recorded next states are not reproduced by
    ``hnn.systems.gym`` (a gymnasium whose physics differ from the copy).
    """
    import gymnasium as gym

    system = _check_common(env_id, n_transitions, seed, max_steps_per_episode)
    start_kind = _check_start(env_id, start)
    runner = _make_policy(system, policy)
    limit = system.max_episode_steps if max_steps_per_episode is None else max_steps_per_episode

    env_seq, start_seq, policy_seq = np.random.SeedSequence(seed).spawn(3)
    env_rng, start_rng, policy_rng = (np.random.default_rng(s) for s in (env_seq, start_seq, policy_seq))
    box = None if not isinstance(start_kind, str) or start_kind == "reset" else \
        tuple(np.array(b, dtype=np.float64) for b in WIDE_START_BOXES[env_id])
    state_dtype = _STATE_DTYPE[env_id]

    rows: dict[str, list[Any]] = {name: [] for name in GymTransitions.TENSOR_FIELDS if name not in ("u", "constrained")}
    env = gym.make(env_id, max_episode_steps=limit)
    unwrapped = env.unwrapped
    try:
        n, episode = 0, 0
        while n < n_transitions:
            obs, _ = env.reset(seed=int(env_rng.integers(2 ** 31)))
            if box is not None:
                unwrapped.state = start_rng.uniform(box[0], box[1]).astype(state_dtype)
                obs = _observe(env_id, unwrapped)
            elif not isinstance(start_kind, str):
                unwrapped.state = start_kind[episode % len(start_kind)].astype(state_dtype)
                obs = _observe(env_id, unwrapped)
            runner.reset(policy_rng)
            step = 0
            while n < n_transitions:
                state = np.array(unwrapped.state, dtype=np.float64)
                action = runner(obs, policy_rng)
                next_obs, reward, terminated, truncated, _ = env.step(action)
                rows["state"].append(state)
                rows["next_state"].append(np.array(unwrapped.state, dtype=np.float64))
                rows["obs"].append(np.asarray(obs, dtype=np.float32))
                rows["next_obs"].append(np.asarray(next_obs, dtype=np.float32))
                rows["action"].append(action)
                rows["reward"].append(float(reward))
                rows["terminated"].append(bool(terminated))
                rows["truncated"].append(bool(truncated))
                rows["episode"].append(episode)
                rows["step"].append(step)
                n, step, obs = n + 1, step + 1, next_obs
                if terminated or truncated:
                    break
            episode += 1
    finally:
        env.close()

    out: dict[str, Tensor] = {
        "state": torch.tensor(np.stack(rows["state"]), dtype=torch.float64),
        "next_state": torch.tensor(np.stack(rows["next_state"]), dtype=torch.float64),
        "obs": torch.tensor(np.stack(rows["obs"]), dtype=torch.float32),
        "next_obs": torch.tensor(np.stack(rows["next_obs"]), dtype=torch.float32),
        "reward": torch.tensor(rows["reward"], dtype=torch.float64),
        "terminated": torch.tensor(rows["terminated"], dtype=torch.bool),
        "truncated": torch.tensor(rows["truncated"], dtype=torch.bool),
        "episode": torch.tensor(rows["episode"], dtype=torch.int64),
        "step": torch.tensor(rows["step"], dtype=torch.int64),
    }
    if system.n_actions is None:
        out["action"] = torch.tensor(np.stack(rows["action"]).astype(np.float64).reshape(-1, 1), dtype=torch.float64)
    else:
        out["action"] = torch.tensor(rows["action"], dtype=torch.int64)
    out["u"] = system.action_to_input(out["action"].to(torch.float64))
    pred, out["constrained"] = system.constrain(system.free_step(out["state"], out["u"]))
    _check_physics(system, pred, out["next_state"])
    return GymTransitions(env_id, **out)


def _angle_mask(system: GymSystem) -> Tensor:
    """Env-layout flags of the angle entries."""
    canonical = torch.tensor(list(system.angles) + [False] * system.n_q, dtype=torch.float64)
    return system.from_canonical(canonical) > 0.5


def _check_physics(system: GymSystem, pred: Tensor, recorded: Tensor) -> None:
    error = pred - recorded
    mask = _angle_mask(system)
    error = torch.where(mask, torch.remainder(error + math.pi, 2 * math.pi) - math.pi, error)  # wraps at ±π
    tol = _STEP_TOLERANCE[system.env_id]
    bad = error.abs() > tol * (1.0 + recorded.abs())
    if bool(bad.any()):
        row = int(torch.nonzero(bad.any(-1))[0])
        raise RuntimeError(f"the physics of {system.env_id} in hnn.systems.gym do not reproduce this gymnasium's step "
                           f"(transition {row}: recorded {recorded[row].tolist()}, hnn {pred[row].tolist()}); "
                           f"{int(bad.any(-1).sum())} of {len(recorded)} transitions differ")


collect_transitions = collect  # the name hnn.data exports


# ---------------------------------------------------------------------------------------------------- caching
def gym_recipe(env_id: str, n_transitions: int, policy: str | PolicyFn = "random", seed: int = 0,
               start: str | np.ndarray | Tensor = "reset", max_steps_per_episode: int | None = None) -> dict[str, Any]:
    """The cache key material of a :func:`collect` call (JSON types; a callable policy appears by its label)."""
    import gymnasium

    system = _check_common(env_id, n_transitions, seed, max_steps_per_episode)
    start_kind = _check_start(env_id, start)
    if isinstance(start_kind, str):
        start_entry: dict[str, Any] = {"kind": start_kind}
        if start_kind == "wide":
            start_entry["box"] = [list(b) for b in WIDE_START_BOXES[env_id]]
    else:
        start_entry = {"kind": "states", "shape": list(start_kind.shape),
                       "sha256": hashlib.sha256(np.ascontiguousarray(start_kind).tobytes()).hexdigest()}
    if not isinstance(policy, str) and not callable(policy):
        _make_policy(system, policy)  # raises the TypeError
    if isinstance(policy, str):
        check_choice("policy", policy, POLICIES)
    return {
        "kind": "gym",
        "env_id": env_id,
        "gymnasium_version": gymnasium.__version__,
        "numpy_version": np.__version__,
        "policy": policy_label(policy),
        "policy_options": _policy_options(policy),
        "seed": int(seed),
        "start": start_entry,
        "n_transitions": int(n_transitions),
        "max_steps_per_episode": int(system.max_episode_steps if max_steps_per_episode is None
                                     else max_steps_per_episode),
        "code": {"version": GYM_DATA_VERSION, "source": _THIS_SOURCE,
                 "system_source": _source_sha256(type(system))},
    }


def load_transitions(
    env_id: str,
    n_transitions: int,
    policy: str | PolicyFn = "random",
    seed: int = 0,
    start: str | np.ndarray | Tensor = "reset",
    max_steps_per_episode: int | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[GymTransitions, CacheResult]:
    """:func:`collect`, through the recipe-keyed cache in ``cache_dir`` (``None``: no cache).

    A callable policy is never cached (``progress`` is told so). Returns the transitions and the
    :class:`~hnn.data.cache.CacheResult` (manifest, hit, path).
    """
    recipe = gym_recipe(env_id, n_transitions, policy, seed, start, max_steps_per_episode)
    if not isinstance(policy, str):
        if cache_dir is not None and progress is not None:
            progress(f"{recipe['policy']} is a callable policy: its data cannot be keyed, generating without cache")
        cache_dir = None

    def generate() -> dict[str, Tensor]:
        if progress is not None:
            progress(f"collecting {n_transitions} transitions of {env_id} (policy {recipe['policy']}, start "
                     f"{recipe['start']['kind']}, seed {seed})" + (f" -> {cache_dir}" if cache_dir else
                                                                     " (cache disabled)"))
        begin = time.perf_counter()
        data = collect(env_id, n_transitions, policy, seed, start, max_steps_per_episode).tensors()
        if progress is not None:
            progress(f"collected {env_id} in {time.perf_counter() - begin:.1f} s")
        return data

    result = load_or_generate(f"gym-{env_id}", recipe, generate, cache_dir, seed=seed)
    return GymTransitions.from_tensors(env_id, result.tensors), result


# ---------------------------------------------------------------------------------------------------- windows
def _windows(tr: GymTransitions, window: int, drop_constrained: bool) -> tuple[Tensor, Tensor, Tensor, int]:
    """``(x [M, window + 1, dim], u [M, window, n_u], first [M], n_dropped)``: every run of ``window`` consecutive
    steps of one episode (float64, canonical layout), starting at row ``first``; runs with a constrained transition
    are dropped when ``drop_constrained`` (counted in ``n_dropped``)."""
    system = tr.system
    n, dim = len(tr), 2 * system.n_q
    if n < window:
        empty = torch.zeros(0, dtype=torch.int64)
        return tr.state.new_zeros(0, window + 1, dim), tr.u.new_zeros(0, window, system.n_u), empty, 0
    first = torch.arange(n - window + 1)
    last = first + window - 1
    same = (tr.episode[last] == tr.episode[first]) & (tr.step[last] - tr.step[first] == window - 1)
    first = first[same]
    index = first[:, None] + torch.arange(window)  # [M, window]
    n_dropped = 0
    if drop_constrained:
        keep = ~tr.constrained[index].any(1)
        n_dropped = int((~keep).sum())
        first, index = first[keep], index[keep]
    s, s_next = tr.canonical()
    x = torch.cat([s[index], s_next[index[:, -1:]]], 1)
    return x, tr.u[index], first, n_dropped


@dataclass
class _Split:
    t: Tensor  # [window + 1]
    x: Tensor  # [M, window + 1, dim]
    u: Tensor  # [M, window, n_u]

    def to(self, device: torch.device, dtype: torch.dtype) -> "_Split":
        return _Split(*(getattr(self, f.name).to(device=device, dtype=dtype) for f in fields(self)))


class GymDataModule(ServedFromMemory):
    """(state, input, next state) transitions and multi-step windows of a gymnasium env, for controlled fields.

    Args:
        env_id: ``Pendulum-v1``, ``Acrobot-v1``, ``CartPole-v1`` or ``MountainCarContinuous-v0``.
        n_transitions: the budget of real env steps, all splits together (>= 1).
        policy: ``"random"``, ``"smooth"``, ``"constant"`` or a callable ``policy(obs, rng) -> action`` (not cached).
        start: ``"reset"``, ``"wide"`` or an array of start states ``[K, state_dim]`` (see :func:`collect`).
        max_steps_per_episode: episode length limit; ``None`` = the env's registered limit.
        seed: seed of the collection, of the split and of the shuffling.
        window: steps per window (>= 1); a window holds ``window + 1`` states and ``window`` inputs, all of one
            episode; ``window=1`` serves transitions.
        drop_constrained: drop the windows containing a transition where a clip or a wall acted (default), or keep
            them (``False``: the loss then sees clipped data).
        val_fraction, test_fraction: the shares of the transitions held out for validation and testing, as whole
            episodes: episodes in a seeded random order, the first ones until ``test_fraction · n_transitions``
            transitions are reached form the test split, the next ones the validation split, the rest train.
            0 = no such split (an empty loader).
        batch_size: ``None`` = the whole split as one batch; else mini-batches of this size.
        passes_per_epoch: passes over the train split per Lightning epoch; ``None`` = 100 for full batches, 1 for
            mini-batches.
        shuffle: shuffle the train windows each pass (mini-batches only).
        dtype: ``"float32"`` or ``"float64"``, the dtype of the served tensors (the raw transitions stay float64).
        cache_dir: where collected data are cached; ``None`` = the user cache (:func:`hnn.paths.cache_dir`).
        cache: ``False`` collects every time and writes nothing.
        verbose: print a line to stderr when data are collected.

    Batches are :class:`~hnn.data.batches.ControlWindowBatch` ``(t [W], x [B, W, dim], u [B, W − 1, n_u])`` with
    ``W = window + 1``, ``t = dt · [0, 1, …, window]``, ``x`` canonical ``[q, q̇]``. Attributes after construction:
    ``env_id``, ``system`` (:class:`~hnn.systems.gym.GymSystem`), ``dim`` (= 2·n_q), ``n_u``, ``angles``, ``dt``.
    """

    def __init__(
        self,
        env_id: str = "Pendulum-v1",
        n_transitions: int = 10_000,
        policy: str | PolicyFn = "smooth",
        start: str | np.ndarray | Tensor = "wide",
        max_steps_per_episode: int | None = None,
        seed: int = 0,
        window: int = 1,
        drop_constrained: bool = True,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        batch_size: int | None = None,
        passes_per_epoch: int | None = None,
        shuffle: bool = True,
        dtype: str = "float32",
        cache_dir: str | os.PathLike | None = None,
        cache: bool = True,
        verbose: bool = True,
    ) -> None:
        super().__init__()
        system = _check_common(env_id, n_transitions, seed, max_steps_per_episode)
        if not isinstance(policy, str) and not callable(policy):
            _make_policy(system, policy)  # TypeError
        if isinstance(policy, str):
            check_choice("policy", policy, POLICIES)
            if policy == "constant":
                _ConstantPolicy(system)  # CartPole: ValueError now, not at collection
        self._start = _check_start(env_id, start)
        check_int("window", window, minimum=1)
        check_bool("drop_constrained", drop_constrained)
        val_fraction = check_fraction("val_fraction", val_fraction)
        test_fraction = check_fraction("test_fraction", test_fraction)
        if val_fraction + test_fraction >= 1.0:
            raise ValueError(f"val_fraction + test_fraction must be < 1 (train needs a share), got "
                             f"{val_fraction:g} + {test_fraction:g}")
        if batch_size is not None:
            check_int("batch_size", batch_size, minimum=1)
        if passes_per_epoch is None:
            passes_per_epoch = FULL_BATCH_PASSES_PER_EPOCH if batch_size is None else 1
        check_int("passes_per_epoch", passes_per_epoch, minimum=1)
        check_bool("shuffle", shuffle)
        check_choice("dtype", dtype, DTYPES)
        if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
            raise TypeError(f"cache_dir must be a path or None, got {type(cache_dir).__name__}")
        check_bool("cache", cache)
        check_bool("verbose", verbose)
        # checkpoints record plain values: a callable policy by its label, given start states as nested lists
        self.save_hyperparameters(ignore=["policy", "start"])
        self.hparams["policy"] = policy_label(policy)
        self.hparams["start"] = self._start if isinstance(self._start, str) else self._start.tolist()

        self.system: GymSystem = system
        self.policy = policy
        self.start = start
        self.n_transitions = n_transitions
        self.max_steps_per_episode = max_steps_per_episode
        self.seed = seed
        self.window = window
        self.drop_constrained = drop_constrained
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.batch_size = batch_size
        self.passes_per_epoch = passes_per_epoch
        self.shuffle = shuffle
        self.dtype = DTYPES[dtype]
        self.cache_dir = (None if not cache else os.fspath(cache_dir) if cache_dir is not None
                          else str(default_cache_dir()))
        self.verbose = verbose
        self.info: dict[str, Any] = {"env_id": env_id, "policy": policy_label(policy)}
        self._transitions: dict[str, GymTransitions] | None = None
        self._cpu_splits: dict[str, _Split] | None = None
        self._splits: dict[str, _Split] | None = None
        self.device: torch.device | None = None

    # ------------------------------------------------------------------ the env
    @property
    def env_id(self) -> str:
        return self.system.env_id

    @property
    def dim(self) -> int:
        """Canonical state dimension 2·n_q."""
        return 2 * self.system.n_q

    @property
    def n_u(self) -> int:
        return self.system.n_u

    @property
    def angles(self) -> tuple[bool, ...]:
        return self.system.angles

    @property
    def dt(self) -> float:
        return self.system.dt

    # ------------------------------------------------------------------ loading
    def _say(self, message: str) -> None:
        if self.verbose:
            print(f"hnn.data: {message}", file=sys.stderr, flush=True)

    def _load(self) -> tuple[GymTransitions, CacheResult]:
        return load_transitions(self.env_id, self.n_transitions, self.policy, self.seed, self._start,
                                self.max_steps_per_episode, cache_dir=self.cache_dir, progress=self._say)

    def prepare_data(self) -> None:
        """Collect and cache the transitions (once per node; Lightning calls this on local rank 0)."""
        if self.cache_dir is not None and isinstance(self.policy, str):
            self._load()

    def _split_episodes(self, tr: GymTransitions) -> dict[str, Tensor]:
        n_episodes = int(tr.episode.max()) + 1
        lengths = torch.bincount(tr.episode, minlength=n_episodes)
        order = torch.randperm(n_episodes, generator=torch.Generator().manual_seed(self.seed))
        taken, i = {}, 0
        for name, fraction in (("test", self.test_fraction), ("val", self.val_fraction)):
            chosen, count = [], 0
            while fraction > 0 and count < fraction * len(tr) and i < n_episodes:
                chosen.append(int(order[i]))
                count += int(lengths[order[i]])
                i += 1
            taken[name] = torch.tensor(sorted(chosen), dtype=torch.int64)
        taken["train"] = order[i:].sort().values
        if taken["train"].numel() == 0:
            raise ValueError(f"{n_episodes} episode(s) of {self.env_id} leave none for training after the "
                             f"test_fraction={self.test_fraction:g} and val_fraction={self.val_fraction:g} splits; "
                             "raise n_transitions or lower max_steps_per_episode or the fractions")
        return {name: taken[name] for name in SPLITS}

    def _build_cpu_splits(self) -> dict[str, _Split]:
        if self._cpu_splits is not None:
            return self._cpu_splits
        tr, result = self._load()
        cacheable = isinstance(self.policy, str)
        self.info.update(cache_hit=result.hit, cache_path=None if result.path is None else str(result.path),
                         cache_note=None if cacheable else "a callable policy is not cached",
                         load_seconds=result.seconds, manifest=result.manifest)
        episodes = self._split_episodes(tr)
        t = torch.arange(self.window + 1, dtype=torch.float64) * self.system.dt
        transitions, splits = {}, {}
        n_windows, n_dropped = {}, {}
        for name in SPLITS:
            part = tr.episodes(episodes[name])
            x, u, _, dropped = _windows(part, self.window, self.drop_constrained)
            transitions[name], splits[name] = part, _Split(t, x, u)
            n_windows[name], n_dropped[name] = int(x.shape[0]), dropped
        if n_windows["train"] == 0:
            raise ValueError(f"no train window of {self.window} step(s) of {self.env_id}: the train episodes are "
                             "shorter than the window" + (" or every window holds a constrained transition"
                                                          if self.drop_constrained else ""))
        self.info.update(
            n_transitions={k: len(v) for k, v in transitions.items()},
            n_episodes={k: v.n_episodes for k, v in transitions.items()},
            episodes={k: v.tolist() for k, v in episodes.items()},
            n_constrained={k: int(v.constrained.sum()) for k, v in transitions.items()},
            constrained_share=tr.constrained_share,
            n_terminated=int(tr.terminated.sum()), n_truncated=int(tr.truncated.sum()),
            n_windows=n_windows, n_dropped_windows=n_dropped,
        )
        self._all = tr
        self._transitions = transitions
        self._cpu_splits = splits
        return splits

    def setup(self, stage: str | None = None) -> None:
        """Load (or collect) the data and move every split once to the serving device in ``dtype``."""
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        self.to(device)


    # ------------------------------------------------------------------ raw access (evaluation)
    def transitions(self, split: str | None = None) -> GymTransitions:
        """The raw transitions of a split (every transition of its episodes, constrained ones included; float64,
        CPU), or of the whole collection with ``split=None``."""
        if split is not None:
            check_choice("split", split, SPLITS)
        self._build_cpu_splits()
        return self._all if split is None else self._transitions[split]

    def windows(self, split: str) -> ControlWindowBatch:
        """The served windows of a split as one :class:`~hnn.data.batches.ControlWindowBatch`."""
        s = self._split(split)
        return ControlWindowBatch(s.t, s.x, s.u)

    @property
    def constrained_share(self) -> float:
        """Share of all collected transitions where a clip or a wall acted."""
        self._build_cpu_splits()
        return float(self.info["constrained_share"])

    # ------------------------------------------------------------------ loaders
    def _loader(self, split: str, train: bool) -> DeviceBatches:
        s = self._split(split)
        generator = torch.Generator().manual_seed(self.seed + 1) if train else None
        return DeviceBatches((s.x, s.u), (s.t,), batch_size=self.batch_size,
                             shuffle=train and self.shuffle and self.batch_size is not None,
                             passes=self.passes_per_epoch if train else 1, generator=generator,
                             batch_type=ControlWindowBatch)

    # ------------------------------------------------------------------ reporting
    def summary(self) -> str:
        """A readable report of the served data: sizes per split, constrained share, dropped windows, cache."""
        self._split("train")
        info = self.info
        import gymnasium

        start = self._start if isinstance(self._start, str) else f"{len(self._start)} given states"
        if info["cache_path"]:
            hit = "hit" if info["cache_hit"] else "miss"
            cache = f"cache {hit} ({info['load_seconds']:.2f} s) {info['cache_path']}"
        else:
            cache = f"cache disabled{' (' + info['cache_note'] + ')' if info['cache_note'] else ''}"
        total = len(self._all)
        n_con = sum(info["n_constrained"].values())
        fate = ("windows holding one are dropped" if self.drop_constrained
                else "kept (the loss sees clipped data)")
        lines = [
            f"env {self.env_id} (gymnasium {gymnasium.__version__}), dt {self.system.dt:g}, canonical dim {self.dim}, "
            f"n_u {self.n_u}, dtype {str(self.dtype).removeprefix('torch.')}, device {self.device}",
            f"policy {info['policy']}, start {start}, episodes of at most "
            f"{self.max_steps_per_episode or self.system.max_episode_steps} steps, seed {self.seed}; {cache}",
            f"transitions {total}: {info['n_transitions']} in episodes {info['n_episodes']}; "
            f"{info['n_terminated']} terminated, {info['n_truncated']} truncated",
            f"constrained ({_CONSTRAINTS[self.env_id]}): {n_con} of {total} = "
            f"{100 * info['constrained_share']:.2f} % (per split {info['n_constrained']}); {fate}",
            f"windows of {self.window} step(s) ({self.window + 1} states): {info['n_windows']}, dropped as "
            f"constrained {info['n_dropped_windows']}",
        ]
        return "\n".join(lines)
