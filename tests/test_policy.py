"""hnn.experiments.policy: argument errors, the scores, the real-env evaluation of a policy, and scripts/policy.py
--quick end to end on a small trained model."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from hnn.experiments import policy as experiment  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_checkpoint(tmp_path_factory) -> str:
    """A small controlled Pendulum-v1 model (train_model's quick settings: 2000 transitions, 50 steps)."""
    from hnn.experiments.control import train_model
    from hnn.experiments.table1 import quiet_training

    os.environ.pop("WANDB_SERVICE", None)
    with quiet_training(wandb=False):
        return train_model("Pendulum-v1", "hnn", tmp_path_factory.mktemp("policy_model"), seed=0, quick=True)


@pytest.mark.parametrize("argv, message", [
    (["--train", "--steps", "0"], "--steps must be an int >= 1"),
    (["--train", "--steps", "-5"], "--steps must be an int >= 1"),
    (["--train", "--n-envs", "0"], "--n-envs must be an int >= 1"),
    (["--train", "--steps", "3", "--n-envs", "4"], "--steps (3) must be at least --n-envs (4)"),
    (["--train", "--sac-seed", "-1"], "--sac-seed must be an int >= 0"),
    (["--train", "--threads", "0"], "--threads must be an int >= 1"),
    (["--train", "--checkpoint", __file__], "not both"),
    (["--checkpoint", "/no/such/file.ckpt"], "no such file"),
])
def test_bad_arguments_are_a_clear_value_error(argv, message):
    with pytest.raises(ValueError) as err:
        experiment.parse_args(argv)
    assert message in str(err.value)


def test_without_a_model_the_shipped_one_is_used(monkeypatch):
    from hnn.envs import core
    from hnn.training.pretrained import pretrained_path

    assert experiment.parse_args([]).checkpoint == pretrained_path(core.PRETRAINED["Pendulum-v1"])
    monkeypatch.setitem(core.PRETRAINED, "Pendulum-v1", None)
    with pytest.raises(ValueError, match="pass --checkpoint PATH"):
        experiment.parse_args([])


def test_non_integer_steps_exits_with_argparse_message(capsys):
    with pytest.raises(SystemExit) as err:
        experiment.parse_args(["--train", "--steps", "many"])
    assert err.value.code == 2 and "--steps" in capsys.readouterr().err


def test_defaults_are_the_protocol_and_quick_is_not():
    args = experiment.parse_args(["--train"])
    assert (args.steps, args.n_envs, args.sac_seed, args.seeds, args.max_steps) == (20_000, 4, 0, list(range(10)),
                                                                                    None)
    quick = experiment.parse_args(["--train", "--quick"])
    assert quick.steps == experiment.QUICK_STEPS and quick.seeds == [0, 1] and quick.max_steps == 50
    assert experiment.parse_args(["--train", "--quick", "--steps", "40"]).steps == 40


def test_training_env_seeds_never_are_evaluation_seeds():
    seen: set[int] = set()
    for sac_seed in range(5):
        seeds = experiment.training_env_seeds(sac_seed, 4)
        assert len(seeds) == 4 and not set(seeds) & set(experiment.SEEDS) and not set(seeds) & seen
        seen |= set(seeds)
    with pytest.raises(ValueError, match="n_envs"):
        experiment.training_env_seeds(0, 0)


def test_scores():
    s = experiment.scores(learned=-300.0, real=-200.0, random=-1200.0)
    assert s["normalised"] == pytest.approx(0.9) and s["ratio"] == pytest.approx(2 / 3)
    assert s["goal_met"] is True and s["ratio_reaches_goal"] is False
    worse = experiment.scores(learned=-350.0, real=-200.0, random=-1200.0)
    assert worse["normalised"] == pytest.approx(0.85) and worse["goal_met"] is False
    assert experiment.scores(-200.0, -200.0, -200.0)["normalised"] is None
    with pytest.raises(ValueError, match="finite"):
        experiment.scores(float("nan"), -200.0, -1200.0)


class ConstantPolicy:
    def __init__(self, torque: float) -> None:
        self.torque = torque

    def predict(self, obs, deterministic=False):  # a batch of observations, as stable-baselines3 takes them
        assert deterministic and obs.ndim == 2 and obs.shape[1] == 3
        return np.full((len(obs), 1), self.torque, dtype=np.float32), None


def test_policy_episode_is_the_real_env_episode_from_the_seed():
    episode = experiment.policy_episode(ConstantPolicy(0.5), seed=3)
    env = gym.make("Pendulum-v1")
    env.reset(seed=3)
    total, steps, done = 0.0, 0, False
    while not done:
        _, r, term, trunc, _ = env.step(np.array([0.5], dtype=np.float32))
        total, steps, done = total + float(r), steps + 1, term or trunc
    assert steps == 200 and episode.steps == 200 and episode.ret == pytest.approx(total, rel=1e-12)
    assert experiment.policy_episode(ConstantPolicy(0.5), seed=4).ret != pytest.approx(total)
    assert experiment.policy_episode(ConstantPolicy(0.5), seed=3, max_steps=7).steps == 7
    with pytest.raises(TypeError, match="predict"):
        experiment.policy_episode(object(), seed=0)
    with pytest.raises(ValueError, match="seeds"):
        experiment.evaluate_policy(None, [])


def test_model_transitions_reads_the_checkpoint(quick_checkpoint):
    n, data = experiment.model_transitions(quick_checkpoint)
    assert n == 2000 and data["env_id"] == "Pendulum-v1" and data["n_transitions"] == 2000


def test_policy_py_quick_runs_end_to_end(quick_checkpoint, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    out = tmp_path / "policy"
    assert experiment.main(["--quick", "--checkpoint", quick_checkpoint, "--steps", "120", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "not the protocol" in printed and "normalised" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["quick"] is True and results["steps"] == 120 and results["seeds"] == [0, 1]
    rows = results["rows"]
    assert set(rows) == {"random", "learned", "real"}
    for row in rows.values():
        assert [e["seed"] for e in row["episodes"]] == [0, 1]
        assert all(e["steps"] == 50 and math.isfinite(e["ret"]) for e in row["episodes"])
        assert math.isfinite(row["mean"]) and math.isfinite(row["std"])
    learned, real = rows["learned"], rows["real"]
    # the learned side stepped only the learned env; its real transitions are the model's data
    assert learned["training_env_class"] == "SB3VecEnvAdapter(LearnedVectorEnv)"
    assert real["training_env_class"] == "DummyVecEnv(PendulumEnv)"
    assert learned["real_transitions"] == results["model"]["n_transitions"] == 2000
    assert learned["learned_env_transitions"] == 120 and real["real_transitions"] == 120
    assert learned["train_seconds"] > 0 and real["train_seconds"] > 0
    assert results["sac"]["learning_rate"] == 1e-3 and results["sac"]["gradient_steps"] == -1
    assert results["sac"]["n_envs"] == 4
    s = results["scores"]
    expected = experiment.scores(learned["mean"], real["mean"], rows["random"]["mean"])
    assert s == expected
    summary = (out / "policy.md").read_text()
    assert "QUICK" in summary and "SB3VecEnvAdapter" not in summary and "2,000" in summary


def test_scripts_policy_py_reports_bad_steps():
    env = {k: v for k, v in os.environ.items() if k != "WANDB_SERVICE"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "policy.py"), "--train", "--steps", "0"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0 and "--steps must be an int >= 1" in proc.stderr
