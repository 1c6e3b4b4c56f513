"""Tests for the Table 1 protocol (hnn/evaluation/table1.py), its experiment (hnn/experiments/table1.py,
scripts/evaluate.py, hnn-table1) and the shipped pretrained models.

Numerical checks run in float64 against exact solutions: the mass-spring flow is closed-form
(``hnn.systems.PaperSpring.trajectory``), so a rollout by dopri5 can be compared with an independent reference.
"""
from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import hnn
import hnn.systems
from hnn.evaluation import evaluate_rollouts
from hnn.evaluation import table1 as ev
from hnn.evaluation.metrics import RolloutReport
from hnn.experiments import table1 as experiment
from hnn.models import DynamicsModule
from hnn.nn import BaselineField, HamiltonianField
from hnn.paths import configs_dir, datasets_dir

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = datasets_dir() / "pretrained"


class ConstantForce:
    """A deliberately wrong Hamiltonian H(q, p) = −v·q: dq/dt = ∂H/∂p = 0, dp/dt = −∂H/∂q = v.

    Its flow is q(t) = q0, p(t) = p0 + v t, so along it H_ref = q² + p² differs from the spring's conserved
    q0² + p0² by 2 p0 v t + v² t² — a hand-computable energy error.
    """

    def __init__(self, v: float) -> None:
        self.v = v

    def hamiltonian(self, x: torch.Tensor) -> torch.Tensor:
        return -self.v * x[..., 0]

    def vector_field(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.zeros_like(x[..., 0]), torch.full_like(x[..., 1], self.v)], dim=-1)


def spring_module() -> SimpleNamespace:
    return SimpleNamespace(system=hnn.systems.get("spring"))


# ------------------------------------------------------------------------------------------- the energy metric
def test_ground_truth_spring_as_model_gives_zero_energy_mse():
    # The model is the true system, rolled out by dopri5 at rtol = atol = 1e-12 (float64); the reference is the
    # exact flow. Over the paper protocol's horizons (here up to 20·1.09³ ≈ 26 time units, ~8 periods) the global
    # error of that rollout stays ~1e-10, so (ΔH)² ~ (2|x|·1e-10)² ~ 1e-20; 1e-17 leaves a wide margin while a
    # wrong time grid or a float32 round-trip (ΔH ~ 1e-7, (ΔH)² ~ 1e-14) would fail.
    protocol = ev.paper_protocol("spring", spring_module(), seed=0, n_starts=2)
    result = evaluate_rollouts(hnn.systems.get("spring"), protocol, rtol=ev.ROLLOUT_TOL, atol=ev.ROLLOUT_TOL)
    assert result.energy_mse < 1e-17
    assert max(result.per_start) < 1e-17
    # The paper's spring protocol compares the model at times 1.09·t: the true system still conserves q² + p², so
    # its energy MSE is ~0 although its states are compared at the wrong times (state MSE is O(0.1)).
    assert result.state_mse > 1e-2


def test_wrong_hamiltonian_gives_the_hand_computed_energy_mse():
    v = 0.3
    protocol = ev.paper_protocol("spring", spring_module(), seed=2, n_starts=4)
    result = evaluate_rollouts(ConstantForce(v), protocol, rtol=ev.ROLLOUT_TOL, atol=ev.ROLLOUT_TOL)
    expected_per_start = []
    for group in protocol.groups:
        p0 = float(group.x0[0, 1])
        t = group.t_model  # the model's (rescaled) times; the reference energy q0² + p0² does not depend on time
        expected_per_start.append(float(((2.0 * p0 * v * t + v * v * t * t) ** 2).mean()))
    expected = sum(expected_per_start) / len(expected_per_start)
    # dopri5 reproduces a linear-in-t solution up to round-off and the reference energy is exact: agreement to
    # ~1e-12 relative; 1e-9 leaves room for the accumulated round-off of ~1000 float64 steps.
    assert result.energy_mse == pytest.approx(expected, rel=1e-9)
    assert result.per_start == pytest.approx(expected_per_start, rel=1e-9)


