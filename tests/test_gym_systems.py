"""hnn.systems.gym: the batched torch copies of the four gymnasium envs step exactly like the envs.

The envs compute in float64 (Pendulum, Acrobot, CartPole) or float32 (MountainCarContinuous, whose state is stored as
float32 and whose arithmetic NumPy 2 keeps in float32); tolerances are a few ulps of that precision.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from hnn.systems.gym import GYM_SYSTEMS, gym_system


TOL = {"Pendulum-v1": 1e-12, "Acrobot-v1": 1e-12, "CartPole-v1": 1e-12, "MountainCarContinuous-v0": 2e-7}


def _random_action(env, rng):
    if isinstance(env.action_space, gym.spaces.Discrete):
        return int(rng.integers(env.action_space.n))
    return rng.uniform(-3, 3, size=env.action_space.shape).astype(np.float32)  # beyond the bounds: the env clips


@pytest.mark.parametrize("env_id", list(GYM_SYSTEMS))
def test_step_matches_gymnasium(env_id):
    system = gym_system(env_id)
    env = gym.make(env_id)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    states, actions, nexts, obs = [], [], [], []
    for _ in range(300):
        s = np.array(env.unwrapped.state, dtype=np.float64)
        a = _random_action(env, rng)
        o, _, terminated, truncated, _ = env.step(a)
        states.append(s)
        actions.append(a)
        nexts.append(np.array(env.unwrapped.state, dtype=np.float64))
        obs.append(o)
        if terminated or truncated:
            env.reset(seed=int(rng.integers(1 << 30)))
    state = torch.tensor(np.array(states), dtype=torch.float64)
    if system.n_actions is None:
        action = torch.tensor(np.array(actions), dtype=torch.float64)
    else:
        action = torch.tensor(actions)
    pred = system.step(state, action)
    tol = TOL[env_id]
    np.testing.assert_allclose(pred.numpy(), np.array(nexts), rtol=tol, atol=tol)
    np.testing.assert_allclose(system.observation(torch.tensor(np.array(nexts))).numpy(), np.array(obs),
                               rtol=1e-6, atol=1e-6)  # observations are float32


@pytest.mark.parametrize("env_id", list(GYM_SYSTEMS))
def test_canonical_round_trip_and_field_shape(env_id):
    system = gym_system(env_id)
    state = torch.randn(5, system.state_dim, dtype=torch.float64)
    s = system.to_canonical(state)
    assert s.shape == (5, 2 * system.n_q)
    torch.testing.assert_close(system.from_canonical(s), state, rtol=0, atol=0)
    u = torch.zeros(5, system.n_u, dtype=torch.float64)
    assert system.field(s, u).shape == s.shape
    assert len(system.angles) == system.n_q


def test_constrain_reports_clips():
    pend = gym_system("Pendulum-v1")
    raw = torch.tensor([[0.0, 9.0], [0.0, 1.0]], dtype=torch.float64)
    state, acted = pend.constrain(raw)
    assert acted.tolist() == [True, False]
    assert state[0, 1].item() == 8.0
    car = gym_system("MountainCarContinuous-v0")
    state, acted = car.constrain(torch.tensor([[-1.25, -0.05], [0.0, 0.01]], dtype=torch.float64))
    assert acted.tolist() == [True, False]
    assert state[0].tolist() == [-1.2000000476837158, 0.0]


def test_unknown_env_id():
    with pytest.raises(ValueError, match="unsupported env 'Hopper-v4'"):
        gym_system("Hopper-v4")
