"""The video Hamiltonian GAN: frame decoder and discriminators for several T and both image sizes, each player's
update touching only its own parameters, checkpoints through hnn.load, and the errors for mismatched parts."""
from __future__ import annotations

import copy

import pytest
import pytorch_lightning as pl
import torch

import hnn
from hnn.data import VideoDataModule
from hnn.models import HamiltonianGAN
from hnn.nn import (BaselineField, BroadcastDecoder, ClipDiscriminator, FrameDecoder, FrameDiscriminator, GRUMotion,
                    HamiltonianField, KeypointDecoder)


def make_video_gan(kind: str = "hamiltonian", image_size: int = 32, frame_discriminator: bool = True,
                   decoder: str = "dcgan", **kwargs) -> HamiltonianGAN:
    field = {"hamiltonian": HamiltonianField(2, hidden_dim=16, structure="separable"),
             "mlp": BaselineField(2, hidden_dim=16), "gru": GRUMotion(2, hidden_dim=8)}[kind]
    return HamiltonianGAN(
        field, ClipDiscriminator(image_size, width=4, features=8, temporal_width=8, temporal_layers=2),
        steps=6, dt=0.1, noise_dim=4, map_width=16, integrator="leapfrog" if kind == "hamiltonian" else "rk4",
        decoder={"dcgan": FrameDecoder, "broadcast": BroadcastDecoder,
                 "keypoint": KeypointDecoder}[decoder](2, image_size, width=8),
        frame_discriminator=FrameDiscriminator(image_size, width=4, features=8) if frame_discriminator else None,
        **kwargs)


@pytest.mark.parametrize("decoder", ["dcgan", "broadcast", "keypoint"])
@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("kind", ["hamiltonian", "mlp", "gru"])
def test_generator_and_discriminators_take_several_lengths_and_both_sizes(kind, image_size, decoder):
    torch.manual_seed(0)
    gan = make_video_gan(kind, image_size, decoder=decoder)
    for steps in (1, 3, 8):
        with torch.no_grad():
            clips, latent = gan.generate(2, steps=steps, return_latent=True)
        assert clips.shape == (2, steps, 1, image_size, image_size) and latent.shape == (2, steps, 2)
        assert float(clips.abs().max()) < 1.0  # tanh output: inside the data's [-1, 1]
        assert gan.discriminator(clips).shape == (2,)
        assert gan.frame_discriminator(clips).shape == (2, steps)
    assert gan.frames and gan.generator_ema is None


def _fit(gan: HamiltonianGAN, data: VideoDataModule, steps: int, root) -> pl.Trainer:
    trainer = pl.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, default_root_dir=str(root),
                         accelerator="cpu", inference_mode=False)
    trainer.fit(gan, datamodule=data)
    return trainer


def _video_data() -> VideoDataModule:
    return VideoDataModule("pendulum", image_size=32, steps=6, dt=0.1, n_train=16, n_val=8, n_test=8,
                           n_reference=8, batch_size=8, seed=0)


@pytest.mark.parametrize("frozen", ["generator", "discriminator"])
def test_one_step_of_each_player_changes_only_its_parameters(frozen, tmp_path):
    """A zero learning rate for one player: its parameters stay exactly equal after one step; every parameter of
    the other player's networks (both discriminators, or noise map + field + decoder) moves."""
    torch.manual_seed(0)
    adam = {player: (lambda p: torch.optim.Adam(p, lr=1e-2)) for player in ("generator", "discriminator")}
    adam[frozen] = lambda p: torch.optim.Adam(p, lr=0.0)
    gan = make_video_gan(generator_optimizer=adam["generator"], discriminator_optimizer=adam["discriminator"],
                         speed_init=False)  # the calibration scales the field before the first step
    before = {k: v.detach().clone() for k, v in gan.named_parameters()}
    _fit(gan, _video_data(), 2, tmp_path)
    changed = {k for k, v in gan.named_parameters() if not torch.equal(before[k], v.detach())}
    d_names = {k for k in before if k.startswith(("discriminator.", "frame_discriminator."))}
    g_names = set(before) - d_names
    assert any(k.startswith("frame_discriminator.") for k in d_names) and any(k.startswith("decoder.") for k in g_names)
    if frozen == "generator":
        assert not changed & g_names and d_names <= changed
    else:
        assert not changed & d_names and g_names <= changed


