"""HamiltonianGAN: shapes, the latent leapfrog's symplectic properties (float64), the two players' updates, R1,
checkpoints, the trajectory data and the GAN protocol."""
from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl
import torch

import hnn
from hnn.data import TrajectoryDataModule
from hnn.evaluation import canonical_prior_report, gan_report
from hnn.models import HamiltonianGAN
from hnn.nn import BaselineField, GRUMotion, HamiltonianField, SequenceDiscriminator


def motion_models() -> dict[str, torch.nn.Module]:
    return {"hamiltonian": HamiltonianField(2, hidden_dim=16, structure="separable"),
            "mlp": BaselineField(2, hidden_dim=16), "gru": GRUMotion(2, hidden_dim=8)}


def make_gan(kind: str = "hamiltonian", angles: list[bool] | None = None, **kwargs) -> HamiltonianGAN:
    field = motion_models()[kind]
    obs_dim = 3 if angles and angles[0] else 2
    integrator = "leapfrog" if kind == "hamiltonian" else "rk4"
    return HamiltonianGAN(field, SequenceDiscriminator(obs_dim, width=8, layers=3), steps=8, dt=0.1, noise_dim=4,
                          map_width=16, angles=angles, integrator=integrator, **kwargs)


@pytest.mark.parametrize("kind", ["hamiltonian", "mlp", "gru"])
@pytest.mark.parametrize("angles", [None, [True]])
def test_generator_shapes_for_several_lengths(kind, angles):
    torch.manual_seed(0)
    gan = make_gan(kind, angles)
    obs_dim = 3 if angles else 2
    for steps in (1, 2, 7, 33):
        y, latent = gan.generate(5, steps=steps, return_latent=True)
        assert y.shape == (5, steps, obs_dim) and latent.shape == (5, steps, 2)
        assert gan.discriminator(y).shape == (5,)
    assert gan.generate(z=torch.zeros(3, 4)).shape == (3, 8, obs_dim)  # the default T


def test_observation_and_read_off_are_inverse_on_the_circle():
    gan = make_gan(angles=[True]).double()
    x = torch.randn(50, 6, 2, dtype=torch.float64) * 3.0
    y = gan.observe(x)
    assert y.shape == (50, 6, 3)
    torch.testing.assert_close(y[..., 0], torch.cos(x[..., 0]))
    back = gan.read_state(y)
    wrapped = torch.atan2(torch.sin(x[..., 0]), torch.cos(x[..., 0]))
    torch.testing.assert_close(back[..., 0], wrapped, rtol=0, atol=1e-12)
    torch.testing.assert_close(back[..., 1], x[..., 1], rtol=0, atol=0)


def _hamiltonian_gan_float64(seed: int = 0) -> HamiltonianGAN:
    torch.manual_seed(seed)
    return make_gan("hamiltonian").double()


def test_latent_leapfrog_keeps_the_learned_energy_bounded_with_h2_scaling_and_no_drift():
    gan = _hamiltonian_gan_float64()
    H = gan.field.hamiltonian
    x0 = torch.tensor([[0.8, -0.3], [-0.5, 0.6]], dtype=torch.float64)
    errors = {}
    for h in (0.05, 0.025):
        with torch.no_grad():
            x = gan.motion(x0, steps=10_000, dt=h)  # [2, 10 000, 2]
            e = H(x) - H(x0).unsqueeze(1)
        errors[h] = e.abs().max().item()
        # no drift: the energy error of the last 1000 steps oscillates like that of the first 1000
        first, last = e[:, :1000].abs().max().item(), e[:, -1000:].abs().max().item()
        assert last <= 1.5 * first + 1e-12, (h, first, last)
    # a second-order method: halving h quarters the bounded energy error (ratio 4 up to higher-order terms)
    assert 3.0 < errors[0.05] / errors[0.025] < 5.0, errors


