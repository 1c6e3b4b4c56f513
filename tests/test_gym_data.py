"""hnn.data.gym: transitions of the real gymnasium envs, their policies, starts, cache and the GymDataModule."""
from __future__ import annotations

import json
import math

import gymnasium
import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch import nn

from hnn.data import ControlWindowBatch, GymDataModule, collect_transitions
from hnn.data.gym import POLICIES, STATE_BOUNDS, WIDE_START_BOXES, _windows, collect, load_transitions
from hnn.systems.gym import GYM_SYSTEMS, gym_system

ENVS = list(GYM_SYSTEMS)
# the tolerances of tests/test_gym_systems.py: a few ulps of each env's precision
TOL = {"Pendulum-v1": 1e-12, "Acrobot-v1": 1e-12, "CartPole-v1": 1e-12, "MountainCarContinuous-v0": 2e-7}


def _same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.tensors().values(), b.tensors().values()))


def test_collect_is_reproducible_by_seed():
    a = collect("Pendulum-v1", 300, "smooth", seed=3, start="wide", max_steps_per_episode=50)
    b = collect("Pendulum-v1", 300, "smooth", seed=3, start="wide", max_steps_per_episode=50)
    c = collect("Pendulum-v1", 300, "smooth", seed=4, start="wide", max_steps_per_episode=50)
    assert _same(a, b)
    assert not torch.equal(a.state, c.state)
    assert collect_transitions is collect


