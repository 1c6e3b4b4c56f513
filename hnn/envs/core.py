"""The one learned step both learned envs share: a checked model, checked actions and states, and the step itself.

:class:`LearnedDynamics` holds what :class:`hnn.envs.LearnedDynamicsEnv` (one env) and
:class:`hnn.envs.LearnedVectorEnv` (a batch) have in common, so the step is written once. One learned step, batched,
in the env's own state layout (``env.unwrapped.state``):

    u = action_to_input(a)                               the env's action → torque/force (Box: clipped as the env clips)
    s' = model.transition(to_canonical(state), u, dt)    one zero-order-hold step of the learned dynamics, dt = the env's
    next = constrain(from_canonical(s'))                 the env's own post-step: its clips, walls and wraps
    reward = task.reward(state, a, next),  terminated = task.terminated(next)

The post-step is the fixed, documented part of each env that no smooth field represents
(:mod:`hnn.systems.gym`: Pendulum clips θ̇ to ±8 before its drift, Acrobot wraps its angles and clips its velocities,
MountainCarContinuous clips v and x and stops the car at the left wall, CartPole has none). Rewards, terminations and
reset distributions are :mod:`hnn.envs.tasks`.

The model is a controlled :class:`hnn.models.DynamicsModule` (its field has ``dim``, ``n_u`` and
``vector_field(x, u)``; ``transition(s, u, dt)``), used as given (``hnn.load`` returns it in eval mode), under
``torch.no_grad()``, on its own device. Actions are stricter than the real envs: see :meth:`LearnedDynamics.actions`.
"""
from __future__ import annotations

import copy
import functools
import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from hnn.envs.tasks import Task, task
from hnn.systems.gym import GymSystem, PendulumSystem, gym_system

__all__ = ["LearnedDynamics", "PRETRAINED", "check_model", "resolve_model"]

# The pretrained controlled model ``gymnasium.make(id)`` loads when neither model= nor checkpoint= is given: the real
# env's id -> a name in hnn.load_pretrained's registry (the port-Hamiltonian model of training seed 0, written by
# ``python scripts/control.py --train --export-pretrained datasets/pretrained``; None: none shipped).
PRETRAINED: dict[str, str | None] = {
    "Pendulum-v1": "phnn_gym_pendulum",
    "Acrobot-v1": "phnn_gym_acrobot",
    "CartPole-v1": "phnn_gym_cartpole",
    "MountainCarContinuous-v0": "phnn_gym_mountaincar",
}


@functools.lru_cache(maxsize=None)
def _real_env_facts(env_id: str) -> tuple[gym.Space, gym.Space, int]:
    """(observation_space, action_space, render_fps) of the real env (copied by callers)."""
    env = gym.make(env_id)
    try:
        return env.unwrapped.observation_space, env.unwrapped.action_space, int(env.unwrapped.metadata["render_fps"])
    finally:
        env.close()