def test_energy_mse_is_mean_over_starts_and_times():
    # One shared time grid: the protocol's value must equal the plain mean over the [T, K] squared errors.
    v = -0.2
    data = SimpleNamespace(system=hnn.systems.get("pendulum"))
    protocol = ev.paper_protocol("pendulum", data, seed=0, n_starts=4)
    result = evaluate_rollouts(ConstantForce(v), protocol, rtol=ev.ROLLOUT_TOL, atol=ev.ROLLOUT_TOL)
    group = protocol.groups[0]
    q0, p0 = group.x0[:, 0], group.x0[:, 1]
    t = group.t_model.unsqueeze(-1)
    pred_energy = q0 ** 2 + (p0 + v * t) ** 2  # H_ref = q² + p² along the exact constant-force flow
    expected = ((pred_energy - protocol.energy(group.truth)) ** 2).mean()
    assert result.energy_mse == pytest.approx(float(expected), rel=1e-9)


# ------------------------------------------------------------------------------------------- the protocols
def test_paper_spring_protocol_matches_the_notebook():
    protocol = ev.paper_protocol("spring", spring_module(), seed=0)
    assert protocol.n_starts == 15 and len(protocol.groups) == 15
    r = 1.0 + 0.9 * 0.1
    for i, group in enumerate(protocol.groups):
        assert group.x0.shape == (1, 2)
        assert bool(((group.x0.abs() >= 0.2) & (group.x0.abs() <= 1.0)).all())
        assert len(group.t_model) == len(group.t_truth) == 100
        assert float(group.t_truth[0]) == 0.0 and float(group.t_model[0]) == 0.0
        assert float(group.t_truth[-1]) == pytest.approx(20.0 * r ** (i + 1), rel=1e-12)
        assert float(group.t_model[-1]) == pytest.approx(20.0 * r ** (i + 2), rel=1e-12)
    x = torch.tensor([[0.3, -0.7]], dtype=torch.float64)
    assert float(protocol.energy(x)) == pytest.approx(0.3 ** 2 + 0.7 ** 2)


def test_box_starts_cover_all_four_signs_and_the_interval():
    x0 = ev.sample_box_starts(4000, torch.Generator().manual_seed(0))
    magnitude = x0.abs()
    assert float(magnitude.min()) >= 0.2 and float(magnitude.max()) <= 1.0
    # uniform on [0.2, 1.0]: mean 0.6, and each sign about half of the time
    assert float(magnitude.mean()) == pytest.approx(0.6, abs=0.02)
    assert float((x0 > 0).double().mean()) == pytest.approx(0.5, abs=0.03)


def test_paper_pendulum_protocol_uses_q2_plus_p2_not_the_pendulum_energy():
    data = SimpleNamespace(system=hnn.systems.get("pendulum"))
    protocol = ev.paper_protocol("pendulum", data, seed=0, n_starts=4)
    (group,) = protocol.groups
    assert group.x0.shape == (4, 2)
    assert torch.equal(group.t_model, torch.linspace(0.0, 20.0, 100, dtype=torch.float64))
    assert torch.equal(group.t_model, group.t_truth)
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    assert float(protocol.energy(x)) == pytest.approx(2.0)  # the pendulum's own H would be 3(1 − cos 1) + 1
    # the reference is the pendulum's flow: its own energy is conserved along it (to the 1e-12 reference tolerance)
    h = data.system.hamiltonian(group.truth)
    assert float((h - h[:1]).abs().max()) < 1e-9