def test_latent_leapfrog_step_is_symplectic_and_time_reversible():
    gan = _hamiltonian_gan_float64(1)
    J = torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)
    for x0 in torch.tensor([[0.3, -0.7], [1.2, 0.4], [-0.9, -1.1]], dtype=torch.float64):
        M = torch.autograd.functional.jacobian(lambda x: gan.motion(x.unsqueeze(0), steps=2, dt=0.1)[0, 1], x0)
        torch.testing.assert_close(M.T @ J @ M, J, rtol=0, atol=1e-10)
    x0 = torch.tensor([[0.3, -0.7], [1.2, 0.4]], dtype=torch.float64)
    with torch.no_grad():
        forward = gan.motion(x0, steps=201, dt=0.1)  # 200 steps at h
        back = gan.motion(forward[:, -1], steps=201, dt=-0.1)  # then 200 at −h
    torch.testing.assert_close(back[:, -1], x0, rtol=0, atol=1e-12)


def _tiny_data(system: str = "spring", n: int = 64) -> TrajectoryDataModule:
    return TrajectoryDataModule(system, steps=8, dt=0.1, n_train=n, n_val=n, n_test=n, n_reference=n,
                                batch_size=32, seed=0)


def _fit(gan: HamiltonianGAN, data: TrajectoryDataModule, steps: int, root) -> pl.Trainer:
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, default_root_dir=str(root),
                         accelerator="cpu", inference_mode=False)
    trainer.fit(gan, datamodule=data)
    return trainer


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def _changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> list[str]:
    return [k for k, v in module.named_parameters() if not torch.equal(before[k], v.detach())]


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_one_training_step_changes_only_the_player_that_steps(frozen, tmp_path):
    """A zero learning rate for one player: after one step its parameters are exactly unchanged, and every
    parameter of the other player's networks has moved."""
    torch.manual_seed(0)
    adam = {player: (lambda p: torch.optim.Adam(p, lr=1e-2)) for player in ("generator", "discriminator")}
    adam[frozen] = lambda p: torch.optim.Adam(p, lr=0.0)
    gan = make_gan(generator_optimizer=adam["generator"], discriminator_optimizer=adam["discriminator"],
                   speed_init=False)  # the calibration before the first step would move the generator
    before = _params(gan)
    _fit(gan, _tiny_data(), 1, tmp_path)
    changed = _changed(before, gan)
    d_names = [k for k in before if k.startswith("discriminator.")]
    g_names = [k for k in before if not k.startswith("discriminator.")]
    if frozen == "generator":
        assert not [k for k in changed if k in g_names] and set(d_names) <= set(changed)
    else:
        assert not [k for k in changed if k in d_names] and set(g_names) <= set(changed)


def test_r1_penalty_matches_finite_differences():
    torch.manual_seed(0)
    gan = make_gan(r1_gamma=10.0).double()
    real = torch.randn(3, 5, 2, dtype=torch.float64)
    fake = torch.randn(3, 5, 2, dtype=torch.float64)
    _, r1, _, _ = gan.discriminator_loss(real, fake)
    eps, total = 1e-6, 0.0
    with torch.no_grad():
        for b in range(3):
            for index in range(10):
                bump = torch.zeros(10, dtype=torch.float64)
                bump[index] = eps
                up = gan.discriminator((real[b].flatten() + bump).view(1, 5, 2))
                down = gan.discriminator((real[b].flatten() - bump).view(1, 5, 2))
                total += float((up - down) / (2 * eps)) ** 2
    # central differences: O(eps²) truncation, O(1e-16/eps) round-off -> agreement to ~1e-8 relative
    assert r1.item() == pytest.approx(total / 3, rel=1e-7)