@pytest.mark.parametrize("env_id", ENVS)
def test_record_layout_and_no_transition_across_a_reset(env_id):
    system = gym_system(env_id)
    tr = collect(env_id, 400, "random", seed=0, start="wide", max_steps_per_episode=60)
    n = len(tr)
    assert n == 400
    assert tr.state.shape == tr.next_state.shape == (n, system.state_dim) and tr.state.dtype == torch.float64
    assert tr.obs.shape == tr.next_obs.shape == (n, system.obs_dim)
    assert tr.u.shape == (n, system.n_u)
    assert tr.action.shape == ((n, 1) if system.n_actions is None else (n,))
    for name in ("reward", "terminated", "truncated", "constrained", "episode", "step"):
        assert getattr(tr, name).shape == (n,)
    # within an episode the steps are consecutive and chain next_state -> state; episodes start at step 0
    same_episode = tr.episode[1:] == tr.episode[:-1]
    assert torch.equal(tr.step[1:][same_episode], tr.step[:-1][same_episode] + 1)
    assert torch.all(tr.step[1:][~same_episode] == 0) and tr.step[0] == 0
    assert torch.equal(tr.next_state[:-1][same_episode], tr.state[1:][same_episode])
    assert torch.equal(tr.next_obs[:-1][same_episode], tr.obs[1:][same_episode])
    # an episode ends only where the env said so (or at the budget): no step after terminated/truncated
    ended = tr.terminated | tr.truncated
    assert not torch.any(ended[:-1] & same_episode)
    assert torch.all(ended[:-1][~same_episode])
    assert int(tr.step.max()) < 60
    # observations are the env's observation of the recorded state
    np.testing.assert_allclose(system.observation(tr.next_state).numpy(), tr.next_obs.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(system.observation(tr.state).numpy(), tr.obs.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("env_id", ENVS)
def test_recorded_next_state_is_the_system_step(env_id):
    system = gym_system(env_id)
    tr = collect(env_id, 300, "smooth", seed=1, start="wide")
    pred = system.step(tr.state, tr.action)  # Box: float [N, 1]; Discrete: int64 [N]
    np.testing.assert_allclose(pred.numpy(), tr.next_state.numpy(), rtol=TOL[env_id], atol=TOL[env_id])
    raw = system.free_step(tr.state, tr.u)
    assert torch.equal(system.constrain(raw)[1], tr.constrained)


def test_wide_starts_cover_the_box_and_reset_starts_are_the_envs():
    for env_id in ENVS:
        tr = collect(env_id, 300, "random", seed=0, start="wide", max_steps_per_episode=5)
        first = tr.state[tr.step == 0].numpy()
        low, high = (np.array(b) for b in WIDE_START_BOXES[env_id])
        assert np.all(first >= low - 1e-6) and np.all(first <= high + 1e-6)
        assert np.all(first.max(0) - first.min(0) > 0.5 * (high - low)), env_id  # spread over the box
    tr = collect("Pendulum-v1", 50, "random", seed=0, start="reset", max_steps_per_episode=5)
    assert np.all(np.abs(tr.state[tr.step == 0].numpy()) <= [math.pi, 1.0])


def test_explicit_start_states():
    starts = np.array([[0.5, 0.0], [-1.0, 2.0]])
    tr = collect("Pendulum-v1", 30, "constant", start=starts, max_steps_per_episode=10)
    first = tr.state[tr.step == 0].numpy()
    np.testing.assert_array_equal(first, starts[[0, 1, 0]])
    car = collect("MountainCarContinuous-v0", 5, "constant", start=torch.tensor([-0.5, 0.01]))
    assert car.state[0].tolist() == [float(np.float32(-0.5)), float(np.float32(0.01))]  # stored as the env does
    with pytest.raises(ValueError, match=r"shape \[K, 2\]"):
        collect("Pendulum-v1", 5, start=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="entry 1 = 9 outside"):
        collect("Pendulum-v1", 5, start=[[0.0, 9.0]])
    with pytest.raises(ValueError, match="finite"):
        collect("Pendulum-v1", 5, start=[[0.0, float("nan")]])
    with pytest.raises(ValueError, match="unknown start 'everywhere'"):
        collect("Pendulum-v1", 5, start="everywhere")
    with pytest.raises(TypeError, match="start must be"):
        collect("Pendulum-v1", 5, start=3)
    assert STATE_BOUNDS["CartPole-v1"][1][0] == 2.4


def test_constrained_share_pendulum_and_mountain_car():
    pend = collect("Pendulum-v1", 2000, "smooth", seed=0, start="wide")
    assert pend.constrained_share > 0
    assert torch.all(pend.next_state[pend.constrained][:, 1].abs() == 8.0)  # the ±8 velocity clip acted
    car = collect("MountainCarContinuous-v0", 2000, "smooth", seed=0, start="wide")
    assert car.constrained_share > 0
    assert collect("CartPole-v1", 500, "random", start="wide").constrained_share == 0.0  # no clip in CartPole


@pytest.mark.parametrize("env_id", ENVS)
@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_on_every_env(env_id, policy):
    system = gym_system(env_id)
    if env_id == "CartPole-v1" and policy == "constant":
        with pytest.raises(ValueError, match="CartPole-v1 has no zero force.*-10 N.*\\+10 N"):
            collect(env_id, 10, policy)
        with pytest.raises(ValueError, match="no zero force"):
            GymDataModule(env_id, policy=policy, cache=False)
        return
    tr = collect(env_id, 120, policy, seed=0, start="wide", max_steps_per_episode=40)
    if system.n_actions is None:
        assert torch.all((tr.action >= system.action_low) & (tr.action <= system.action_high))
    else:
        assert torch.all((tr.action >= 0) & (tr.action < system.n_actions))
    if policy == "constant":
        assert torch.all(tr.u == 0)
    if policy == "smooth" and system.n_actions is None:  # OU: neighbouring actions are correlated
        a = tr.action[:, 0]
        same = tr.episode[1:] == tr.episode[:-1]
        assert (a[1:] - a[:-1])[same].abs().mean() < 0.5 * (a[1:] - a[:-1].roll(7))[same].abs().mean()
    if policy == "smooth" and system.n_actions is not None:  # held actions: fewer switches than i.i.d. draws
        switches = (tr.action[1:] != tr.action[:-1])[tr.episode[1:] == tr.episode[:-1]].double().mean()
        assert switches < 0.3


def test_callable_policy_and_its_validation():
    calls = []

    class Alternating:
        def reset(self, rng):
            calls.append("reset")

        def __call__(self, obs, rng):
            assert isinstance(rng, np.random.Generator) and obs.shape == (4,)
            return len(calls) % 2

    tr = collect("CartPole-v1", 50, Alternating(), seed=0)
    assert calls.count("reset") == tr.n_episodes
    tr = collect("Pendulum-v1", 10, lambda obs, rng: 1.5)  # a bare float is accepted
    assert torch.all(tr.action == 1.5)
    tr = collect("Pendulum-v1", 10, lambda obs, rng: torch.tensor([-0.5]))
    assert torch.all(tr.action == -0.5)
    bad = [
        ("Pendulum-v1", lambda obs, rng: np.array([3.0]), "outside the Box"),
        ("Pendulum-v1", lambda obs, rng: np.zeros(2), "shape \\(2,\\)"),
        ("Pendulum-v1", lambda obs, rng: "left", "str"),
        ("Pendulum-v1", lambda obs, rng: None, "NoneType"),
        ("Pendulum-v1", lambda obs, rng: float("nan"), "outside the Box"),
        ("CartPole-v1", lambda obs, rng: 2, "outside the Discrete\\(2\\)"),
        ("CartPole-v1", lambda obs, rng: 0.5, "Discrete\\(2\\).*int"),
        ("Acrobot-v1", lambda obs, rng: True, "bool"),
    ]
    for env_id, policy, message in bad:
        with pytest.raises(ValueError, match=f"policy callable:.*<lambda> returned .*{message}"):
            collect(env_id, 5, policy)
    with pytest.raises(TypeError, match="policy must be one of"):
        collect("Pendulum-v1", 5, policy=3)
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        collect("Pendulum-v1", 5, policy="greedy")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unsupported env 'Hopper-v4'"):
        collect("Hopper-v4", 5)
    with pytest.raises(ValueError, match="n_transitions must be an int >= 1"):
        collect("Pendulum-v1", 0)
    with pytest.raises(TypeError, match="n_transitions must be an int"):
        collect("Pendulum-v1", 5.0)
    with pytest.raises(ValueError, match="max_steps_per_episode must be an int >= 1"):
        collect("Pendulum-v1", 5, max_steps_per_episode=0)
    with pytest.raises(ValueError, match="unsupported env 'Hopper-v4'"):
        GymDataModule("Hopper-v4", cache=False)
    with pytest.raises(ValueError, match="n_transitions must be an int >= 1"):
        GymDataModule("Pendulum-v1", n_transitions=0, cache=False)
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        GymDataModule("Pendulum-v1", window=0, cache=False)
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        GymDataModule("Pendulum-v1", policy="greedy", cache=False)
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction must be < 1"):
        GymDataModule("Pendulum-v1", val_fraction=0.5, test_fraction=0.5, cache=False)
    with pytest.raises(ValueError, match="leave none for training"):
        GymDataModule("Pendulum-v1", n_transitions=200, val_fraction=0.1, test_fraction=0.1, verbose=False,
                      cache=False).setup()


def test_cache_hit_and_manifest(tmp_path):
    args = ("MountainCarContinuous-v0", 200, "smooth", 5, "wide", 80)
    first, result = load_transitions(*args, cache_dir=tmp_path)
    assert not result.hit and result.path is not None
    second, again = load_transitions(*args, cache_dir=tmp_path)
    assert again.hit and again.path == result.path and _same(first, second)
    manifest = json.loads(result.path.with_suffix(".json").read_text())
    recipe = manifest["recipe"]
    assert manifest["seed"] == 5 and recipe["seed"] == 5
    assert recipe["env_id"] == "MountainCarContinuous-v0"
    assert recipe["gymnasium_version"] == gymnasium.__version__
    assert recipe["policy"] == "smooth" and recipe["start"]["kind"] == "wide"
    assert recipe["n_transitions"] == 200 and recipe["max_steps_per_episode"] == 80
    assert result.path.name.startswith("gym-MountainCarContinuous-v0-")
    # another seed is another entry; a callable policy is never cached
    _, other = load_transitions(*args[:3], 6, *args[4:], cache_dir=tmp_path)
    assert not other.hit and other.path != result.path
    messages = []
    _, uncached = load_transitions("Pendulum-v1", 20, lambda obs, rng: 0.0, cache_dir=tmp_path,
                                   progress=messages.append)
    assert uncached.path is None and not uncached.hit
    assert any("cannot be keyed" in m for m in messages)
    assert len(list(tmp_path.glob("gym-Pendulum-v1-*"))) == 0


@pytest.mark.parametrize("window", [1, 5])
def test_datamodule_serves_control_windows(tmp_path, window):
    dm = GymDataModule("Pendulum-v1", n_transitions=1500, policy="smooth", start="wide", window=window,
                       cache_dir=tmp_path, verbose=False, dtype="float64")
    dm.setup()
    assert (dm.env_id, dm.dim, dm.n_u, dm.angles) == ("Pendulum-v1", 2, 1, (True,))
    batch = next(iter(dm.train_dataloader()))
    assert isinstance(batch, ControlWindowBatch)
    m = batch.x.shape[0]
    assert batch.t.shape == (window + 1,) and batch.x.shape == (m, window + 1, 2) and batch.u.shape == (m, window, 1)
    torch.testing.assert_close(batch.t, torch.arange(window + 1, dtype=torch.float64) * 0.05)
    # every window is consecutive steps of one train episode, free of constrained transitions, in canonical layout
    tr = dm.transitions("train")
    assert dm.info["n_windows"]["train"] == m
    s, s_next = tr.canonical()
    row = {(int(e), int(k)): i for i, (e, k) in enumerate(zip(tr.episode, tr.step))}
    found = 0
    for i in range(0, len(tr) - window + 1, 17):
        rows = list(range(i, i + window))
        if tr.episode[i + window - 1] != tr.episode[i] or bool(tr.constrained[rows].any()):
            continue
        assert [row[(int(tr.episode[i]), int(tr.step[i]) + k)] for k in range(window)] == rows
        expected = torch.cat([s[rows], s_next[rows[-1]:rows[-1] + 1]])
        hit = (batch.x == expected).all(-1).all(-1)
        assert int(hit.sum()) == 1
        assert torch.equal(batch.u[hit][0], tr.u[rows])
        found += 1
    assert found > 10
    # split by episode: no episode in two splits
    episodes = {name: set(dm.transitions(name).episode.tolist()) for name in ("train", "val", "test")}
    assert not (episodes["train"] & episodes["val"]) and not (episodes["train"] & episodes["test"])
    assert not (episodes["val"] & episodes["test"])
    assert sum(len(dm.transitions(name)) for name in ("train", "val", "test")) == 1500
    # dropping: the kept windows hold no constrained transition; keeping serves more windows
    kept = GymDataModule("Pendulum-v1", n_transitions=1500, window=window, drop_constrained=False,
                         cache_dir=tmp_path, verbose=False)
    kept.setup()
    n_drop = dm.info["n_dropped_windows"]["train"]
    assert n_drop > 0 and kept.info["n_windows"]["train"] == m + n_drop
    lengths = torch.bincount(tr.episode)
    lengths = lengths[lengths > 0]
    assert kept.info["n_windows"]["train"] == int(torch.clamp(lengths - window + 1, min=0).sum())
    _, _, first, _ = _windows(tr, window, drop_constrained=False)
    rows = first[:, None] + torch.arange(window)
    assert torch.all(tr.episode[rows] == tr.episode[first, None])
    assert torch.all(tr.step[rows] == tr.step[first, None] + torch.arange(window))
    text = dm.summary()
    assert "constrained" in text and f"{100 * dm.constrained_share:.2f} %" in text and "dropped" in text
    assert dm.hparams.env_id == "Pendulum-v1"


def test_datamodule_batches_and_epochs(tmp_path):
    dm = GymDataModule("CartPole-v1", n_transitions=600, policy="random", start="wide", window=3, batch_size=64,
                       cache_dir=tmp_path, verbose=False)
    dm.setup()
    loader = dm.train_dataloader()
    sizes = [b.x.shape[0] for b in loader]
    assert sum(sizes) == dm.info["n_windows"]["train"] and max(sizes) == 64
    assert len(GymDataModule("CartPole-v1", n_transitions=600, cache_dir=tmp_path, verbose=False)
               .train_dataloader()) == 100  # full batch: 100 passes per epoch
    none_held_out = GymDataModule("CartPole-v1", n_transitions=300, val_fraction=0.0, test_fraction=0.0,
                                  cache=False, verbose=False)
    assert len(none_held_out.val_dataloader()) == 0 and len(none_held_out.transitions("train")) == 300
    assert "cache disabled" in none_held_out.summary()


class _TinyControlledField(nn.Module):
    """ds/dt = MLP([cos θ, sin θ, θ̇, u]): the smallest controlled field DynamicsModule trains."""

    def __init__(self, n_q: int = 1, n_u: int = 1, angles: tuple[bool, ...] = (True,)) -> None:
        super().__init__()
        self.dim, self.n_u, self.angles = 2 * n_q, n_u, angles
        self.net = nn.Sequential(nn.Linear(3 * n_q + n_u, 16), nn.Tanh(), nn.Linear(16, 2 * n_q))

    def vector_field(self, x: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        n_q = self.dim // 2
        q, v = x[..., :n_q], x[..., n_q:]
        u = torch.zeros(*x.shape[:-1], self.n_u, dtype=x.dtype) if u is None else u.expand(*x.shape[:-1], self.n_u)
        return self.net(torch.cat([torch.cos(q), torch.sin(q), v, u], -1))


def test_datamodule_trains_a_controlled_field(tmp_path):
    from hnn.models import DynamicsModule

    dm = GymDataModule("Pendulum-v1", n_transitions=800, window=2, batch_size=128, cache_dir=tmp_path,
                       verbose=False)
    model = DynamicsModule(_TinyControlledField(), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    dm.setup()
    batch = next(iter(dm.val_dataloader()))
    with torch.no_grad():
        before = float(model.loss(batch))
    trainer = pl.Trainer(max_steps=30, enable_progress_bar=False, enable_model_summary=False, logger=False,
                         enable_checkpointing=False, accelerator="cpu", num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 30
    with torch.no_grad():
        assert float(model.loss(batch)) < before
