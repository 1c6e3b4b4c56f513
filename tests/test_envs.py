"""hnn.envs: learned dynamics as gymnasium envs (single and batched) and as a stable-baselines3 VecEnv.

Two test models stand in for trained ones:

- ``_ExactStepModel``: its transition is the real env's own integration step (``GymSystem.free_step``, before the
  post-step), so a learned env built on it must reproduce the real env to float64 round-off — every part the learned
  env adds (post-step, reward, termination, time limit, resets) is checked against gymnasium itself;
- ``DynamicsModule(field=_TrueField(...), integrator="rk4", integrator_dt=dt/20)``: the real env's *continuous*
  field integrated accurately, so it differs from the real env by the real env's own discretisation only (bounds
  stated at ``TRACK_BOUND``).
"""
from __future__ import annotations

import copy
import hashlib
import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # rgb_array rendering without a display
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode
from torch import nn

import hnn.envs  # noqa: F401  (registers the ids)
from hnn.envs import LEARNED_ENV_IDS, LearnedDynamicsEnv, LearnedVectorEnv, learned_env_id, task
from hnn.models.dynamics import DynamicsModule
from hnn.systems.gym import GYM_SYSTEMS, gym_system

REAL_IDS = list(GYM_SYSTEMS)
# the real envs compute in float64, except MountainCarContinuous (float32 state; test_gym_systems.py)
TOL = {"Pendulum-v1": 1e-10, "Acrobot-v1": 1e-10, "CartPole-v1": 1e-10, "MountainCarContinuous-v0": 2e-7}