def test_paper_two_body_protocol():
    data = SimpleNamespace(system=hnn.systems.get("two_body"))
    protocol = ev.paper_protocol("two_body", data, seed=0)
    (group,) = protocol.groups
    assert group.x0.shape == (15, 8)
    assert torch.equal(group.t_model, torch.linspace(0.0, 25.0, 500, dtype=torch.float64))
    # total energy of a hand-made state: bodies at (±0.5, 0) with momenta (0, ±0.5), unit masses, G = 1:
    # H = 2 · 0.5²/2 − 1/1 = −0.75
    x = torch.tensor([0.5, 0.0, -0.5, 0.0, 0.0, 0.5, 0.0, -0.5], dtype=torch.float64)
    assert float(protocol.energy(x)) == pytest.approx(-0.75, rel=1e-12)


def test_real_pendulum_protocol_is_one_rollout_over_the_test_block():
    from hnn.data import HamiltonianDataModule
    from hnn.data.real import load_recording

    data = HamiltonianDataModule(task="real_pendulum", verbose=False)
    for name in ("paper", "physical"):
        protocol = ev.paper_protocol("real_pendulum", data) if name == "paper" else \
            ev.physical_protocol("real_pendulum", data)
        (group,) = protocol.groups
        t, x = load_recording("real_pendulum").trajectory("test")
        assert group.x0.shape == (1, 2)
        assert torch.equal(group.x0[0], x[0, 0])
        assert torch.allclose(group.t_model, t - t[0], rtol=0, atol=1e-12)
        assert torch.equal(group.truth[:, 0], x[0])
        q, p = math.pi / 3, 0.5
        state = torch.tensor([q, p], dtype=torch.float64)
        assert float(protocol.energy(state)) == pytest.approx(2.4 * (1 - math.cos(q)) + p * p, rel=1e-12)


def test_evaluation_data_is_the_train_split_the_model_was_trained_on():
    """The train MSE is computed on the pairs the model saw: a run trained with ``drop_gap_pairs=False`` (the
    paper's real-pendulum recipe, 444 train pairs) is evaluated on 444 pairs, not on the default 434."""
    trained = {"seed": 0, "val_fraction": 0.0, "drop_gap_pairs": False, "task": "real_pendulum", "batch_size": None}
    data = ev.evaluation_datamodule("real_pendulum", trained, cache_dir=None)
    assert data.drop_gap_pairs is False and data.pairs("train")[0].shape == (444, 2)
    assert data.pairs("train")[0].dtype == torch.float64
    default = ev.evaluation_datamodule("real_pendulum", {"seed": 0, "val_fraction": 0.0}, cache_dir=None)
    assert default.pairs("train")[0].shape == (434, 2)  # checkpoints saved before the option: gap pairs dropped


def test_physical_protocol_starts_from_the_test_trajectories(tmp_path):
    from hnn.data import HamiltonianDataModule

    data = HamiltonianDataModule(task="pendulum", dtype="float64", val_fraction=0.0, cache_dir=str(tmp_path),
                                 verbose=False)
    protocol = ev.physical_protocol("pendulum", data, max_starts=5)
    (group,) = protocol.groups
    _, x_true = data.trajectories("test", noiseless=True)
    assert x_true.shape[0] == 25 and ev.PHYSICAL_MAX_STARTS["pendulum"] == 25  # default: every test trajectory
    assert torch.equal(group.x0, x_true[:5, 0])
    x = torch.tensor([1.0, 1.0], dtype=torch.float64)
    assert float(protocol.energy(x)) == pytest.approx(3.0 * (1.0 - math.cos(1.0)) + 1.0, rel=1e-12)
    assert torch.equal(group.t_model, torch.linspace(0.0, 20.0, 100, dtype=torch.float64))


# ------------------------------------------------------------------------------------------- the table
def _fake_run(task: str, kind: str, seed: int, value: float) -> ev.RunResult:
    energy = {name: RolloutReport(energy_mse=value * (2 if name == "physical" else 1), per_start=[value],
                                  state_mse=0.0, energy_drift=None, preds=[], seconds=0.0, finite=True)
              for name in ev.PROTOCOLS}
    return ev.RunResult(model_kind=kind, task=task, seed=seed, train_mse=value / 10, test_mse=value / 5,
                        energy=energy)