@pytest.mark.parametrize("kind", ["hamiltonian", "gru"])
def test_weight_average_follows_the_update_rule_and_generates_in_eval_mode(kind, tmp_path):
    """θ̄ ← β_k θ̄ + (1 − β_k) θ after each generator step (β_0 = min(β, 1/10)); eval mode generates with θ̄, train
    mode with θ; the optimizers never see θ̄; hnn.load restores it."""
    torch.manual_seed(0)
    gan = make_gan(kind, ema_decay=0.99, speed_init=False)
    assert make_gan(kind).generator_ema is None  # off by default
    theta0 = {k: v.detach().clone() for k, v in gan.generator_ema.named_parameters()}
    assert all(not p.requires_grad for p in gan.generator_ema.parameters())
    ema_ids = {id(p) for p in gan.generator_ema.parameters()}
    assert not ema_ids & {id(p) for p in gan.generator_parameters()}
    trainer = _fit(gan, _tiny_data(), 2, tmp_path)  # one batch: one discriminator and one generator step
    assert int(gan.ema_updates) == 1
    live = dict(gan.named_parameters())
    for name, averaged in gan.generator_ema.named_parameters():
        expected = 0.1 * theta0[name] + 0.9 * live[name].detach()
        torch.testing.assert_close(averaged, expected, rtol=1e-6, atol=1e-7)
    assert any(not torch.equal(theta0[k], v) for k, v in gan.generator_ema.named_parameters())
    z = torch.randn(4, 4)
    with torch.no_grad():
        trained = gan.train().generate(z=z)
        averaged = gan.eval().generate(z=z)
        for name, module in gan.generator_ema.items():  # the same generator with θ̄ put into the live modules
            getattr(gan, name).load_state_dict(module.state_dict())
        rebuilt = gan.train().generate(z=z)
    torch.testing.assert_close(averaged, rebuilt, rtol=0, atol=0)
    assert not torch.allclose(averaged, trained)
    path = tmp_path / "gan.ckpt"
    trainer.save_checkpoint(str(path))
    loaded = hnn.load(path)
    torch.testing.assert_close(loaded.generate(z=z), averaged, rtol=0, atol=0)
    with pytest.raises(ValueError, match="ema_decay"):
        make_gan(kind, ema_decay=1.0)


@pytest.mark.parametrize("kind", ["hamiltonian", "mlp"])
def test_speed_calibration_scales_the_field_exactly_once(kind, tmp_path):
    """calibrate_speed multiplies the field by c = data speed / field speed (exactly: the fields are linear in
    their output layers), runs on the first training batch only, and is refused for the recurrent twin."""
    torch.manual_seed(0)
    gan = make_gan(kind).double()
    data = _tiny_data()
    data.setup("fit")
    x = data.trajectories("train")[:32].double()
    states = x[:, :-1].reshape(-1, 2)
    with torch.enable_grad():
        before = gan.field.vector_field(states).detach()
    factor = gan.calibrate_speed(x)
    with torch.enable_grad():
        after = gan.field.vector_field(states).detach()
    # float64: the scaled field is c·f up to round-off of the scaled weights (~1e-16 relative per product)
    torch.testing.assert_close(after, factor * before, rtol=1e-12, atol=1e-14)
    data_speed = ((x[:, 1:] - x[:, :-1]) / 0.1).norm(dim=-1).mean()
    assert float(after.norm(dim=-1).mean()) == pytest.approx(float(data_speed), rel=1e-12)
    assert factor > 1.0 and bool(gan.speed_calibrated)  # an untrained tanh field is slower than the data
    fresh = make_gan(kind)
    assert not bool(fresh.speed_calibrated)
    _fit(fresh, data, 2, tmp_path)
    assert bool(fresh.speed_calibrated)
    calls = []
    fresh.calibrate_speed = lambda *a: calls.append(a)  # type: ignore[method-assign]
    _fit(fresh, data, 4, tmp_path)  # more batches (and a continued run): no second calibration
    assert not calls
    with pytest.raises(TypeError, match="recurrent"):
        make_gan("gru").calibrate_speed(x.float())


