"""hnn.control: the CEM planner (toy optima, warm start, the kept sample, valid actions, bad input), the real-env
evaluation, and scripts/control.py end to end."""
from __future__ import annotations

import json
import math

import pytest
import torch

from hnn.control import (CEMPlanner, PlannerSettings, make_planner, mean_std, random_episode, random_episodes,
                         run_episode, run_episodes, true_dynamics)
from hnn.control.envs import acrobot_objective, cartpole_tiebreak
from hnn.experiments import control as experiment


def integrator(target: float, scale: float = 1.0, offset: float = 0.0, reach: float | None = None):
    """x' = x + scale·a + offset, reward −(x' − target)²; terminated once x' ≥ reach (if given)."""

    def step(state, action):
        a = action.to(state.dtype)
        a = a[:, 0] if a.dim() == 2 else a
        nxt = state + (scale * a + offset)[:, None]
        done = nxt[:, 0] >= reach if reach is not None else torch.zeros(len(state), dtype=torch.bool)
        return nxt, -(nxt[:, 0] - target) ** 2, done

    return step


X0 = torch.zeros(1, dtype=torch.float64)


@pytest.mark.parametrize("target, best_first", [(0.6, 0.6), (2.5, 1.0)])
def test_gaussian_cem_finds_the_integrators_optimal_first_action(target, best_first):
    # min Σ_t (x_t − c)² with |a| ≤ 1 from x = 0: go straight to c (0.6: a = 0.6 then 0; 2.5: 1, 1, 0.5)
    planner = CEMPlanner(integrator(target), distribution="gaussian", horizon=3, samples=300, iterations=8,
                         elites=30, action_low=-1.0, action_high=1.0, seed=1)
    action = planner.plan(X0)
    assert action.shape == (1,) and action.dtype == torch.float64
    assert float(action) == pytest.approx(best_first, abs=0.02)
    expected = {0.6: [0.6, 0.0, 0.0], 2.5: [1.0, 1.0, 0.5]}[target]
    assert planner.last_plan[:, 0].tolist() == pytest.approx(expected, abs=0.05)
    optimum = -sum((x - target) ** 2 for x in torch.tensor(expected).cumsum(0).tolist())
    assert planner.last_value == pytest.approx(optimum, abs=0.01) and planner.last_value <= optimum + 1e-12


def test_discrete_cem_finds_the_best_sequence():
    # categorical: x' = x + (a − 1), a ∈ {0, 1, 2}, target 2 over 3 steps: (2, 2, 1) is the unique optimum
    cat = CEMPlanner(integrator(2.0, offset=-1.0), distribution="categorical", n_actions=3, horizon=3, samples=100,
                     iterations=4, elites=10, seed=0)
    assert int(cat.plan(X0)) == 2
    assert cat.last_plan.tolist() == [2, 2, 1] and cat.last_value == pytest.approx(-1.0)
    # bernoulli: x' = x + (2a − 1), target 3: all ones
    bern = CEMPlanner(integrator(3.0, scale=2.0, offset=-1.0), distribution="bernoulli", horizon=3, samples=50,
                      iterations=3, elites=5, seed=0)
    assert int(bern.plan(X0)) == 1 and bern.last_plan.tolist() == [1, 1, 1]


@pytest.mark.parametrize("distribution, kwargs", [("categorical", {"n_actions": 3}), ("bernoulli", {}),
                                                  ("gaussian", {"action_low": [-1.0, 0.0], "action_high": [1.0, 5.0],
                                                                "block": 4})])