def test_table_reports_mean_and_sample_std_over_seeds_beside_the_paper():
    runs = [_fake_run("spring", "hnn", s, v) for s, v in enumerate((1e-4, 2e-4, 3e-4))]
    runs += [_fake_run("spring", "baseline", s, v) for s, v in enumerate((1e-1, 2e-1, 3e-1))]
    table = ev.format_table(runs)
    hnn_row = next(line for line in table.splitlines() if line.startswith("| ideal mass-spring | HNN |"))
    assert "sample standard deviation (n − 1)" in table  # says which std
    # mean 2e-4, sample std 1e-4 (n − 1 = 2); physical column is twice that; the paper's HNN value 3.84e-4
    assert "| 0,1,2 |" in hnn_row
    assert "| 2.00e-04 ± 1.0e-04 | 4.00e-04 ± 2.0e-04 | 3.84e-04 |" in hnn_row
    assert "| 2.00e-05 ± 1.0e-05 | 4.00e-05 ± 2.0e-05 |" in hnn_row  # train, test MSE
    assert "(a) paper-faithful" in table and "(b) physical" in table
    assert "ideal mass-spring: HNN (a) ≤ paper's HNN; HNN < baseline in (a); HNN < baseline in (b)" in table


def test_table_single_seed_has_no_spread():
    table = ev.format_table([_fake_run("two_body", "baseline", 0, 0.5)])
    row = next(line for line in table.splitlines() if line.startswith("| two-body | baseline |"))
    assert "| 5.00e-01 | 1.00e+00 | 6.33e-02 |" in row and "±" not in row