def _model_device(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def _model_dtype(model: nn.Module) -> torch.dtype:
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def resolve_model(env_id: str, model: Any = None, checkpoint: str | os.PathLike | None = None,
                  device: torch.device | str | None = None) -> Any:
    """The model a learned env of ``env_id`` steps: ``model``, else ``hnn.load(checkpoint)`` (a DynamicsModule, on
    ``device``), else the shipped pretrained model of :data:`PRETRAINED` — ValueError for an env with none."""
    if model is not None and checkpoint is not None:
        raise ValueError("give the learned env either model= or checkpoint=, not both")
    if checkpoint is not None:
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(f"checkpoint must be a path to a .ckpt file, got {type(checkpoint).__name__}")
        from hnn.models.dynamics import DynamicsModule
        from hnn.training.checkpoint import load

        return load(checkpoint, map_location=device, expected_class=DynamicsModule)
    if model is not None:
        return model
    name = PRETRAINED.get(env_id)
    if name is None:
        raise ValueError(f"no pretrained controlled model of {env_id} is shipped: pass model=<a controlled "
                         "hnn.models.DynamicsModule> or checkpoint=<path to its .ckpt>, e.g. "
                         f"gymnasium.make('hnn/Learned{env_id}', model=model)")
    from hnn.training.pretrained import load_pretrained

    return load_pretrained(name, map_location=device)


def check_model(model: Any, system: GymSystem) -> None:
    """TypeError/ValueError unless ``model`` is a controlled dynamics model that fits ``system``.

    Fits: ``model.transition(s, u, dt)`` exists; its field has ``n_u`` (controlled) equal to the env's input count
    and ``dim`` equal to 2·n_q (the env's canonical state [q, q̇]); a coordinate the field treats as an angle
    (``angles``, when declared) is an angle of the env.
    """
    env_id = system.env_id
    if not isinstance(model, nn.Module) or not callable(getattr(model, "transition", None)):
        raise TypeError(f"model must be a controlled hnn.models.DynamicsModule (an nn.Module with transition(s, u, "
                        f"dt)), got {type(model).__name__}")
    field = getattr(model, "field", None)
    n_u = getattr(field, "n_u", None)
    if n_u is None:
        raise ValueError(f"not a controlled model: its field {type(field).__name__} takes no input u (no n_u), so "
                         f"it cannot be driven by {env_id}'s actions; train a controlled field (e.g. "
                         "hnn.nn.PortHamiltonianField or hnn.nn.ControlledBaselineField) on the env's transitions")
    dim = getattr(field, "dim", None)
    if dim != 2 * system.n_q:
        raise ValueError(f"the model's state dimension {dim} does not fit {env_id}, whose canonical state [q, q̇] has "
                         f"{2 * system.n_q} entries (n_q = {system.n_q}); was it trained on another env?")
    if n_u != system.n_u:
        raise ValueError(f"the model takes {n_u} inputs (n_u) but {env_id} applies {system.n_u}; was it trained on "
                         "another env?")
    angles = getattr(field, "angles", None)
    if angles is not None:
        angles = tuple(bool(a) for a in angles)
        if len(angles) != system.n_q or any(a and not e for a, e in zip(angles, system.angles)):
            raise ValueError(f"the model treats coordinates {list(angles)} as angles (periodic), but {env_id}'s angles "
                             f"are {list(system.angles)}; was it trained on another env?")


class LearnedDynamics:
    """A learned model of one gymnasium env, stepped in batches (module docstring).

    Args:
        env_id: the real env's id (one of :data:`hnn.systems.gym.GYM_SYSTEMS`).
        model: a controlled :class:`hnn.models.DynamicsModule` of that env (see :func:`check_model`).
        checkpoint: instead of ``model``, the path of its checkpoint (``hnn.load``; nothing is written).
        device: where the state lives and the model runs; default the model's device (a model elsewhere is a
            ValueError, not moved; a checkpoint is loaded onto ``device``).
        dtype: the state's float dtype; default the model's parameter dtype (float32 for a model without any).

    Attributes: ``env_id``, ``system``, ``task``, ``model``, ``device``, ``dtype``, ``observation_space``,
    ``action_space`` (copies of the real env's), ``render_fps``, ``max_episode_steps`` (the real env's time limit).
    """

    def __init__(self, env_id: str, model: Any = None, checkpoint: str | os.PathLike | None = None,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        self.system: GymSystem = gym_system(env_id)  # TypeError / ValueError naming the supported ids
        self.task: Task = task(env_id)
        self.env_id = env_id
        if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating torch.dtype or None, got {dtype!r}")
        if device is not None:
            try:
                device = torch.device(device)
            except (TypeError, RuntimeError) as err:
                raise ValueError(f"device must be a torch device or its name, got {device!r}: {err}") from None
        model = resolve_model(env_id, model, checkpoint, device)
        check_model(model, self.system)
        model_device = _model_device(model)
        if device is not None and not _same_device(device, model_device):
            raise ValueError(f"the model is on {model_device} but device={device} was asked for: move it first "
                             f"(model.to({str(device)!r})) or leave device unset")
        self.model = model
        self.device = model_device if device is None else device
        self.dtype = _model_dtype(model) if dtype is None else dtype
        observation_space, action_space, self.render_fps = _real_env_facts(env_id)
        self.observation_space = copy.deepcopy(observation_space)
        self.action_space = copy.deepcopy(action_space)
        self.max_episode_steps = int(self.system.max_episode_steps)
        self.discrete = self.system.n_actions is not None

    # ------------------------------------------------------------------ inputs
    def actions(self, action: Any, n: int | None = None) -> Tensor:
        """``action`` checked and as a batch on :attr:`device`: ``[b, 1]`` in :attr:`dtype` (Box) or ``[b]`` int64
        (Discrete), b = ``n``, or 1 for a single env's action (``n=None``).

        A single env's action has the action space's shape (Box ``(1,)``; Discrete: a scalar integer), a batch of
        ``n`` has ``(n, *shape)``; numpy arrays, array-likes and torch tensors are accepted. Box actions must be
        finite (NaN/inf: ValueError) and are otherwise taken as given: the env clips them where the real env does
        (Pendulum-v1 to ±2, MountainCarContinuous-v0 to ±1, whose reward charges the unclipped action, as the real
        env's does). Discrete actions must be integers in ``[0, n)``: stricter than the real envs, where
        Acrobot-v1 silently maps an invalid action to some torque (or an IndexError) and CartPole-v1 raises an
        AssertionError. A value outside the space (shape, range, non-integer discrete action) is a ValueError
        naming it; a non-numeric action (strings, None, booleans, complex) a TypeError.
        """
        space = self.action_space
        what = "action" if n is None else f"actions of {n} envs"
        expected = tuple(space.shape) if n is None else (n, *space.shape)
        if isinstance(action, Tensor):
            values = action.detach()
            if values.dtype == torch.bool or values.is_complex():
                raise TypeError(f"{what} must be real numbers, got a tensor of dtype {values.dtype}")
            integer = not values.is_floating_point()
            values = values.to(self.device)
        else:
            try:
                array = np.asarray(action)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{what} must be an array of numbers of shape {expected}; got {action!r} ({err})") \
                    from None
            if array.dtype.kind not in "iuf":
                raise TypeError(f"{what} must be real numbers, got {type(action).__name__} {action!r} (dtype "
                                f"{array.dtype})")
            integer = array.dtype.kind in "iu"
            values = torch.as_tensor(array, device=self.device)
        if tuple(values.shape) != expected:
            raise ValueError(f"{what} must have shape {expected} for {self.env_id}'s action space {space}, got shape "
                             f"{tuple(values.shape)}")
        if self.discrete:
            n_actions = int(self.system.n_actions)
            if not integer:
                raise ValueError(f"{self.env_id}'s actions are integers in [0, {n_actions}) (action space {space}); "
                                 f"got {_describe(values)} of dtype {values.dtype}")
            bad = (values < 0) | (values >= n_actions)
            if bool(bad.any()):
                raise ValueError(f"{what} outside {self.env_id}'s action space {space} (integers in [0, {n_actions})):"
                                 f" {_describe(values, bad, n)}; the learned env rejects what the real env would "
                                 "silently map or assert on")
            return values.to(torch.int64).reshape(-1)
        bad = ~torch.isfinite(values)
        if bool(bad.any()):
            raise ValueError(f"{what} must be finite (NaN/inf given): {_describe(values, bad.any(-1), n)}")
        return values.to(self.dtype).reshape(-1, *space.shape)

    def states(self, state: Any, n: int | None = None) -> Tensor:
        """``state`` in the env's layout checked (shape ``(state_dim,)`` for ``n=None``, else ``(n, state_dim)``;
        finite real numbers) and as a batch ``[b, state_dim]`` of :attr:`dtype` on :attr:`device`."""
        d = self.system.state_dim
        expected = (d,) if n is None else (n, d)
        if isinstance(state, Tensor):
            values = state.detach()
            if values.dtype == torch.bool or values.is_complex():
                raise TypeError(f"a state must be real numbers, got a tensor of dtype {values.dtype}")
        else:
            try:
                array = np.asarray(state)
            except (TypeError, ValueError) as err:
                raise ValueError(f"a state of {self.env_id} must be an array of shape {expected}; got {state!r} ({err})"
                                 ) from None
            if array.dtype.kind not in "iuf":
                raise TypeError(f"a state must be real numbers, got {type(state).__name__} (dtype {array.dtype})")
            values = torch.as_tensor(array)
        if tuple(values.shape) != expected:
            raise ValueError(f"a state of {self.env_id} has shape {expected} (its env.unwrapped.state layout), got "
                             f"{tuple(values.shape)}")
        values = values.to(self.device)
        bad = ~torch.isfinite(values)
        if bool(bad.any()):
            raise ValueError(f"a state must be finite (NaN/inf given): {_describe(values, bad.any(-1), n)}")
        return values.to(self.dtype).reshape(-1, d).clone()

    # ------------------------------------------------------------------ the step
    def step(self, state: Tensor, action: Tensor, ignore: np.ndarray | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``(next_state, reward, terminated)`` of one learned step from ``state [b, state_dim]`` under the checked
        ``action`` (:meth:`actions`).

        A non-finite next state (the model diverged) is a RuntimeError naming the envs, except in the rows of the bool
        mask ``ignore [b]`` (envs about to be reset, whose step is discarded).
        """
        system = self.system
        with torch.no_grad():
            next_state = system.step_model(self.model.transition, state, action)
            bad = ~torch.isfinite(next_state).all(-1)
            if ignore is not None:
                bad &= ~torch.as_tensor(ignore, device=bad.device)
            if bool(bad.any()):
                rows = torch.nonzero(bad).flatten().tolist()
                raise RuntimeError(f"the learned model of {self.env_id} diverged: a non-finite next state in env(s) "
                                   f"{rows[:10]}{' ...' if len(rows) > 10 else ''} (from state "
                                   f"{state[rows[0]].tolist()} under action {action[rows[0]].tolist()}); the model "
                                   "does not cover that region of the state space")
            return next_state, self.task.reward(state, action, next_state), self.task.terminated(next_state)

    def observe(self, state: Tensor) -> np.ndarray:
        """The env's observations of ``state [b, state_dim]``: a new float32 array ``[b, obs_dim]``."""
        with torch.no_grad():
            return self.system.observation(state).to(torch.float32).cpu().numpy()

    def sample_initial(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` start states from the real env's reset distribution (:mod:`hnn.envs.tasks`)."""
        return self.task.sample_initial(n, generator, dtype=self.dtype, device=self.device)

    def generator(self, np_random: np.random.Generator) -> torch.Generator:
        """A torch generator on :attr:`device` seeded from the env's ``np_random`` (so ``reset(seed=...)`` fixes
        every later draw)."""
        generator = torch.Generator(device=self.device)
        generator.manual_seed(int(np_random.integers(2 ** 62)))
        return generator

    def __repr__(self) -> str:
        return f"LearnedDynamics({self.env_id!r}, model={type(self.model).__name__}, device={self.device}, " \
               f"dtype={self.dtype})"


def _describe(values: Tensor, bad: Tensor | None = None, n: int | None = None, limit: int = 5) -> str:
    """The offending entries: the value for a single env, ``env i: value`` for a batch."""
    if n is None or bad is None:
        return repr(values.tolist())
    rows = torch.nonzero(bad.reshape(n, -1).any(-1)).flatten().tolist()
    shown = ", ".join(f"env {i}: {values[i].tolist()}" for i in rows[:limit])
    return shown + (f", ... ({len(rows)} envs)" if len(rows) > limit else "")


class Renderer:
    """The real env's ``rgb_array`` renderer, drawing a given state (and Pendulum's last torque).

    Rendering needs pygame (the ``rl`` extra: ``pip install "hnn-lightning[rl]"``); on a machine without a display,
    set ``SDL_VIDEODRIVER=dummy``.
    """

    def __init__(self, env_id: str) -> None:
        self.system = gym_system(env_id)
        try:
            self.env = gym.make(env_id, render_mode="rgb_array").unwrapped
        except gym.error.DependencyNotInstalled as err:
            raise ImportError(f"rendering {env_id} needs pygame: pip install 'hnn-lightning[rl]' ({err})") from None

    def frame(self, state: np.ndarray, action: Tensor | None) -> np.ndarray:
        """An ``H×W×3`` uint8 frame of ``state`` (env layout); ``action``: the last action (None after a reset)."""
        self.env.state = np.array(state, dtype=np.float64)
        if isinstance(self.system, PendulumSystem):  # Pendulum draws the last (clipped) torque
            self.env.last_u = None if action is None else float(self.system.action_to_input(action).reshape(-1)[0])
        try:
            return self.env.render()
        except gym.error.DependencyNotInstalled as err:
            raise ImportError(f"rendering {self.system.env_id} needs pygame: pip install 'hnn-lightning[rl]' "
                              f"({err})") from None

    def close(self) -> None:
        self.env.close()