def test_video_checkpoint_round_trip_through_hnn_load(tmp_path):
    torch.manual_seed(0)
    gan = make_video_gan(ema_decay=0.9)
    trainer = _fit(gan, _video_data(), 2, tmp_path)
    path = tmp_path / "video_gan.ckpt"
    trainer.save_checkpoint(str(path))
    loaded = hnn.load(path)
    assert isinstance(loaded.decoder, FrameDecoder) and isinstance(loaded.frame_discriminator, FrameDiscriminator)
    z = torch.randn(3, 4)
    torch.testing.assert_close(loaded.generate(z=z), gan.eval().generate(z=z), rtol=0, atol=0)


def test_mismatched_parts_name_the_problem():
    field = HamiltonianField(2, hidden_dim=8, structure="separable")
    with pytest.raises(ValueError, match="latent_dim=4"):
        HamiltonianGAN(field, ClipDiscriminator(32), decoder=FrameDecoder(4, 32))
    with pytest.raises(ValueError, match="64-pixel frames, the decoder makes 32-pixel"):
        HamiltonianGAN(field, ClipDiscriminator(64), decoder=FrameDecoder(2, 32))
    with pytest.raises(ValueError, match="angles"):
        HamiltonianGAN(field, ClipDiscriminator(32), decoder=FrameDecoder(2, 32), angles=[True])
    with pytest.raises(ValueError, match="power of two"):
        FrameDecoder(2, 48)
    with pytest.raises(ValueError, match=r"\[B, T, 1, 32, 32\]"):
        ClipDiscriminator(32)(torch.zeros(2, 1, 32, 32))
    gan = HamiltonianGAN(field, ClipDiscriminator(32), decoder=FrameDecoder(2, 32))
    with pytest.raises(TypeError, match="read_states"):
        gan.read_state(torch.zeros(1, 3, 1, 32, 32))
    with pytest.raises(TypeError, match="no fixed observation"):
        gan.observe(torch.zeros(1, 3, 2))