# ------------------------------------------------------------------------------------------- bad input
def test_bad_input_is_rejected_with_a_clear_message(tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown task 'three_body'; choose one of .*'real_pendulum', 'spring', 'two_body'"):
        ev.paper_protocol("three_body", spring_module())
    with pytest.raises(ValueError, match="n_starts must be an int >= 1"):
        ev.paper_protocol("spring", spring_module(), n_starts=0)
    with pytest.raises(ValueError, match="unknown model 'mlp'"):
        experiment.config_path("mlp", "spring")
    with pytest.raises(ValueError, match="unknown task"):
        experiment.run_table1(tasks=["springs"], out_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"hnn_spring_seed0\.ckpt or hnn_spring\.ckpt"):
        experiment.load_checkpoint_runs(tmp_path, "hnn", "spring", [0])
    with pytest.raises(SystemExit) as exit_info:
        experiment.main(["--tasks", "spring", "nope", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "unknown task(s) nope" in capsys.readouterr().err
    assert experiment.main(["--tasks", "spring", "--checkpoints", str(tmp_path / "missing"),
                            "--out", str(tmp_path / "out")]) == 2
    assert "no such directory" in capsys.readouterr().err
    assert not (tmp_path / "out" / "table1.md").exists()  # nothing written on failure


# ------------------------------------------------------------------------------------------- end to end
# two 40-step Lightning trainings and three evaluations at rtol 1e-8: ~10 s measured on a lightly loaded machine
def test_quick_run_writes_table_figure_results_and_pretrained_files(tmp_path, capsys):
    out, export = tmp_path / "out", tmp_path / "pretrained"
    code = experiment.main(["--quick", "--tasks", "spring", "--out", str(out), "--cache-dir",
                            str(tmp_path / "cache"), "--export-pretrained", str(export)])
    assert code == 0
    printed = capsys.readouterr().out
    table = (out / "table1.md").read_text()
    for row in ("| ideal mass-spring | baseline | 0 |", "| ideal mass-spring | HNN | 0 |"):
        assert row in table and row in printed
    png = (out / "table1.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    results = json.loads((out / "results.json").read_text())
    assert {(r["model"], r["task"]) for r in results["runs"]} == {("baseline", "spring"), ("hnn", "spring")}
    for run in results["runs"]:
        assert math.isfinite(run["energy_mse_paper"]) and math.isfinite(run["energy_mse_physical"])
        assert len(run["energy_mse_paper_per_start"]) == 3
    # the exported files: weights-only loadable, right class, checksum and metrics recorded
    manifest = json.loads((export / "manifest.json").read_text())
    for name, cls in (("hnn_spring", HamiltonianField), ("baseline_spring", BaselineField)):
        entry = manifest["models"][name]
        path = export / entry["file"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        model = hnn.load(path)
        assert type(model) is DynamicsModule and type(model.field) is cls and not model.training
        assert set(torch.load(path, weights_only=True)) >= {"state_dict", "hyper_parameters", "hnn_model_class"}
        assert "optimizer_states" not in torch.load(path, weights_only=True)  # weights only, no optimizer state
        run = next(r for r in results["runs"] if f"{r['model']}_{r['task']}" == name)
        assert entry["metrics"]["test_mse"] == run["test_mse"]
    # evaluating the exported files (--checkpoints) reproduces the numbers of the trained models
    code = experiment.main(["--quick", "--tasks", "spring", "--checkpoints", str(export), "--out",
                            str(tmp_path / "again"), "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    again = json.loads((tmp_path / "again" / "results.json").read_text())["runs"]
    for first, second in zip(sorted(results["runs"], key=lambda r: r["model"]), sorted(again, key=lambda r: r["model"])):
        assert second["test_mse"] == pytest.approx(first["test_mse"], rel=1e-6)
        # same weights, starts and solver settings: the same rollouts up to round-off
        assert second["energy_mse_paper"] == pytest.approx(first["energy_mse_paper"], rel=1e-6)


# ------------------------------------------------------------------------------------------- shipped models
def _manifest() -> dict:
    # the shipped models must be there: a missing manifest or file fails these tests (never skips them)
    return json.loads((PRETRAINED / "manifest.json").read_text())


def test_shipped_pretrained_files_are_what_the_manifest_says(tmp_path_factory):
    from hnn.data import HamiltonianDataModule
    from hnn.evaluation import derivative_mse

    manifest = _manifest()
    assert manifest["format"] == 2
    table1 = {name: entry for name, entry in manifest["models"].items() if "env_id" not in entry}
    expected = {f"{kind}_{task}" for kind in ev.MODELS for task in ev.TASKS}
    assert expected == set(table1)  # the controlled gym models (with an env_id) are checked in tests/test_envs.py
    cache = tmp_path_factory.mktemp("cache")
    classes = {"hnn": HamiltonianField, "baseline": BaselineField}
    for name, entry in table1.items():
        path = PRETRAINED / entry["file"]
        assert path.stat().st_size < 1_000_000
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"], name
        model = hnn.load(path)  # weights only, offline, the field rebuilt from the file alone
        assert type(model.field) is classes[name.split("_", 1)[0]]
        # the recorded test MSE is reproduced from the shipped weights on the recipe's test split (float32 sums
        # over ~10^4 pairs: agreement to ~1e-6 relative; 1e-4 tolerates a different BLAS summation order)
        data = HamiltonianDataModule(task=entry["task"], seed=entry["seed"], val_fraction=0.0, cache_dir=str(cache),
                                     verbose=False)
        x, dxdt = data.pairs("test")
        assert derivative_mse(model, x, dxdt) == pytest.approx(entry["metrics"]["test_mse"], rel=1e-4), name


def test_registered_pretrained_models_load_offline_and_match_the_shipped_files():
    from hnn.training.pretrained import available_pretrained, load_pretrained, pretrained_entry

    manifest = _manifest()
    assert available_pretrained() == sorted(manifest["models"])  # the manifest is the registry
    for name in available_pretrained():
        entry = pretrained_entry(name)
        assert (configs_dir() / Path(entry["config"]).name).is_file()
        model = load_pretrained(name)
        reference = hnn.load(PRETRAINED / entry["file"])
        assert type(model) is type(reference) and not model.training
        for key, value in reference.state_dict().items():
            assert torch.equal(model.state_dict()[key], value)
    with pytest.raises(ValueError, match="unknown pretrained model 'hnn_springs'.*hnn_spring"):
        load_pretrained("hnn_springs")


# ------------------------------------------------------------------------------------------- Table 1 configs
def _config(name: str) -> dict:
    import yaml

    return yaml.safe_load((configs_dir() / f"{name}.yaml").read_text())


@pytest.mark.parametrize("kind", ev.MODELS)
def test_real_pendulum_configs_use_the_papers_training_pairs(kind):
    # experiment-real/data.py keeps every consecutive pair, gap-spanning ones included
    assert _config(f"{kind}_real_pendulum")["data"]["init_args"]["drop_gap_pairs"] is False


@pytest.mark.parametrize("kind", ev.MODELS)
def test_two_body_lr_drop_is_at_80_percent_of_the_papers_steps(kind):
    """Adam at the paper's lr 1e-3 / weight_decay 0, dropped 10x at epoch 40; with the full train set (Table 1:
    val_fraction 0, 800 train orbits x 50 points, batches of 200 -> 200 steps per epoch) that is step 8000 of the
    paper's 10000. Guards the milestone (counted in epochs) against a change of batch size or step count."""
    from hnn.data.synthetic import SIMULATION_RECIPES

    config = _config(f"{kind}_two_body")
    model = config["model"]["init_args"]
    assert model["optimizer"] == {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.001, "weight_decay": 0.0}}
    assert "optimizer" not in config and "lr_scheduler" not in config  # one place sets the optimizer
    assert model["scheduler_interval"] == "epoch"
    scheduler = model["scheduler"]
    assert scheduler["class_path"] == "torch.optim.lr_scheduler.MultiStepLR"
    assert scheduler["init_args"] == {"milestones": [40], "gamma": 0.1}
    recipe = SIMULATION_RECIPES["two_body"]
    steps_per_epoch = len(recipe.train_indices()) * recipe.n_points // config["data"]["init_args"]["batch_size"]
    assert steps_per_epoch == 200
    assert 40 * steps_per_epoch == 0.8 * config["trainer"]["max_steps"] == 8000


def test_two_body_config_trains_with_the_dropped_learning_rate(tmp_path):
    """The optimizer/lr_scheduler of the config really drive training: with 5 orbits (4 train orbits x 50 points =
    one batch of 200 per epoch) the lr is 1e-3 before epoch 40 and 1e-4 after it."""
    from hnn.training.cli import run_training

    argv = ["--config", str(experiment.config_path("hnn", "two_body")), "--data.init_args.n_trajectories", "5",
            "--data.init_args.val_fraction", "0", "--data.init_args.cache_dir", str(tmp_path / "cache"),
            "--data.init_args.verbose", "false", "--model.init_args.field.init_args.hidden_dim", "8",
            "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--test", "false", "--evaluate", "false"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        early = run_training([*argv, "--trainer.max_steps", "39"])
        late = run_training([*argv, "--trainer.max_steps", "41", "--trainer.default_root_dir", str(tmp_path / "b")])
    assert early.steps == 39 and late.steps == 41
    assert early.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(1e-3, rel=1e-12)
    assert late.trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(1e-4, rel=1e-12)
    saved = torch.load(late.last_checkpoint, weights_only=True)["hyper_parameters"]
    assert saved["optimizer"]["init_args"]["lr"] == 0.001  # the recorded optimizer is the one that trained
    assert saved["scheduler"]["class_path"] == "torch.optim.lr_scheduler.MultiStepLR"