def test_samples_are_valid_actions(distribution, kwargs):
    seen = []

    def step(state, action):
        seen.append(action)
        return state, torch.zeros(len(state), dtype=state.dtype), torch.zeros(len(state), dtype=torch.bool)

    planner = CEMPlanner(step, distribution=distribution, horizon=10, samples=64, iterations=3, elites=8,
                         smoothing=0.5, **kwargs)
    for _ in range(3):
        planner.plan(torch.zeros(2))
    actions = torch.stack(seen)  # [calls, N, ...]
    if distribution == "gaussian":
        assert actions.shape[-1] == 2 and actions.dtype == torch.float32
        assert bool((actions[..., 0].abs() <= 1).all())
        assert bool(((actions[..., 1] >= 0) & (actions[..., 1] <= 5)).all())
        # noise held over blocks of 4 steps: on the first call (prior mean, prior std) steps 0-3 are one draw
        first = torch.stack(seen[:10], 1)  # [N, H, 2] of the first iteration
        assert torch.equal(first[:, 0], first[:, 3]) and not torch.equal(first[:, 3], first[:, 4])
    else:
        n = kwargs.get("n_actions", 2)
        assert actions.dtype == torch.int64 and actions.dim() == 2
        assert set(actions.unique().tolist()) == set(range(n))  # every action drawn, nothing outside
        key = "probs" if distribution == "categorical" else "p"
        probs = planner.final_distribution[key]
        assert bool(((probs >= 0) & (probs <= 1)).all())
        if distribution == "categorical":
            assert probs.sum(-1).tolist() == pytest.approx([1.0] * 10)


def test_warm_start_shifts_the_previous_plan():
    planner = CEMPlanner(integrator(0.6), distribution="gaussian", horizon=5, samples=50, iterations=2, elites=5,
                         action_low=-2.0, action_high=2.0, pull=0.5, init_std=0.7)
    planner.plan(X0)
    final, best = planner.final_distribution, planner.last_plan.clone()
    assert planner.last_kept is None
    planner.plan(torch.tensor([0.1], dtype=torch.float64))
    start = planner.initial_distribution
    # the mean moved one step forward and was pulled halfway to the prior mean (0); the last step is the prior's
    assert torch.allclose(start["mean"][:-1], 0.5 * final["mean"][1:]) and float(start["mean"][-1, 0]) == 0.0
    assert torch.equal(start["std"], torch.full((5, 1), 0.7, dtype=torch.float64))  # std back to the prior
    assert torch.equal(planner.last_kept[:-1], best[1:])  # the kept sequence is the previous best, shifted

    bern = CEMPlanner(integrator(3.0, scale=2.0, offset=-1.0), distribution="bernoulli", horizon=4, samples=20,
                      iterations=2, elites=4, smoothing=0.8, pull=0.5)
    bern.plan(X0)
    p = bern.final_distribution["p"]
    bern.plan(X0)
    assert torch.allclose(bern.initial_distribution["p"], torch.cat([p[1:] + 0.5 * (0.5 - p[1:]),
                                                                     torch.tensor([0.5], dtype=p.dtype)]))
    # reset forgets the plan: the next call starts from the prior
    bern.reset()
    bern.plan(X0)
    assert torch.equal(bern.initial_distribution["p"], torch.full((4,), 0.5, dtype=torch.float64))


def test_the_kept_best_sequence_is_never_lost():
    # 2 samples and 1 iteration: the one fresh sample is often worse than the kept one, which must then win
    dynamics = true_dynamics("Pendulum-v1")
    planner = CEMPlanner(dynamics, distribution="gaussian", horizon=15, samples=2, iterations=1, elites=1,
                         action_low=-2.0, action_high=2.0, seed=3)
    state = torch.tensor([2.5, 0.0], dtype=torch.float64)
    kept_won = 0
    for _ in range(15):
        action = planner.plan(state)
        if planner.last_kept is not None:
            kept_value = float(planner.evaluate(state, planner.last_kept[None])[0][0])
            assert planner.last_value >= kept_value
            kept_won += torch.equal(planner.last_plan, planner.last_kept)
        # the reported value is the returned sequence's, and the action is its first
        assert float(planner.evaluate(state, planner.last_plan[None])[0][0]) == planner.last_value
        assert torch.equal(action, planner.last_plan[0])
        state = dynamics(state[None], action[None])[0][0]
    assert kept_won >= 3


def test_returns_stop_at_termination_and_diverged_sequences_lose():
    def step(state, action):  # reward 1 per step, terminal once x ≥ 2; a = 2 blows up
        nxt = state + action.to(state.dtype)[:, None]
        nxt = torch.where((action == 2)[:, None], torch.full_like(nxt, math.nan), nxt)
        return nxt, torch.ones(len(state), dtype=state.dtype), nxt[:, 0] >= 2

    planner = CEMPlanner(step, distribution="categorical", n_actions=3, horizon=5, samples=4, iterations=1,
                         elites=1)
    actions = torch.tensor([[1, 1, 1, 1, 1], [0, 0, 0, 0, 0], [0, 1, 0, 1, 0], [0, 2, 0, 0, 0]])
    values, rollout = planner.evaluate(X0, actions)
    # terminates on step 2 (its reward counts, none after) / never / on step 4 / diverges on step 2
    assert values.tolist() == [2.0, 5.0, 4.0, -math.inf]
    assert rollout.alive[:, 0].tolist() == [True, True, False, False, False]
    assert bool(torch.isfinite(rollout.states).all())