@pytest.mark.parametrize("kind", ["hamiltonian", "mlp", "gru"])
def test_checkpoint_round_trip_through_hnn_load(kind, tmp_path):
    torch.manual_seed(0)
    gan = make_gan(kind, angles=[True])
    trainer = _fit(gan, _tiny_data("pendulum"), 2, tmp_path)
    path = tmp_path / "gan.ckpt"
    trainer.save_checkpoint(str(path))
    loaded = hnn.load(path)
    assert isinstance(loaded, HamiltonianGAN) and type(loaded.field) is type(gan.field)
    z = torch.randn(4, 4)
    torch.testing.assert_close(loaded.generate(z=z), gan.eval().generate(z=z), rtol=0, atol=0)
    assert HamiltonianGAN.load_from_checkpoint(path).hparams.angles == [True]


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="obs_dim=2"):
        HamiltonianGAN(HamiltonianField(2, structure="separable"), SequenceDiscriminator(2), angles=[True])
    with pytest.raises(ValueError, match="one flag per coordinate"):
        HamiltonianGAN(HamiltonianField(2, structure="separable"), SequenceDiscriminator(2), angles=[True, False])
    with pytest.raises(TypeError, match="field must be"):
        HamiltonianGAN(torch.nn.Linear(2, 2), SequenceDiscriminator(2))
    with pytest.raises(ValueError, match="label_smoothing"):
        make_gan(label_smoothing=0.0)
    with pytest.raises(ValueError, match="dt must be non-zero"):
        HamiltonianGAN(GRUMotion(2), SequenceDiscriminator(2), dt=0.0)
    gan = make_gan("gru")
    with pytest.raises(ValueError, match="no time step"):
        gan.generate(2, dt=0.05)
    with pytest.raises(ValueError, match="exactly one of n"):
        gan.generate(2, z=torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\[batch, T >= 1, 2\]"):
        gan.discriminator(torch.zeros(2, 5, 3))


def test_trajectory_data_is_noiseless_and_splits_are_disjoint():
    data = _tiny_data("pendulum", n=40)
    splits = {name: data.trajectories(name) for name in ("train", "val", "test", "reference")}
    starts = torch.cat([x[:, 0] for x in splits.values()])
    assert torch.unique(starts, dim=0).shape[0] == 160  # four disjoint sets of independent starts
    for x in splits.values():
        assert x.shape == (40, 8, 2) and x.dtype == torch.float64
        energy = data.system.hamiltonian(x)
        # the reference integration's tolerance (dopri5 at 1e-12) bounds the energy error
        assert (energy - energy[:, :1]).abs().max() < 1e-9
    (batch,) = next(iter(data.train_dataloader()))
    assert batch.shape == (32, 8, 2) and batch.dtype == torch.float32
    with pytest.raises(ValueError, match="system"):
        TrajectoryDataModule("three_body")


def test_gan_report_has_every_metric_and_no_dt_checks_for_the_gru():
    torch.manual_seed(0)
    data = _tiny_data("pendulum", n=50)
    report = gan_report(make_gan("hamiltonian", angles=[True]), data, n=50, permutations=20)
    for key in ("energy_w1", "energy_w1_floor", "energy_drift", "physics_residual", "mmd2", "residual_half_dt",
                "residual_double_dt", "residual_reversed"):
        assert isinstance(report[key], float) and math.isfinite(report[key]), key
    assert report["physics_residual_data"] < 1e-6  # the real trajectories are the exact flow
    report = gan_report(make_gan("gru", angles=[True]), data, n=50, permutations=20)
    assert report["residual_half_dt"] is None and report["residual_reversed"] is None


def test_the_reports_judge_the_weight_average_in_whatever_mode_the_model_is_passed():
    """The GAN is judged by its weight average (eval mode) even when passed in train mode, as ``train.py``'s summary
    passes it after fitting; its mode is restored. The live weights differ from the average, so judging them would
    give other figures."""
    from hnn.evaluation.gan import validation_metrics

    torch.manual_seed(0)
    data = _tiny_data("spring", n=50)
    gan = make_gan("hamiltonian", ema_decay=0.99, speed_init=False)
    with torch.no_grad():
        for p in gan.noise_map.parameters():  # the live generator moves away from its average
            p.add_(0.3 * torch.randn_like(p))
    judged = gan_report(gan.eval(), data, n=50, permutations=20)
    live = gan_report(gan.train(), data, n=50, permutations=20)
    assert gan.training  # restored
    assert live == judged
    assert validation_metrics(gan, data, n=50) == validation_metrics(gan.eval(), data, n=50)
    averaged = gan.eval().generate(z=gan.noise(8, torch.Generator().manual_seed(1)))
    trained = gan.train().generate(z=gan.noise(8, torch.Generator().manual_seed(1)))
    assert not torch.allclose(averaged, trained)  # the two generators do differ


def test_canonical_prior_samples_the_learned_energy_and_its_mean_rises_with_temperature():
    """d<H>/dT = Var(H)/T² ≥ 0 for any canonical ensemble: the mean learned energy of the sampled starts rises with
    T; the statistics are finite and ordered; a twin without H is refused."""
    torch.manual_seed(0)
    gan = make_gan("hamiltonian", angles=[True]).eval()
    data = _tiny_data("pendulum", n=50)
    report = canonical_prior_report(gan, data, temperatures=(0.1, 10.0), n=60, box_samples=100, num_warmup=60,
                                    chains=2, max_tree_depth=5)
    cold, hot = report["rows"]
    assert report["t0"] > 0 and hot["temperature"] == pytest.approx(100 * cold["temperature"])
    assert cold["learned_energy_mean"] < hot["learned_energy_mean"]
    for row in report["rows"]:
        assert all(math.isfinite(row[k]) for k in ("q10", "median", "q90", "mean", "energy_drift"))
        assert row["q10"] <= row["median"] <= row["q90"]
    assert math.isfinite(report["data"]["mean"]) and math.isfinite(report["noise_map"]["mean"])
    with pytest.raises(TypeError, match="learned Hamiltonian"):
        canonical_prior_report(make_gan("mlp", angles=[True]).eval(), data, n=10)
    with pytest.raises(ValueError, match="temperatures"):
        canonical_prior_report(gan, data, temperatures=(0.0,), n=10)


def test_evaluate_gan_quick_runs_end_to_end(tmp_path, monkeypatch, capsys):
    """The experiment's whole path (lr choice, second seed on the chosen lr, table, goals, figure) on tiny runs."""
    import json

    from hnn.experiments import gan as experiment

    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    out = tmp_path / "gan"
    assert experiment.main(["--quick", "--systems", "pendulum", "--models", "hgan", "hgan_gru_twin", "--out",
                            str(out)]) == 0
    printed = capsys.readouterr().out
    assert "QUICK: not a result" in printed and "goal energy drift ≤ 0.5× the best twin's" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is True and len(results["runs"]) == 2 and all(r["chosen"] for r in results["runs"])
    rows = results["table"]["pendulum"]["rows"]
    assert rows["hgan"]["residual_half_dt"] is not None and rows["hgan_gru_twin"]["residual_half_dt"] is None
    assert (out / "gan_pendulum.png").stat().st_size > 10_000 and (out / "gan.md").exists()
    with pytest.raises(SystemExit):
        experiment.parse_args(["--systems", "three_body"])
    # the energy-based prior of the trained Hamiltonian GAN, from its checkpoint (data rebuilt from the record)
    checkpoint = next(r["checkpoint"] for r in results["runs"] if r["model"] == "hgan")
    assert experiment.main(["--prior", checkpoint, "--quick", "--temperatures", "0.5", "2", "--out",
                            str(out / "prior")]) == 0
    printed = capsys.readouterr().out
    assert "τ = 2 (T = " in printed and "noise map (the trained prior)" in printed
    prior = json.loads((out / "prior" / "prior.json").read_text())
    (report,) = prior["reports"]
    assert report["system"] == "pendulum" and [row["tau"] for row in report["rows"]] == [0.5, 2.0]
    assert len(report["rows"][0]["energies"]) == experiment.QUICK["n"]
    assert (out / "prior" / "prior_pendulum.png").stat().st_size > 10_000
    with pytest.raises(SystemExit):
        experiment.parse_args(["--prior", checkpoint, "--temperatures", "0"])
    twin = next(r["checkpoint"] for r in results["runs"] if r["model"] == "hgan_gru_twin")
    with pytest.raises(TypeError, match="learned Hamiltonian"):
        experiment.run_prior([twin], quick=True)


def test_train_py_runs_the_gan_config_and_resumes_it(tmp_path, monkeypatch):
    """``scripts/train.py --config configs/hgan_pendulum.yaml`` trains with checkpoints, resumes with
    ``--ckpt_path last`` in the same run folder (both optimizers' states restored), and ``hnn.load`` restores it."""
    from hnn.paths import config_file
    from hnn.training.cli import run_training

    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    args = ["--config", str(config_file("hgan_pendulum")), "--trainer.default_root_dir", str(tmp_path / "runs"),
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--trainer.logger", "false", "--evaluate", "false", "--trainer.check_val_every_n_epoch", "1",
            "--data.init_args.batch_size", "16"]
    for split in ("n_train", "n_val", "n_test", "n_reference"):
        args += [f"--data.init_args.{split}", "32"]
    first = run_training(args + ["--trainer.max_steps", "4"])
    assert first.steps == 4 and first.last_checkpoint.endswith("last.ckpt") and "hgan_pendulum" in first.run_dir
    second = run_training(args + ["--trainer.max_steps", "8", "--ckpt_path", "last"])
    assert second.steps == 4 and second.total_steps == 8 and second.run_dir == first.run_dir
    state = torch.load(second.last_checkpoint, weights_only=True)
    # Lightning's global step counts optimizer steps: one discriminator and one generator step per batch, so 8 steps
    # are 4 updates of each player, continued from the first run's optimizer states
    assert [int(next(iter(s["state"].values()))["step"]) for s in state["optimizer_states"]] == [4, 4]
    assert second.plot_path is not None and second.plot_path.endswith("gan_trajectories.png")
    model = hnn.load(second.last_checkpoint)
    assert isinstance(model, HamiltonianGAN) and model.hparams.angles == [True]


def test_evaluate_gan_logs_its_figures_and_goals_to_an_offline_wandb_run(tmp_path, monkeypatch):
    from hnn.experiments.gan import log_to_wandb

    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    figure = tmp_path / "gan_spring.png"
    from PIL import Image

    Image.new("RGB", (40, 30), "white").save(figure)
    table = {"spring": {"goals": {"energy_w1": {"ratio": 3.0, "met": False}}}}
    assert log_to_wandb(tmp_path, table, "| table |", [str(figure)]) == "offline"
    assert list(tmp_path.glob("wandb/offline-run-*/files/media/images/gan_spring_*.png"))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert log_to_wandb(tmp_path, table, "", [str(figure)]) is None


@pytest.mark.parametrize("kind", ["conv", "gru"])
def test_minibatch_std_discriminator_sees_its_group_and_takes_any_batch(kind):
    torch.manual_seed(0)
    d = SequenceDiscriminator(2, width=8, layers=2, kind=kind, minibatch_std=True).double()
    for b in (1, 2, 3, 5, 8):
        assert d(torch.randn(b, 6, 2, dtype=torch.float64)).shape == (b,)
    y = torch.randn(8, 6, 2, dtype=torch.float64)
    base = d(y)
    moved = y.clone()
    moved[1] += 1.0  # a member of the first group of 4
    out = d(moved)
    assert not torch.isclose(out[0], base[0]) and torch.equal(out[4:], base[4:])  # the other group is untouched
    assert SequenceDiscriminator(2, minibatch_std=True).config()["init_args"]["minibatch_std"] is True