class _TrueField(nn.Module):
    """The real env's continuous dynamics ṡ = f(s, u) as a controlled field (canonical [q, q̇])."""

    def __init__(self, env_id: str, n_u: int = 1, angles: tuple[bool, ...] | None = None) -> None:
        super().__init__()
        self.system = gym_system(env_id)
        self.dim, self.n_u = 2 * self.system.n_q, n_u
        self.angles = self.system.angles if angles is None else angles

    def vector_field(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self.system.field(x, u)


class _ExactStepModel(nn.Module):
    """transition = the real env's integration step (no post-step; that is the learned env's job)."""

    def __init__(self, env_id: str) -> None:
        super().__init__()
        self.system = gym_system(env_id)
        self.field = _TrueField(env_id)

    def transition(self, s: torch.Tensor, u: torch.Tensor, dt: float) -> torch.Tensor:
        assert dt == self.system.dt
        return self.system.to_canonical(self.system.free_step(self.system.from_canonical(s), u))


def _true_model(env_id: str, substeps: int = 20) -> DynamicsModule:
    return DynamicsModule(field=_TrueField(env_id), integrator="rk4", integrator_dt=gym_system(env_id).dt / substeps)


def _action(env_id: str, rng: np.random.Generator, beyond: bool = True):
    """A random action; Box actions up to 1.5x beyond the bounds (the envs clip them)."""
    system = gym_system(env_id)
    if system.n_actions is not None:
        return int(rng.integers(system.n_actions))
    scale = 1.5 if beyond else 1.0
    return rng.uniform(scale * system.action_low, scale * system.action_high, size=(1,)).astype(np.float32)


def _exact_env(env_id: str, **kwargs) -> gym.Env:
    return gym.make(learned_env_id(env_id), model=_ExactStepModel(env_id), dtype=torch.float64, **kwargs)


# ---------------------------------------------------------------------------------------------------- tasks
def _broad_state(env_id: str, rng: np.random.Generator) -> np.ndarray:
    """States across the region where rewards and terminations change (thresholds, goal, upright)."""
    if env_id == "Pendulum-v1":
        return rng.uniform([-3 * np.pi, -8], [3 * np.pi, 8])
    if env_id == "Acrobot-v1":
        return rng.uniform([-np.pi, -np.pi, -4, -4], [np.pi, np.pi, 4, 4])
    if env_id == "CartPole-v1":
        return rng.uniform([-2.6, -2, -0.25, -2], [2.6, 2, 0.25, 2])
    return rng.uniform([0.3, -0.07], [0.6, 0.07])


@pytest.mark.parametrize("env_id", REAL_IDS)
def test_rewards_and_terminations_equal_the_real_envs(env_id):
    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(1)
    states, actions, nexts, rewards, dones = [], [], [], [], []
    for i in range(400):
        env.reset(seed=i)
        env.state = _broad_state(env_id, rng)
        a = _action(env_id, rng)
        states.append(np.array(env.state, dtype=np.float64))
        _, r, terminated, _, _ = env.step(a)
        actions.append(a)
        nexts.append(np.array(env.state, dtype=np.float64))
        rewards.append(r)
        dones.append(terminated)
    t = task(env_id)
    state, next_state = torch.tensor(np.array(states)), torch.tensor(np.array(nexts))
    action = torch.tensor(np.array(actions)) if gym_system(env_id).n_actions is not None else \
        torch.tensor(np.array(actions), dtype=torch.float64)
    terminated = t.terminated(next_state)
    assert terminated.dtype == torch.bool and terminated.shape == (400,)
    np.testing.assert_array_equal(terminated.numpy(), np.array(dones))
    if env_id != "Pendulum-v1":  # the data covers both outcomes (Pendulum never terminates)
        assert 0 < sum(dones) < 400
    # Pendulum's torque term is float32 in the env (float32 action): 1e-6 relative
    np.testing.assert_allclose(t.reward(state, action, next_state).numpy(), np.array(rewards), rtol=1e-6, atol=1e-9)


def test_pendulum_reward_uses_the_pre_step_state_and_the_clipped_torque():
    t = task("Pendulum-v1")
    state = torch.tensor([[np.pi / 2, 1.0]], dtype=torch.float64)
    other = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    r = t.reward(state, torch.tensor([[5.0]], dtype=torch.float64), other)  # 5 clipped to 2
    assert r.item() == pytest.approx(-((np.pi / 2) ** 2 + 0.1 + 0.001 * 4.0))
    # MountainCarContinuous charges the unclipped action
    mc = task("MountainCarContinuous-v0")
    s = torch.tensor([[-0.5, 0.0]], dtype=torch.float64)
    assert mc.reward(s, torch.tensor([[3.0]], dtype=torch.float64), s).item() == pytest.approx(-0.9)


@pytest.mark.parametrize("env_id", REAL_IDS)
def test_reset_distribution_is_the_real_envs(env_id):
    t = task(env_id)
    low, high = np.array(t.reset_low), np.array(t.reset_high)
    real = gym.make(env_id).unwrapped
    starts = []
    for i in range(300):
        real.reset(seed=i)
        starts.append(np.array(real.state, dtype=np.float64))
    starts = np.array(starts)
    ours = t.sample_initial(3000, torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    span = np.maximum(high - low, 1e-12)
    for sample in (starts, ours):  # both inside the same bounds and reaching their ends (3 % of the span)
        assert np.all(sample >= low - 1e-7) and np.all(sample <= high + 1e-7)
        assert np.all(sample.min(0) <= low + 0.03 * span) and np.all(sample.max(0) >= high - 0.03 * span)


# ---------------------------------------------------------------------------------------------------- the learned step
@pytest.mark.parametrize("env_id", REAL_IDS)
def test_learned_env_with_the_envs_own_step_equals_the_real_env(env_id):
    """Post-step, reward, termination, truncation and resets against gymnasium, step by step (each step from the
    real env's state: setting the state keeps the episode's step count)."""
    real, learned = gym.make(env_id), _exact_env(env_id)
    rng = np.random.default_rng(0)
    steps = {"MountainCarContinuous-v0": 1000}.get(env_id, 600)  # covers Pendulum's and Acrobot's time limits
    seen_end = False
    obs_r, _ = real.reset(seed=0)
    obs_l, _ = learned.reset(options={"state": real.unwrapped.state})
    np.testing.assert_allclose(obs_l, obs_r, atol=1e-6)
    for k in range(steps):
        a = _action(env_id, rng)
        obs_r, r_r, term_r, trunc_r, _ = real.step(a)
        obs_l, r_l, term_l, trunc_l, info = learned.step(a)
        np.testing.assert_allclose(learned.unwrapped.state, np.array(real.unwrapped.state, dtype=np.float64),
                                   rtol=TOL[env_id], atol=TOL[env_id], err_msg=f"step {k}")
        np.testing.assert_allclose(obs_l, obs_r, atol=1e-6)
        assert obs_l.dtype == np.float32 and obs_l.shape == obs_r.shape
        assert r_l == pytest.approx(r_r, rel=1e-6, abs=1e-9)
        assert (term_l, trunc_l, info) == (term_r, trunc_r, {})
        assert isinstance(r_l, float) and type(term_l) is bool and type(trunc_l) is bool
        learned.unwrapped.state = real.unwrapped.state  # no drift of round-off (float32 MountainCar) between steps
        if term_r or trunc_r:
            seen_end = True
            real.reset(seed=k + 1)
            learned.reset(options={"state": real.unwrapped.state})
    if env_id == "MountainCarContinuous-v0":  # random actions do not reach the goal; the time limit ends it
        assert seen_end
    assert seen_end or env_id not in ("Pendulum-v1", "CartPole-v1")


TRACK_STEPS = 20
# max |state error| after up to 20 steps, over 10 starts: the real envs' own discretisation error (Pendulum and
# MountainCarContinuous: symplectic Euler at dt 0.05 and 1.0; CartPole: explicit Euler at dt 0.02; Acrobot: one RK4
# step of 0.2). Measured: 0.27, 0.0082, 0.093, 0.0046.
TRACK_BOUND = {"Pendulum-v1": 0.5, "Acrobot-v1": 0.02, "CartPole-v1": 0.2, "MountainCarContinuous-v0": 0.01}


@pytest.mark.parametrize("env_id", REAL_IDS)
def test_learned_env_with_the_true_field_tracks_the_real_env(env_id):
    system = gym_system(env_id)
    learned = LearnedDynamicsEnv(env_id, model=_true_model(env_id), dtype=torch.float64)
    worst = 0.0
    for seed in range(10):
        real = gym.make(env_id)
        real.reset(seed=seed)
        learned.reset(options={"state": real.unwrapped.state})
        rng = np.random.default_rng(seed)
        for _ in range(TRACK_STEPS):
            a = _action(env_id, rng, beyond=False)
            _, _, term_r, _, _ = real.step(a)
            _, _, term_l, _, _ = learned.step(a)
            diff = system.to_canonical(torch.tensor(learned.state - np.array(real.unwrapped.state))).numpy()
            angles = np.array(system.angles + (False,) * system.n_q)  # [q, q̇]: angles compared on the circle
            diff[angles] = (diff[angles] + np.pi) % (2 * np.pi) - np.pi
            worst = max(worst, float(np.abs(diff).max()))
            if term_r or term_l:
                break
    assert worst < TRACK_BOUND[env_id]


# ---------------------------------------------------------------------------------------------------- gymnasium API
@pytest.mark.parametrize("learned_id", list(LEARNED_ENV_IDS))
def test_make_and_check_env_for_every_id(learned_id):
    env = gym.make(learned_id, model=_true_model(LEARNED_ENV_IDS[learned_id], substeps=2))
    assert isinstance(env.unwrapped, LearnedDynamicsEnv)
    real = gym.make(LEARNED_ENV_IDS[learned_id])
    assert env.observation_space == real.observation_space and env.action_space == real.action_space
    assert env.unwrapped.max_episode_steps == real.spec.max_episode_steps
    assert env.spec.reward_threshold == real.spec.reward_threshold
    # the env truncates by itself: no TimeLimit wrapper on top
    wrapper, names = env, []
    while isinstance(wrapper, gym.Wrapper):
        names.append(type(wrapper).__name__)
        wrapper = wrapper.env
    assert names == ["OrderEnforcing", "PassiveEnvChecker"]
    pytest.importorskip("pygame")  # check_env renders every declared render mode
    check_env(env.unwrapped)


def test_truncation_at_the_real_envs_time_limit():
    env = _exact_env("Pendulum-v1")
    env.reset(seed=0)
    truncations = [env.step(np.zeros(1, dtype=np.float32))[3] for _ in range(200)]
    assert truncations == [False] * 199 + [True]
    assert env.reset(seed=1)[0].shape == (3,) and env.step(np.zeros(1))[3] is False  # the count restarts
    short = _exact_env("CartPole-v1", max_episode_steps=3)
    short.reset(seed=0, options={"state": np.zeros(4)})
    assert [short.step(i % 2)[3] for i in range(3)] == [False, False, True]


def test_seeding_is_reproducible_and_settable_state_is_used():
    env = _exact_env("Acrobot-v1")
    first, _ = env.reset(seed=7)
    run1 = [env.step(1)[0] for _ in range(5)]
    again, _ = env.reset(seed=7)
    run2 = [env.step(1)[0] for _ in range(5)]
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(np.array(run1), np.array(run2))
    other, _ = env.reset(seed=8)
    assert not np.array_equal(first, other)
    state = np.array([0.3, -0.2, 1.0, -2.0])
    env.unwrapped.state = state
    np.testing.assert_array_equal(env.unwrapped.state, state)
    env.step(2)
    system = gym_system("Acrobot-v1")
    expected = system.step(torch.tensor(state)[None], torch.tensor([2]))[0].numpy()
    np.testing.assert_allclose(env.unwrapped.state, expected, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="shape"):
        env.unwrapped.state = np.zeros(3)
    with pytest.raises(ValueError, match="finite"):
        env.unwrapped.state = np.array([0.0, np.nan, 0.0, 0.0])


def test_rgb_array_render_single_and_vector():
    pytest.importorskip("pygame")
    for env_id in REAL_IDS:
        env = _exact_env(env_id, render_mode="rgb_array")
        env.reset(seed=0)
        env.step(env.action_space.sample())
        frame = env.render()
        assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
        env.close()
    venv = gym.make_vec("hnn/LearnedPendulum-v1", num_envs=3, model=_ExactStepModel("Pendulum-v1"),
                        render_mode="rgb_array")
    venv.reset(seed=0)
    frames = venv.render()
    assert len(frames) == 3 and all(f.shape == (500, 500, 3) and f.dtype == np.uint8 for f in frames)
    assert not np.array_equal(frames[0], frames[1])  # different starts, different pictures
    venv.close()


# ---------------------------------------------------------------------------------------------------- vector env
def _vec(env_id: str = "CartPole-v1", n: int = 4, **kwargs) -> LearnedVectorEnv:
    return gym.make_vec(learned_env_id(env_id), num_envs=n, model=_ExactStepModel(env_id), dtype=torch.float64,
                        **kwargs)


def _about_to_fall(n: int) -> np.ndarray:
    """CartPole states: env 0 leaves |x| <= 2.4 on its next step (x 2.39, ẋ 5), the others stay upright."""
    state = np.zeros((n, 4))
    state[0, :2] = 2.39, 5.0
    return state


def test_make_vec_returns_the_batched_env_not_a_sync_vector_env():
    venv = _vec(n=8)
    assert type(venv) is LearnedVectorEnv and venv.num_envs == 8
    assert venv.metadata["autoreset_mode"] is AutoresetMode.NEXT_STEP
    assert venv.single_observation_space == gym.make("CartPole-v1").observation_space
    obs, info = venv.reset(seed=0)
    assert obs.shape == (8, 4) and obs.dtype == np.float32 and info == {}
    obs, reward, terminated, truncated, info = venv.step(np.ones(8, dtype=np.int64))
    assert reward.dtype == np.float64 and terminated.dtype == np.bool_ and truncated.dtype == np.bool_
    assert obs in venv.observation_space
    # batched step == the single env's step, env by env
    single = _exact_env("CartPole-v1")
    state = venv.state.numpy()
    actions = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    obs, reward, _, _, _ = venv.step(actions)
    for i in range(8):
        single.reset(options={"state": state[i]})
        o, r, *_ = single.step(int(actions[i]))
        np.testing.assert_array_equal(o, obs[i])
        assert r == reward[i]


def test_next_step_autoreset():
    venv = _vec(n=3)
    venv.reset(seed=0, options={"state": _about_to_fall(3)})
    final, reward, terminated, truncated, info = venv.step(np.array([1, 0, 1]))
    assert terminated.tolist() == [True, False, False] and not truncated.any() and info == {}
    assert final[0, 0] > 2.4  # the final observation itself
    obs, reward, terminated, truncated, info = venv.step(np.array([1, 1, 1]))
    assert reward[0] == 0.0 and not terminated[0] and not truncated[0]  # a reset step
    assert np.all(np.abs(obs[0]) <= 0.05)  # a start of the real reset distribution
    assert reward[1:].tolist() == [1.0, 1.0]
    # the reset env counts its steps from 0 again: time limit per env
    short = _vec(n=2, max_episode_steps=2)
    short.reset(seed=0)
    assert [short.step(np.zeros(2, dtype=int))[3].tolist() for _ in range(3)] == \
        [[False, False], [True, True], [False, False]]


def test_same_step_autoreset_matches_sync_vector_env_conventions():
    venv = _vec(n=3, autoreset_mode=AutoresetMode.SAME_STEP)
    assert venv.metadata["autoreset_mode"] is AutoresetMode.SAME_STEP
    venv.reset(seed=0, options={"state": _about_to_fall(3)})
    expected_final = _vec(n=3)
    expected_final.reset(options={"state": _about_to_fall(3)})
    final = expected_final.step(np.array([1, 0, 1]))[0][0]
    obs, reward, terminated, truncated, info = venv.step(np.array([1, 0, 1]))
    assert terminated.tolist() == [True, False, False] and reward.tolist() == [1.0, 1.0, 1.0]
    assert np.all(np.abs(obs[0]) <= 0.05)  # already reset
    np.testing.assert_array_equal(info["final_obs"][0], final)
    assert info["final_obs"][1] is None and info["final_obs"].dtype == object
    assert info["_final_obs"].tolist() == [True, False, False] and info["_final_info"].tolist() == [True, False, False]
    # the same keys and types as gymnasium's own SyncVectorEnv of the real env at a done step
    sync = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
    sync.reset(seed=0)
    for e, s in zip(sync.envs, _about_to_fall(3)):
        e.unwrapped.state = s
    ref = sync.step(np.array([1, 0, 1]))[4]
    assert set(ref) == set(info) and ref["final_info"] == info["final_info"] == {}
    assert all(type(ref[k]) is type(info[k]) and getattr(ref[k], "dtype", None) == getattr(info[k], "dtype", None)
               for k in ref)
    no_end = venv.step(np.array([1, 0, 1]))[4]
    assert no_end == {}


def test_disabled_autoreset_and_partial_reset():
    venv = _vec(n=3, autoreset_mode="Disabled")
    venv.reset(seed=0, options={"state": _about_to_fall(3)})
    assert venv.step(np.array([1, 0, 1]))[2].tolist() == [True, False, False]
    with pytest.raises(ValueError, match=r"envs \[0\] ended"):
        venv.step(np.zeros(3, dtype=int))
    before = venv.state
    obs, _ = venv.reset(options={"reset_mask": np.array([True, False, False])})
    after = venv.state
    assert torch.equal(after[1:], before[1:]) and np.all(np.abs(obs[0]) <= 0.05)
    venv.step(np.zeros(3, dtype=int))


class _CountingModel(_ExactStepModel):
    calls = 0

    def transition(self, s, u, dt):
        self.calls += 1
        return super().transition(s, u, dt)


def test_thousands_of_envs_are_one_model_call_per_step():
    model = _CountingModel("Acrobot-v1")
    venv = gym.make_vec("hnn/LearnedAcrobot-v1", num_envs=4096, model=model)
    obs, _ = venv.reset(seed=0)
    for _ in range(3):
        obs, reward, *_ = venv.step(np.ones(4096, dtype=np.int64))
    assert model.calls == 3 and obs.shape == (4096, 6) and reward.shape == (4096,)


class _DivergingModel(_ExactStepModel):
    def transition(self, s, u, dt):
        out = super().transition(s, u, dt)
        out[0, 0] = float("nan")  # env 0 blows up
        return out


def test_a_diverging_model_is_a_clear_error_except_for_envs_about_to_reset():
    venv = gym.make_vec("hnn/LearnedCartPole-v1", num_envs=3, model=_DivergingModel("CartPole-v1"),
                        dtype=torch.float64)
    venv.reset(seed=0)
    with pytest.raises(RuntimeError, match=r"diverged: a non-finite next state in env\(s\) \[0\]"):
        venv.step(np.zeros(3, dtype=int))
    venv.reset(seed=0, options={"state": _about_to_fall(3)})
    with pytest.raises(RuntimeError, match="diverged"):  # env 0's terminal step itself is checked
        venv.step(np.zeros(3, dtype=int))
    venv = gym.make_vec("hnn/LearnedCartPole-v1", num_envs=3, model=_ExactStepModel("CartPole-v1"),
                        dtype=torch.float64)
    venv.reset(seed=0, options={"state": _about_to_fall(3)})
    assert venv.step(np.ones(3, dtype=int))[2][0]
    venv.unwrapped.dynamics.model = _DivergingModel("CartPole-v1")  # env 0 resets now: its discarded step may be NaN
    obs = venv.step(np.ones(3, dtype=int))[0]
    assert np.all(np.isfinite(obs))


def test_vector_seeding_and_state():
    a, b = _vec(n=16), _vec(n=16)
    np.testing.assert_array_equal(a.reset(seed=3)[0], b.reset(seed=3)[0])
    assert not np.array_equal(a.reset(seed=4)[0], b.reset(seed=3)[0])
    with pytest.raises(TypeError, match="one generator"):
        a.reset(seed=[1] * 16)
    state = np.zeros((16, 4))
    a.state = state
    assert a.state.shape == (16, 4) and a.state.device == a.device
    with pytest.raises(ValueError, match=r"\(16, 4\)"):
        a.state = np.zeros((15, 4))


# ---------------------------------------------------------------------------------------------------- bad input
def test_bad_actions_are_value_errors_naming_them():
    pendulum = _exact_env("Pendulum-v1")
    pendulum.reset(seed=0)
    with pytest.raises(ValueError, match="finite"):
        pendulum.step(np.array([np.nan], dtype=np.float32))
    with pytest.raises(ValueError, match="finite"):
        pendulum.step(np.array([np.inf]))
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        pendulum.step(np.zeros(2))
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        pendulum.step(0.5)
    with pytest.raises(TypeError, match="real numbers"):
        pendulum.step("left")
    pendulum.step(np.array([7.0]))  # outside the Box: clipped, as Pendulum-v1 clips
    cartpole = _exact_env("CartPole-v1")
    cartpole.reset(seed=0)
    for bad in (2, -1, 1.0, np.array([1])):
        with pytest.raises(ValueError, match="action"):
            cartpole.step(bad)
    with pytest.raises(ValueError, match="outside"):  # the real Acrobot would map 3 to some torque
        acrobot = _exact_env("Acrobot-v1")
        acrobot.reset(seed=0)
        acrobot.step(3)
    venv = _vec("Pendulum-v1", n=5)
    venv.reset(seed=0)
    actions = np.zeros((5, 1), dtype=np.float32)
    actions[3] = np.nan
    with pytest.raises(ValueError, match="env 3"):
        venv.step(actions)
    with pytest.raises(ValueError, match=r"\(5, 1\)"):
        venv.step(np.zeros(5))
    with pytest.raises(ValueError, match="env 1"):
        vcart = _vec(n=3)
        vcart.reset(seed=0)
        vcart.step(np.array([0, 2, 1]))
    with pytest.raises(gym.error.ResetNeeded):
        LearnedDynamicsEnv("CartPole-v1", model=_ExactStepModel("CartPole-v1")).step(0)


def test_models_that_do_not_fit_are_clear_errors():
    with pytest.raises(ValueError, match="state dimension 4 does not fit Pendulum-v1"):
        LearnedDynamicsEnv("Pendulum-v1", model=_true_model("Acrobot-v1"))
    with pytest.raises(ValueError, match="takes 2 inputs"):
        LearnedDynamicsEnv("Pendulum-v1", model=DynamicsModule(field=_TrueField("Pendulum-v1", n_u=2)))
    with pytest.raises(ValueError, match="angles"):  # an Acrobot model (two angles) for CartPole (x is no angle)
        LearnedDynamicsEnv("CartPole-v1", model=_true_model("Acrobot-v1"))
    from hnn.nn import HamiltonianField

    with pytest.raises(ValueError, match="not a controlled model"):
        LearnedDynamicsEnv("Pendulum-v1", model=DynamicsModule(field=HamiltonianField(dim=2, hidden_dim=8)))
    with pytest.raises(TypeError, match="DynamicsModule"):
        LearnedDynamicsEnv("Pendulum-v1", model=object())
    with pytest.raises(ValueError, match="unsupported env 'Pong-v5'"):
        LearnedDynamicsEnv("Pong-v5", model=_true_model("Pendulum-v1"))
    with pytest.raises(gym.error.Error):
        gym.make("hnn/LearnedPong-v5", model=_true_model("Pendulum-v1"))
    with pytest.raises(ValueError, match="not both"):
        LearnedDynamicsEnv("Pendulum-v1", model=_true_model("Pendulum-v1"), checkpoint="x.ckpt")


SHIPPED = ("Pendulum-v1", "Acrobot-v1", "CartPole-v1", "MountainCarContinuous-v0")


@pytest.mark.parametrize("env_id", SHIPPED)
def test_the_registered_env_steps_the_shipped_model_by_default(env_id):
    from hnn.envs import PRETRAINED
    from hnn.evaluation.openloop import open_loop_accuracy
    from hnn.training.pretrained import load_pretrained, pretrained_entry

    name = PRETRAINED[env_id]
    entry = pretrained_entry(name)  # the manifest lists it
    assert entry["env_id"] == env_id and entry["bytes"] < 1_000_000 and entry["real_transitions"] <= 10_000
    assert {"open_loop_median_error_50", "planner_normalised", "planner_return_mean"} <= set(entry["metrics"])
    assert entry["evaluated_by"].startswith("python scripts/control.py") and "--export-pretrained" in \
        entry["evaluated_by"]
    env = gym.make(f"hnn/Learned{env_id}")  # no model= and no checkpoint=: the shipped one
    model = env.unwrapped.dynamics.model
    for key, value in load_pretrained(name).state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    env.reset(seed=0)
    assert env.step(env.action_space.sample())[0].shape == env.observation_space.shape
    venv = gym.make_vec(f"hnn/Learned{env_id}", num_envs=2)
    venv.reset(seed=0)
    venv.step(venv.action_space.sample())
    # the recorded open-loop error is what the shipped weights give (deterministic protocol, float32 model). A
    # float32 rollout does not repeat bit for bit on another CPU (its kernels round differently), and a chaotic
    # system (Acrobot) amplifies that rounding over 50 steps: the allowance is 10x the change the same rounding
    # makes when the model runs in float64 instead (Acrobot: 3.7e-4 of 12.77, and 5.6e-4 between two machines;
    # Pendulum, CartPole, MountainCar: <= 2.2e-6)
    error = open_loop_accuracy(model, env_id).median_error(50)
    spread = abs(error - open_loop_accuracy(copy.deepcopy(model).double(), env_id).median_error(50))
    assert abs(error - entry["metrics"]["open_loop_median_error_50"]) <= 1e-6 * (1 + error) + 10 * spread


def test_an_env_without_a_shipped_model_says_so(monkeypatch):
    from hnn.envs import core

    monkeypatch.setitem(core.PRETRAINED, "Pendulum-v1", None)
    with pytest.raises(ValueError, match="no pretrained controlled model of Pendulum-v1 is shipped: pass model="):
        gym.make("hnn/LearnedPendulum-v1")
    with pytest.raises(ValueError, match="is shipped: pass model="):
        gym.make_vec("hnn/LearnedPendulum-v1", num_envs=2)


def _sha(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _write_checkpoint(model: DynamicsModule, path) -> None:
    torch.save({"state_dict": model.state_dict(), "hnn_model_class": "hnn.models.dynamics.DynamicsModule",
                "hyper_parameters": dict(model.hparams)}, path)


def test_checkpoint_of_a_non_controlled_model_is_refused_and_nothing_changes_on_disk(tmp_path):
    from hnn.nn import HamiltonianField

    path = tmp_path / "hnn.ckpt"
    _write_checkpoint(DynamicsModule(field=HamiltonianField(dim=2, hidden_dim=8)), path)
    before = _sha(tmp_path)
    with pytest.raises(ValueError, match="not a controlled model"):
        gym.make("hnn/LearnedPendulum-v1", checkpoint=str(path))
    with pytest.raises(FileNotFoundError):
        gym.make("hnn/LearnedPendulum-v1", checkpoint=str(tmp_path / "missing.ckpt"))
    assert _sha(tmp_path) == before


def test_controlled_checkpoint_round_trip(tmp_path):
    from hnn.nn import PortHamiltonianField

    torch.manual_seed(0)
    model = DynamicsModule(field=PortHamiltonianField(n_q=1, n_u=1, angles=[True], hidden_dim=8), integrator="rk4")
    path = tmp_path / "pendulum.ckpt"
    _write_checkpoint(model, path)
    before = _sha(tmp_path)
    from_file = gym.make("hnn/LearnedPendulum-v1", checkpoint=str(path))
    direct = gym.make("hnn/LearnedPendulum-v1", model=model)
    for env in (from_file, direct):
        env.reset(options={"state": np.array([0.5, 0.0])})
    for _ in range(5):
        a = np.array([0.7], dtype=np.float32)
        np.testing.assert_allclose(from_file.step(a)[0], direct.step(a)[0], rtol=1e-6, atol=1e-6)
    check_env(from_file.unwrapped, skip_render_check=True)
    with pytest.raises(ValueError, match="does not fit Acrobot-v1"):
        gym.make("hnn/LearnedAcrobot-v1", checkpoint=str(path))
    assert _sha(tmp_path) == before


# ---------------------------------------------------------------------------------------------------- stable-baselines3
def test_sb3_adapter_conventions():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env as sb3_check_env
    from stable_baselines3.common.vec_env import VecCheckNan, VecEnv

    from hnn.envs import SB3VecEnvAdapter

    with pytest.raises(ValueError, match="SAME_STEP"):
        SB3VecEnvAdapter(_vec(n=2))
    with pytest.raises(TypeError, match="LearnedVectorEnv"):
        SB3VecEnvAdapter(gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync"))
    venv = VecCheckNan(SB3VecEnvAdapter(_vec(n=3, autoreset_mode=AutoresetMode.SAME_STEP)), raise_exception=True)
    assert isinstance(venv.unwrapped, VecEnv)
    venv.seed(5)
    obs = venv.reset()
    assert obs.shape == (3, 4) and obs.dtype == np.float32
    venv.unwrapped.venv.state = _about_to_fall(3)
    obs, rewards, dones, infos = venv.step(np.array([1, 0, 1]))
    assert dones.tolist() == [True, False, False] and rewards.dtype == np.float32 and len(infos) == 3
    assert infos[0]["terminal_observation"][0] > 2.4 and np.all(np.abs(obs[0]) <= 0.05)  # same-step reset
    assert infos[0]["TimeLimit.truncated"] is False and "terminal_observation" not in infos[1]
    short = SB3VecEnvAdapter.make("hnn/LearnedPendulum-v1", num_envs=2, model=_ExactStepModel("Pendulum-v1"),
                                  max_episode_steps=2)
    short.reset()
    short.step(np.zeros((2, 1), dtype=np.float32))
    _, _, dones, infos = short.step(np.zeros((2, 1), dtype=np.float32))
    assert dones.tolist() == [True, True] and all(i["TimeLimit.truncated"] for i in infos)
    assert short.get_attr("env_id") == ["Pendulum-v1", "Pendulum-v1"] and short.env_is_wrapped(gym.Wrapper) == [False] * 2
    sb3_check_env(LearnedDynamicsEnv("Pendulum-v1", model=_ExactStepModel("Pendulum-v1")), warn=False)


def test_sb3_sac_and_ppo_learn_on_the_adapter():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO, SAC

    from hnn.envs import SB3VecEnvAdapter

    torch.manual_seed(0)
    sac_env = SB3VecEnvAdapter.make("hnn/LearnedPendulum-v1", num_envs=2, model=_true_model("Pendulum-v1", substeps=1))
    sac = SAC("MlpPolicy", sac_env, learning_starts=100, batch_size=64, seed=0, device="cpu",
              policy_kwargs={"net_arch": [32, 32]})
    sac.learn(500)
    assert sac.num_timesteps >= 500
    ppo_env = SB3VecEnvAdapter.make("hnn/LearnedCartPole-v1", num_envs=4, model=_true_model("CartPole-v1", substeps=1))
    ppo = PPO("MlpPolicy", ppo_env, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu",
              policy_kwargs={"net_arch": [32]})
    ppo.learn(256)
    assert ppo.num_timesteps >= 256


# ---------------------------------------------------------------------------------------------------- benchmark
def test_throughput_benchmark_rows_and_table():
    from hnn.envs.benchmark import format_table, measure

    rows, description = measure("CartPole-v1", (1, 3), steps=4, repeats=1, field="physics")
    assert [(r.kind, r.num_envs) for r in rows] == [
        ("learned", 1), ("gymnasium sync", 1), ("gymnasium vector_entry_point", 1),
        ("learned", 3), ("gymnasium sync", 3), ("gymnasium vector_entry_point", 3)]
    assert all(r.steps_per_second > 0 and r.steps == 4 for r in rows)
    table = format_table(rows, "CartPole-v1", description)
    assert "PhysicsField" in table and "summary: at N = 3" in table