def test_env_objectives():
    from hnn.control.cem import Rollout

    # CartPole: a small penalty on θ² + 0.1x² over live steps only
    states = torch.zeros(3, 2, 4, dtype=torch.float64)
    states[1:, :, 2] = 0.1
    states[1:, :, 0] = 1.0
    alive = torch.tensor([[True, True], [True, False]])
    rollout = Rollout(states, torch.zeros(2, 2), torch.ones(2, 2), alive, torch.zeros(2, 2, dtype=torch.bool),
                      torch.zeros(2))
    assert cartpole_tiebreak(rollout).tolist() == pytest.approx([-2e-3 * 0.11, -1e-3 * 0.11])
    # Acrobot: a reaching sequence gets nothing extra, others a bonus growing with the highest tip, below 1
    states = torch.zeros(3, 3, 4, dtype=torch.float64)
    states[1:, 1, 0] = math.pi / 2  # tip height 0 (horizontal arm)
    states[1:, 2, 0] = math.pi      # tip at the top
    terminated = torch.tensor([[False, False, False], [False, False, True]])
    rollout = Rollout(states, torch.zeros(3, 2), -torch.ones(2, 3), torch.ones(2, 3, dtype=torch.bool), terminated,
                      -torch.ones(3))
    # hanging (tip −2): 0; horizontal (tip 0): ½·2/3; reached the line: 0
    assert acrobot_objective(rollout).tolist() == pytest.approx([0.0, 1.0 / 3.0, 0.0])


def test_the_true_dynamics_planner_beats_random_on_pendulum():
    settings = PlannerSettings("gaussian", horizon=15, samples=60, iterations=2, elites=6)
    planner = make_planner("Pendulum-v1", true_dynamics("Pendulum-v1"), settings)
    planned = run_episode("Pendulum-v1", planner, seed=4, max_steps=40)
    rand = random_episode("Pendulum-v1", seed=4, max_steps=40)
    assert planned.steps == rand.steps == 40
    assert planned.ret > rand.ret + 50
    # the same seed gives the same episode
    assert run_episode("Pendulum-v1", planner, seed=4, max_steps=10).ret == \
        run_episode("Pendulum-v1", planner, seed=4, max_steps=10).ret


def test_episodes_side_by_side_are_the_episodes_one_at_a_time():
    # one planner row per seed with its own generator: batching the episodes changes nothing for exact dynamics
    settings = PlannerSettings("categorical", horizon=8, samples=30, iterations=2, elites=5, smoothing=0.5)
    planner = make_planner("Acrobot-v1", true_dynamics("Acrobot-v1"), settings)
    alone = [run_episode("Acrobot-v1", planner, seed=s, max_steps=25) for s in (3, 4, 5)]
    together = run_episodes("Acrobot-v1", planner, [3, 4, 5], max_steps=25)
    assert [e.ret for e in together] == [e.ret for e in alone] and [e.seed for e in together] == [3, 4, 5]
    assert len(planner.rows) == 3 and [r.seed for r in planner.rows] == [3, 4, 5]
    assert [e.ret for e in random_episodes("Acrobot-v1", [3, 4], max_steps=25)] == \
        [random_episode("Acrobot-v1", s, max_steps=25).ret for s in (3, 4)]
    # CartPole episodes end at different steps: each leaves the batch when it ends
    cart = make_planner("CartPole-v1", true_dynamics("CartPole-v1"),
                        PlannerSettings("bernoulli", horizon=3, samples=4, iterations=1, elites=1))
    lengths = [e.steps for e in run_episodes("CartPole-v1", cart, [0, 1, 2, 3], max_steps=200)]
    assert len(set(lengths)) > 1 and lengths == [run_episode("CartPole-v1", cart, s, max_steps=200).steps
                                                 for s in range(4)]