# ------------------------------------------------------------------------------------ the speed calibration
@pytest.mark.parametrize("kind", ["hamiltonian", "mlp"])
def test_calibrate_frequency_scales_the_turning_rate_exactly_and_sets_the_clip_time_scale(kind):
    """f → c·f scales κ_θ by exactly c at any state; after calibration the latent clips turn at about the target
    rate (measured by finite differences along fresh rollouts, not the calibration's own estimate)."""
    from hnn.evaluation import motion_frequency

    torch.manual_seed(0)
    # the motion model and noise map at the sizes of configs/hgan_video_pendulum.yaml and its MLP twin
    field = HamiltonianField(2, hidden_dim=64, structure="separable") if kind == "hamiltonian" else \
        BaselineField(2, hidden_dim=90)
    gan = HamiltonianGAN(field, ClipDiscriminator(32, width=4, features=8, temporal_width=8, temporal_layers=2),
                         steps=32, dt=0.1, integrator="leapfrog" if kind == "hamiltonian" else "rk4",
                         decoder=FrameDecoder(2, 32, width=8), ema_decay=0.9)
    probe = torch.randn(64, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    exact = copy.deepcopy(gan).double()  # the exactness check in float64 (see below)
    before = exact.field_turning_rate(probe)
    with torch.no_grad():
        slow = gan.motion(gan.noise_map(gan.noise(64, torch.Generator().manual_seed(7))))
    target = 1.9
    assert motion_frequency(slow.double(), 0.1) < 0.2 * target  # untrained: far slower than the data
    factor = gan.calibrate_frequency(target, n=32, generator=torch.Generator().manual_seed(3))
    assert factor > 5.0 and bool(gan.speed_calibrated)
    # f → c·f, checked on a float64 copy: exact but for the rounding of the scaled weights (~1e-16), which the
    # central difference of field_turning_rate (step 1e-5) and the cross product's cancellation where the flow is
    # nearly straight (κ small) amplify to at most 5e-8 relative here; in float32 the rounding (~6e-8) reached
    # 1.2e-4 relative at one probe state on one machine and not on another
    factor64 = exact.calibrate_frequency(target, n=32, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(exact.field_turning_rate(probe), factor64 * before, rtol=1e-6, atol=0)
    with torch.no_grad():
        latent = gan.motion(gan.noise_map(gan.noise(64, torch.Generator().manual_seed(7))))
    assert 0.5 * target < motion_frequency(latent.double(), 0.1) < 2.0 * target
    # the weight average generates with the calibrated field too
    for averaged, live in zip(gan.generator_ema["field"].parameters(), gan.field.parameters()):
        assert torch.equal(averaged, live)


def test_calibrate_frequency_rejects_what_it_cannot_calibrate():
    with pytest.raises(TypeError, match="no time step"):
        make_video_gan("gru").calibrate_frequency(1.9)
    gan = make_video_gan("hamiltonian")
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="frequency"):
            gan.calibrate_frequency(bad)
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        gan.field_turning_rate(torch.zeros(3, 4))
    with pytest.raises(TypeError, match="RenderSpec"):  # no trainer, hence no data module with a spec
        gan._real_clip_frequency(torch.zeros(2, 6, 1, 32, 32))


@pytest.mark.parametrize("kind", ["hamiltonian", "mlp", "gru"])
def test_training_calibrates_every_vector_field_from_the_probe_read_real_clips(kind, tmp_path):
    from hnn.evaluation import motion_frequency

    torch.manual_seed(0)
    gan = make_video_gan(kind)
    targets = []
    original = gan.calibrate_frequency

    def recording(frequency, *args, **kwargs):
        targets.append(frequency)
        return original(frequency, *args, **kwargs)

    gan.calibrate_frequency = recording
    data = _video_data()
    _fit(gan, data, 2, tmp_path)
    if kind == "gru":  # a recurrent map has no time step to scale
        assert targets == [] and not bool(gan.speed_calibrated)
        return
    assert len(targets) == 1 and bool(gan.speed_calibrated)
    # the first batch (8 of the 16 training clips) read by the probe: near the whole split's frequency
    split = motion_frequency(read_states_of(data, "train"), data.dt)
    assert targets[0] == pytest.approx(split, rel=0.25)


def read_states_of(data: VideoDataModule, split: str) -> torch.Tensor:
    from hnn.evaluation import read_states

    return read_states(data.clips(split), data.spec, data.dt)


def test_the_video_twin_configs_differ_from_the_hamiltonian_one_only_in_the_motion_model(tmp_path):
    import yaml

    from hnn.paths import config_file
    from hnn.training.cli import build_cli

    names = ("hgan_video_pendulum", "hgan_video_mlp_twin_pendulum", "hgan_video_gru_twin_pendulum")
    parsed = {name: yaml.safe_load(config_file(name).read_text()) for name in names}
    motion_keys = {"field", "integrator", "speed_init"}
    base = parsed[names[0]]
    for name in names[1:]:
        other = parsed[name]
        assert {k: v for k, v in other["model"]["init_args"].items() if k not in motion_keys} == \
            {k: v for k, v in base["model"]["init_args"].items() if k not in motion_keys}, name
        assert other["data"] == base["data"] and other["trainer"] == base["trainer"], name
    counts = []
    for name in names:
        cli = build_cli(["--config", str(config_file(name)), "--trainer.logger", "false",
                         "--trainer.default_root_dir", str(tmp_path)])
        counts.append(sum(p.numel() for p in cli.model.field.parameters()))
    assert all(abs(c / counts[0] - 1.0) <= 0.2 for c in counts), counts  # motion models within ±20 %


def test_gan_report_of_a_frame_gan_holds_the_video_metrics_beside_their_floors():
    from hnn.evaluation import gan_report

    torch.manual_seed(0)
    gan = make_video_gan("hamiltonian", speed_init=False).eval()
    gan.hparams.steps = 32
    data = VideoDataModule("pendulum", image_size=32, steps=32, dt=0.1, n_train=4, n_val=4, n_test=24,
                           n_reference=24, seed=0)
    report = gan_report(gan, data, n=24, permutations=20)
    for key in ("period_error", "period_error_data", "frame_mmd2", "frame_mmd_p", "frame_mmd2_floor",
                "frame_mmd_p_floor"):
        assert key in report and report[key] == report[key], key  # present and not NaN
    assert report["period_error_data"] < 0.02  # the real clips move with their energy's period
    assert 0 <= report["period_scored"] <= 24
    # an untrained decoder's frames are nothing like the blobs: far beyond the real-vs-real floor
    assert report["frame_mmd2"] > 10 * abs(report["frame_mmd2_floor"]) and report["frame_mmd_p"] < 0.1


def test_evaluate_gan_video_quick_runs_end_to_end(tmp_path, monkeypatch, capsys):
    """The video mode's whole path on tiny runs: training from the video configs, the metrics read off the frames
    (with the period match and frame MMD²), the table, the GIF and the PNG."""
    import json

    from PIL import Image

    from hnn.experiments import gan as experiment

    monkeypatch.delenv("WANDB_SERVICE", raising=False)
    monkeypatch.setenv("WANDB_MODE", "disabled")
    out = tmp_path / "video"
    assert experiment.main(["--quick", "--video", "--models", "hgan", "hgan_gru_twin", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "videos: states read off the frames" in printed and "QUICK: not a result" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is True and len(results["runs"]) == 2
    assert {r["checkpoint"].split("/runs/")[1].split("/")[0] for r in results["runs"]} == {
        "hgan_video_pendulum_lr0.0002_seed0", "hgan_video_gru_twin_pendulum_lr0.0002_seed0"}
    row = results["table"]["pendulum"]["rows"]["hgan"]
    assert row["period_error"] is not None and row["frame_mmd2"] is not None
    assert row["floors"]["period_error_data"]["mean"] < 0.02  # the real clips keep their energy's period
    with Image.open(out / "gan_video_pendulum.gif") as gif:
        assert gif.n_frames == 32  # the configs' T
    assert (out / "gan_video_pendulum.png").stat().st_size > 10_000
    with pytest.raises(SystemExit):
        experiment.parse_args(["--video", "--systems", "spring"])


def test_frame_discriminator_r1_is_per_frame_like_its_bce():
    # R1 of a per-frame discriminator: the mean over frames of the squared gradient norm of each frame's logit with
    # respect to that frame (each logit depends on its own frame only); the clip discriminator's: per clip
    torch.manual_seed(0)
    gan = make_video_gan(image_size=16).double()
    real = torch.rand(2, 3, 1, 16, 16, dtype=torch.float64) * 2 - 1
    fake = torch.rand(2, 3, 1, 16, 16, dtype=torch.float64) * 2 - 1
    _, r1, _, _ = gan.discriminator_loss(real, fake)
    clip_terms, frame_terms = [], []
    for b in range(2):
        x = real[b:b + 1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(gan.discriminator(x).sum(), x)
        clip_terms.append(float(g.pow(2).sum()))
        for t in range(3):
            frame = real[b:b + 1, t:t + 1].clone().requires_grad_(True)
            (g,) = torch.autograd.grad(gan.frame_discriminator(frame).sum(), frame)
            frame_terms.append(float(g.pow(2).sum()))
    expected = sum(clip_terms) / 2 + sum(frame_terms) / 6
    assert r1.item() == pytest.approx(expected, rel=1e-10)  # float64: the same sums in another order


def test_broadcast_decoder_paints_each_frame_from_its_own_latent_on_a_pixel_centre_grid():
    torch.manual_seed(0)
    decoder = BroadcastDecoder(2, image_size=16, width=8, depth=2).double()
    z = torch.randn(3, 4, 2, dtype=torch.float64)
    frames = decoder(z)
    assert frames.shape == (3, 4, 1, 16, 16)
    # a frame depends on its own latent only: decoded alone, it is the same to round-off
    assert torch.allclose(decoder(z[1, 2]), frames[1, 2], rtol=0, atol=1e-14)
    # the grid: u grows to the right (columns), v downwards (rows), pixel centres symmetric about 0
    grid = decoder.grid.view(16, 16, 2)
    assert float(grid[0, 0, 0]) == pytest.approx(-15 / 16) and float(grid[0, -1, 0]) == pytest.approx(15 / 16)
    assert float(grid[-1, 0, 1]) == pytest.approx(15 / 16) and torch.all(grid[:, :, 0] == grid[0, :, 0])
    # a pixel-wise MLP that reads only u paints vertical stripes: every row of the frame is the same
    with torch.no_grad():
        decoder.latent_in.weight.zero_()
        decoder.position_in.weight[:, 1] = 0.0
    stripes = decoder(z)
    assert torch.allclose(stripes, stripes[..., :1, :].expand_as(stripes), rtol=0, atol=1e-15)
    assert float(stripes[..., 0, :].std()) > 0  # and the columns differ
    for bad in (torch.zeros(3), "z"):
        with pytest.raises(ValueError, match="BroadcastDecoder takes latents"):
            decoder(bad)
    with pytest.raises(ValueError, match="power of two"):
        BroadcastDecoder(2, image_size=24)


@pytest.mark.parametrize("decoder, cls", [("broadcast", BroadcastDecoder), ("keypoint", KeypointDecoder)])
def test_decoder_gan_round_trips_through_hnn_load(tmp_path, decoder, cls):
    torch.manual_seed(0)
    gan = make_video_gan(decoder=decoder)
    trainer = _fit(gan, _video_data(), 2, tmp_path)
    path = tmp_path / f"{decoder}.ckpt"
    trainer.save_checkpoint(path)
    loaded = hnn.load(path)
    assert isinstance(loaded.decoder, cls) and loaded.decoder.config() == gan.decoder.config()
    z = gan.eval().noise(2, torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded.generate(z=z), gan.generate(z=z))


def test_keypoint_decoder_draws_a_gaussian_map_at_its_keypoint():
    """One keypoint at (x, y) = tanh(0.5), tanh(-0.25) with amplitude 2, and a head that passes its map through
    (a centre-tap convolution, LeakyReLU on positive values, tanh): the frame is tanh(2 exp(-d²/(2 s²))) exactly,
    brightest at the pixel nearest the keypoint."""
    size, sigma = 32, 1.5
    decoder = KeypointDecoder(2, image_size=size, keypoints=1, width=1, depth=1, sigma=sigma).double()
    with torch.no_grad():
        last = decoder.mlp.layers[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.5, -0.25, 2.0]))
        for conv in (decoder.convs[0], decoder.out):
            conv.weight.zero_()
            conv.bias.zero_()
            conv.weight[0, 0, 1, 1] = 1.0
    z = torch.randn(3, 5, 2, dtype=torch.float64)
    frames = decoder(z)
    assert frames.shape == (3, 5, 1, size, size)
    x, y = torch.tanh(torch.tensor(0.5, dtype=torch.float64)), torch.tanh(torch.tensor(-0.25, dtype=torch.float64))
    centres = (torch.arange(size, dtype=torch.float64) + 0.5) / size * 2 - 1
    s = 2 * sigma / size
    d2 = (centres[None, :] - x) ** 2 + (centres[:, None] - y) ** 2  # rows v, columns u
    expected = torch.tanh(2.0 * torch.exp(-d2 / (2 * s * s)))
    assert torch.allclose(frames[1, 3, 0], expected, rtol=0, atol=1e-14)
    row, col = divmod(int(frames[0, 0, 0].argmax()), size)
    assert (row, col) == (int(torch.argmin((centres - y).abs())), int(torch.argmin((centres - x).abs())))
    with pytest.raises(ValueError, match="KeypointDecoder takes latents"):
        decoder(torch.zeros(3))
    with pytest.raises(ValueError, match="sigma"):
        KeypointDecoder(2, sigma=0.0)
