"""hnn.evaluation.openloop (the open-loop protocol), its experiment, and train.py's summary on gym data."""
from __future__ import annotations

import math
import os

import pytest
import torch
from torch import nn

from hnn.evaluation.openloop import open_loop_accuracy, pendulum_energy
from hnn.experiments.openloop import OpenLoopRun, format_table
from hnn.models import DynamicsModule
from hnn.nn import HamiltonianField
from hnn.paths import config_file
from hnn.systems.gym import gym_system
from hnn.training.cli import run_training, summary_lines


class _Exact(nn.Module):
    """A stand-in model whose transition is the env's own free step (float64): the open-loop error must vanish."""

    def __init__(self, env_id: str, scale: float = 1.0) -> None:
        super().__init__()
        self.system = gym_system(env_id)
        self.field = nn.Module()
        self.field.n_u = self.system.n_u
        self.scale = scale  # scale != 1 perturbs the input: a wrong model
        self.anchor = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def transition(self, s, u, dt):
        state = self.system.from_canonical(s)
        return self.system.to_canonical(self.system.free_step(state, self.scale * u))


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "Acrobot-v1", "CartPole-v1"])
def test_the_exact_model_has_no_open_loop_error(env_id):
    report = open_loop_accuracy(_Exact(env_id), env_id, n_starts=20, horizon=60)
    # same float64 operations on both sides: equal to round-off (chaotic Acrobot amplifies ulps, hence 1e-9)
    assert float(report.k_step_error.max()) <= 1e-9
    assert report.median_vpt == 60  # never exceeded the threshold: VPT is the horizon
    if env_id == "Pendulum-v1":
        assert report.energy_drift["learned"] == pytest.approx(report.energy_drift["real"], abs=1e-12)


def test_a_wrong_model_shows_error_growing_with_horizon():
    report = open_loop_accuracy(_Exact("Pendulum-v1", scale=0.5), "Pendulum-v1", n_starts=50, horizon=100)
    errors = [report.median_error(k) for k in (1, 10, 50, 100)]
    assert errors == sorted(errors) and errors[0] > 0 and errors[-1] > 0.1  # running max: monotone
    assert report.median_vpt < 100
    assert [c[0] for c in report.curve()] == [1, 5, 10, 20, 50, 100]


def test_pendulum_energy_is_the_env_hamiltonian():
    # θ̈ = 15 sin θ: E = ½θ̇² + 15 cos θ is constant along the continuous flow (checked on a fine RK4 step)
    system = gym_system("Pendulum-v1")
    s = torch.tensor([[0.3, 1.7]], dtype=torch.float64)
    h = 1e-4
    u = torch.zeros(1, 1, dtype=torch.float64)
    k1 = system.field(s, u); k2 = system.field(s + h / 2 * k1, u)
    k3 = system.field(s + h / 2 * k2, u); k4 = system.field(s + h * k3, u)
    s1 = s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    assert float((pendulum_energy(s1) - pendulum_energy(s)).abs()) < 1e-14 * 20


def test_open_loop_accuracy_rejects_bad_input():
    with pytest.raises(ValueError, match="needs a controlled DynamicsModule"):
        open_loop_accuracy(DynamicsModule(HamiltonianField(2)), "Pendulum-v1")
    with pytest.raises(ValueError, match="unsupported env"):
        open_loop_accuracy(_Exact("Pendulum-v1"), "Hopper-v4")
    with pytest.raises(ValueError, match="n_starts"):
        open_loop_accuracy(_Exact("Pendulum-v1"), "Pendulum-v1", n_starts=0)


def test_train_py_on_a_gym_config_reports_open_loop_error(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    result = run_training(["--config", str(config_file("phnn_gym_pendulum")), "--trainer.max_steps", "20",
                           "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
                           "--data.init_args.cache_dir", str(tmp_path / "cache"), "--data.init_args.verbose", "false",
                           "--data.init_args.n_transitions", "2000"])
    assert result.total_steps == 20 and os.path.exists(result.last_checkpoint)
    text = "\n".join(summary_lines(result))
    assert "PortHamiltonianField on Pendulum-v1: 20 steps" in text
    assert "open-loop error" in text and "valid for" in text
    assert "phnn_Pendulum-v1" in result.run_dir


def test_format_table_gives_median_and_range_over_seeds():
    runs = [OpenLoopRun("pendulum", "phnn", s, 10.0 + s, 100, 1e-3, {1: 0.1 * (s + 1), 10: 1.0, 50: 2.0, 200: 3.0},
                        [0.1], 50.0 + s, {"learned": 0.3, "real": 0.31}) for s in range(3)]
    table = format_table(runs)
    row = [line for line in table.splitlines() if "Pendulum-v1" in line][0]
    assert "| 3 |" in row and "0.2 [0.1–0.3]" in row and "51 [50–52]" in row and "0.3 [0.3–0.3] / 0.31" in row
    assert math.isfinite(runs[0].test_loss)