def test_plan_batch_keeps_one_memory_per_row():
    planner = CEMPlanner(integrator(0.5), distribution="gaussian", horizon=4, samples=40, iterations=2, elites=5,
                         action_low=-1.0, action_high=1.0)
    planner.reset(seed=[7, 8])
    states = torch.tensor([[0.0], [2.0]], dtype=torch.float64)
    first = planner.plan_batch(states)
    assert first.shape == (2, 1) and float(first[0]) > 0 > float(first[1])  # toward 0.5 from either side
    # only row 1 plans: row 0's memory is untouched
    kept0 = planner.rows[0].last_plan.clone()
    planner.plan_batch(states[1:], rows=[1])
    assert torch.equal(planner.rows[0].last_plan, kept0) and planner.rows[1].last_kept is not None
    alone = CEMPlanner(integrator(0.5), distribution="gaussian", horizon=4, samples=40, iterations=2, elites=5,
                       action_low=-1.0, action_high=1.0, seed=8)
    assert torch.equal(alone.plan(states[1]), first[1])  # row 1 planned what a planner seeded 8 plans
    with pytest.raises(ValueError, match="is not one of the planner's 2 rows"):
        planner.plan_batch(states, rows=[0, 2])
    with pytest.raises(ValueError, match="one planner row per state"):
        planner.plan_batch(states, rows=[0])
    with pytest.raises(ValueError, match="rows must be distinct"):
        planner.plan_batch(states, rows=[1, 1])
    with pytest.raises(ValueError, match="a batch of states of shape"):
        planner.plan_batch(states[0])
    with pytest.raises(ValueError, match="seeds must be distinct"):
        run_episodes("Pendulum-v1", planner, [1, 1])


def test_mean_std_is_the_sample_std():
    assert mean_std([1.0, 3.0]) == (2.0, pytest.approx(math.sqrt(2.0)))
    assert mean_std([5.0]) == (5.0, None)
    with pytest.raises(ValueError, match="at least one"):
        mean_std([])


def test_bad_input_is_rejected_with_a_clear_error():
    step = integrator(0.0)
    base = dict(distribution="gaussian", horizon=5, samples=10, iterations=2, elites=3, action_low=-1,
                action_high=1)
    with pytest.raises(ValueError, match="elites must be at most samples"):
        CEMPlanner(step, **{**base, "elites": 11})
    with pytest.raises(ValueError, match="horizon must be an int >= 1"):
        CEMPlanner(step, **{**base, "horizon": 0})
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=r"smoothing must be in \[0, 1\)"):
            CEMPlanner(step, **{**base, "smoothing": bad})
    with pytest.raises(ValueError, match="unknown distribution"):
        CEMPlanner(step, **{**base, "distribution": "beta"})
    with pytest.raises(ValueError, match="needs action_low and action_high"):
        CEMPlanner(step, distribution="gaussian", horizon=5, samples=10, iterations=2, elites=3)
    with pytest.raises(ValueError, match="needs n_actions"):
        CEMPlanner(step, distribution="categorical", horizon=5, samples=10, iterations=2, elites=3)
    with pytest.raises(ValueError, match="bernoulli distribution has 2 actions"):
        CEMPlanner(step, distribution="bernoulli", n_actions=3, horizon=5, samples=10, iterations=2, elites=3)
    with pytest.raises(TypeError, match="dynamics must be a callable"):
        CEMPlanner("step", **base)
    planner = CEMPlanner(step, **base)
    with pytest.raises(ValueError, match="one state of shape"):
        planner.plan(torch.zeros(2, 1))
    with pytest.raises(ValueError, match="next state of shape"):
        CEMPlanner(lambda s, a: (s[:, :0], s[:, 0], s[:, 0] > 0), **base).plan(X0)
    for env_call in (lambda: true_dynamics("Hopper-v4"), lambda: make_planner("Hopper-v4", step),
                     lambda: random_episode("Hopper-v4", 0)):
        with pytest.raises(ValueError, match="unsupported env 'Hopper-v4'"):
            env_call()
    with pytest.raises(ValueError, match="Discrete\\(3\\) actions"):
        make_planner("Acrobot-v1", step, PlannerSettings("gaussian", 5, 10, 2, 3))
    with pytest.raises(ValueError, match="bernoulli distribution needs 2 actions"):
        make_planner("Acrobot-v1", step, PlannerSettings("bernoulli", 5, 10, 2, 3))
    with pytest.raises(ValueError, match="unknown env 'hopper'"):
        experiment.parse_args(["--envs", "hopper"])
    with pytest.raises(ValueError, match="takes ENV=PATH"):
        experiment.parse_args(["--checkpoint-hnn", "pendulum"])


def test_control_py_quick_runs_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    out = tmp_path / "control"
    assert experiment.main(["--quick", "--envs", "pendulum", "--train", "--rows", "random", "true", "hnn",
                            "--seeds", "0", "1", "--max-steps", "20", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "QUICK settings (not the reference)" in printed and "| Pendulum-v1 | CEM, learned Hamiltonian |" in printed
    results = json.loads((out / "results.json").read_text())
    rows = {r["row"]: r for r in results["rows"]}
    assert set(rows) == {"random", "true", "hnn"} and results["quick"] is True and results["complete"] is True
    assert [len(r["episodes"]) for r in rows.values()] == [2, 2, 2]
    assert all(e["steps"] == 20 for r in rows.values() for e in r["episodes"])
    assert rows["random"]["normalised"] == 0.0 and rows["true"]["normalised"] == 1.0
    assert rows["true"]["mean"] > rows["random"]["mean"]
    assert rows["hnn"]["checkpoint"].endswith(".ckpt") and rows["hnn"]["settings"]["samples"] == 100
    assert "CEM, true dynamics" in (out / "control.md").read_text()
    # --merge: the learned row of that run joins a later run's tables, normalised with the later run's rows
    later = tmp_path / "later"
    assert experiment.main(["--quick", "--envs", "pendulum", "--rows", "random", "true", "--seeds", "0", "1",
                            "--max-steps", "20", "--merge", str(out / "results.json"), "--out", str(later)]) == 0
    later_rows = json.loads((later / "results.json").read_text())["rows"]
    assert sorted(r["row"] for r in later_rows) == ["hnn", "random", "true"]  # the earlier random/true rows dropped
    merged = {r["row"]: r for r in later_rows}
    assert merged["hnn"]["mean"] == rows["hnn"]["mean"] and merged["hnn"]["normalised"] == rows["hnn"]["normalised"]
    with pytest.raises(ValueError, match="planned with"):  # the reference settings are not the quick ones
        experiment.main(["--envs", "pendulum", "--rows", "random", "--seeds", "0", "--max-steps", "2",
                         "--merge", str(out / "results.json"), "--out", str(tmp_path / "other")])


def test_export_ships_the_seed_0_models_with_their_metrics(tmp_path, monkeypatch):
    import hnn
    from hnn.evaluation.openloop import open_loop_accuracy

    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    out, shipped = tmp_path / "control", tmp_path / "pretrained"
    # quick models on the config's 10 000 transitions: seed 0 is shipped, seed 1 is not
    assert experiment.main(["--quick", "--envs", "pendulum", "--train", "--rows", "random", "true", "hnn",
                            "--train-seeds", "0", "1", "--transitions", "10000", "--seeds", "0",
                            "--max-steps", "5", "--out", str(out), "--export-pretrained", str(shipped)]) == 0
    manifest = json.loads((shipped / "manifest.json").read_text())
    assert list(manifest["models"]) == ["phnn_gym_pendulum"]
    entry = manifest["models"]["phnn_gym_pendulum"]
    path = shipped / entry["file"]
    assert path.stat().st_size == entry["bytes"] < 1_000_000
    assert entry["env_id"] == "Pendulum-v1" and entry["real_transitions"] == 10000 and entry["seed"] == 0
    results = json.loads((out / "results.json").read_text())
    row = next(r for r in results["rows"] if r["row"] == "hnn" and r["train_seed"] == 0)
    assert entry["metrics"]["planner_return_mean"] == row["mean"]
    assert entry["metrics"]["planner_normalised"] == row["normalised"]
    # the recorded open-loop error is reproduced from the shipped weights alone
    report = open_loop_accuracy(hnn.load(path), "Pendulum-v1")
    assert report.median_error(50) == pytest.approx(entry["metrics"]["open_loop_median_error_50"], rel=1e-6)
