"""Videos: the renderer's geometry and range, the centroid read-off of positions and states (float64), and
VideoDataModule's clips."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from hnn.data import RenderSpec, TrajectoryDataModule, VideoDataModule, render_frames
from hnn.evaluation import read_positions, read_states
from hnn.systems import get

SIZES = (16, 32, 64)


def random_states(system: str, n: int, seed: int = 0) -> torch.Tensor:
    """``[n, 2]`` float64 states over the drawn range: every angle (pendulum), |q| ≤ 1 (spring)."""
    generator = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 2, generator=generator, dtype=torch.float64) * 2.0 - 1.0
    return u * torch.tensor([math.pi if system == "pendulum" else 1.0, 1.0], dtype=torch.float64)


@pytest.mark.parametrize("system", ["pendulum", "spring"])
@pytest.mark.parametrize("size", SIZES)
def test_read_positions_recovers_the_rendered_centre_to_sub_pixel_accuracy(system, size):
    spec = RenderSpec.for_system(system, size)
    states = random_states(system, 500, seed=size)
    truth = spec.position(states)
    error = (read_positions(render_frames(states, system, size), spec) - truth).norm(dim=-1).max().item()
    # The centroid of a sampled Gaussian is exact up to the aliasing term ∝ exp(−2π²σ²) (σ = 0.625 px at 16 px:
    # ~2e-3 px; σ ≥ 1.25 px: < 1e-11 px) plus the mass the border cuts off (≥ 4.3σ of room: < 1e-4 px).
    assert error < (0.01 if size == 16 else 1e-4), error
    assert error < 0.05  # the sub-pixel requirement, at every size
    # float32 frames (what VideoDataModule serves): float32 round-off of the pixels, ~1e-7 relative, moves the
    # centroid by far less than 1e-3 px
    frames32 = render_frames(states, system, size, dtype=torch.float32)
    assert frames32.dtype == torch.float32
    error32 = (read_positions(frames32, spec) - truth).norm(dim=-1).max().item()
    assert error32 < error + 1e-3, error32


def test_geometry_pendulum_hangs_down_from_the_centre_and_spring_moves_horizontally():
    for size in SIZES:
        c = (size - 1) / 2
        pendulum, spring = RenderSpec.for_system("pendulum", size), RenderSpec.for_system("spring", size)
        assert pendulum.pivot == spring.pivot == (c, c)
        assert pendulum.sigma == pytest.approx(1.25 * size / 32) and pendulum.background == -0.5
        states = torch.tensor([[0.0, 0.3], [math.pi / 2, 0.0], [math.pi, -1.0]], dtype=torch.float64)
        arm = pendulum.scale
        expected = torch.tensor([[c, c + arm], [c + arm, c], [c, c - arm]], dtype=torch.float64)
        torch.testing.assert_close(pendulum.position(states), expected, rtol=0, atol=1e-12)  # rows grow downwards
        q = torch.tensor([[-1.0, 0.0], [0.0, 0.5], [0.7, 0.0]], dtype=torch.float64)
        expected = torch.tensor([[c - spring.scale, c], [c, c], [c + 0.7 * spring.scale, c]], dtype=torch.float64)
        torch.testing.assert_close(spring.position(q), expected, rtol=0, atol=1e-12)  # p is not drawn
        # the brightest pixel is one nearest to the centre (ties between pixels at a half-pixel position)
        x = random_states("pendulum", 50, seed=size)
        brightest = render_frames(x, "pendulum", size).flatten(-3).argmax(-1)
        row, column = torch.div(brightest, size, rounding_mode="floor"), brightest % size
        offset = torch.stack([column, row], dim=-1).double() - pendulum.position(x)
        assert (offset.abs() <= 0.5 + 1e-9).all()


@pytest.mark.parametrize("system", ["pendulum", "spring"])
def test_frames_have_the_clip_shape_and_stay_in_range_on_a_grey_background(system):
    for size in SIZES:
        for steps in (1, 3, 8):
            states = random_states(system, 4 * steps, seed=steps).reshape(4, steps, 2)
            frames = render_frames(states, system, size)
            assert frames.shape == (4, steps, 1, size, size) and frames.dtype == torch.float64
            assert frames.min() >= -1.0 and frames.max() <= 1.0
            # the corner pixel is ≥ 4σ from every blob: the background, −0.5, not black (−1)
            torch.testing.assert_close(frames[..., 0, 0], torch.full((4, steps, 1), -0.5, dtype=torch.float64),
                                       rtol=0, atol=1e-6)
            # the blob's sampled peak: b + A exp(−(δx² + δy²)/(2σ²)) with |δx|, |δy| ≤ ½ px to the nearest pixel
            spec = RenderSpec.for_system(system, size)
            lowest_peak = spec.background + spec.amplitude * math.exp(-0.25 / spec.sigma ** 2)
            peak = frames.amax(dim=(-2, -1))
            assert (peak >= lowest_peak - 1e-12).all() and (peak <= spec.background + spec.amplitude).all()
    assert render_frames(torch.zeros(2, dtype=torch.float32), system).shape == (1, 32, 32)


def test_bad_sizes_systems_and_states_raise():
    states = torch.zeros(3, 2)
    for size in (30, 48, 8, 0, -32, 100):
        with pytest.raises(ValueError, match=f"power of two.*got {size}"):
            render_frames(states, "pendulum", size)
        with pytest.raises(ValueError, match=f"got {size}"):
            RenderSpec.for_system("spring", size)
    with pytest.raises(TypeError, match="image_size"):
        render_frames(states, "pendulum", 32.0)
    with pytest.raises(ValueError, match=r"system.*\['pendulum', 'spring'\]"):
        render_frames(states, "double_pendulum")
    with pytest.raises(ValueError, match=r"\[\.\.\., 2\]"):
        render_frames(torch.zeros(3, 4), "spring")
    with pytest.raises(TypeError, match="floating"):
        render_frames(torch.zeros(3, 2, dtype=torch.long), "spring")
    spec = RenderSpec.for_system("pendulum", 32)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.sigma = 2.0
    with pytest.raises(ValueError, match="leaves the frame"):
        dataclasses.replace(spec, sigma=3.0)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        dataclasses.replace(spec, amplitude=2.0)
    with pytest.raises(ValueError, match="spec describes"):
        render_frames(states, "pendulum", 64, spec=spec)
    # a custom geometry renders and reads back with the same spec (4.2σ of room: the border cuts ~1e-5 px)
    wide = dataclasses.replace(spec, sigma=1.4)
    x = random_states("pendulum", 50)
    assert (read_positions(render_frames(x, "pendulum", spec=wide), wide) - wide.position(x)).abs().max() < 1e-4


def _third_derivative(system_name: str, x: torch.Tensor) -> torch.Tensor:
    """d³q/dt³ on the exact motion: spring q̈ = −(k/m) q ⇒ q⃛ = −(k/m) p/m; pendulum q̈ = −(b/a) sin q ⇒
    q⃛ = −(b/a) cos q · p/a."""
    system = get(system_name)
    q, p = x[..., 0], x[..., 1]
    if system_name == "spring":
        return -(system.k / system.m) * p / system.m
    return -(system.torque / system.inertia) * torch.cos(q) * p / system.inertia


@pytest.mark.parametrize("system", ["pendulum", "spring"])
def test_read_states_recovers_exact_trajectories_with_second_order_momenta(system):
    errors = {}
    for dt in (0.1, 0.05):
        data = TrajectoryDataModule(system, steps=int(round(3.2 / dt)), dt=dt, n_train=1, n_val=1, n_test=64,
                                    n_reference=1, seed=3)
        x = data.trajectories("test")  # [64, T, 2] float64, the exact / 1e-12 reference motion
        for size in (32, 64):
            spec = RenderSpec.for_system(system, size)
            read = read_states(render_frames(x, system, size), spec, dt)
            assert read.shape == x.shape and read.dtype == torch.float64
            # q: the centroid is exact up to the border's cut of the blob (< 2e-6 px at ≥ 4.7σ of room, 32 and
            # 64 px) and L, s ≥ 8 px, so q is exact to < 1e-6 (rad for the pendulum); required: < 1e-3
            q_error = (read[..., 0] - x[..., 0]).abs().max().item()
            assert q_error < 1e-6, q_error
            # p = a q̇ (a = 1/2) with finite-difference remainders a·dt²/6·q⃛(ξ) inside and a·dt²/3·q⃛(ξ) at the two
            # ends (ξ within the stencil): bounded by those factors times max_t |q⃛| of each trajectory; the q
            # read-off error ε adds at most 2aε/dt ≤ 2e-5 (ε < 1e-6)
            a = 0.5
            third = _third_derivative(system, x).abs().amax(dim=-1, keepdim=True)  # [64, 1]
            factor = torch.full((x.shape[1],), 1.0 / 6.0, dtype=torch.float64)
            factor[0] = factor[-1] = 1.0 / 3.0
            bound = a * dt ** 2 * factor * third + 2.0 * a * 1e-6 / dt
            p_error = (read[..., 1] - x[..., 1]).abs()
            assert (p_error <= bound).all(), (p_error / bound).max().item()
            # and the bound is nearly reached: the error is the finite-difference error, not something smaller
            assert (p_error / bound).max().item() > 0.5
            errors[(dt, size)] = p_error.max().item()
    for size in (32, 64):  # second order: halving dt quarters the momentum error
        assert 3.0 < errors[(0.1, size)] / errors[(0.05, size)] < 5.0, errors


def test_read_states_unwraps_a_rotating_pendulum():
    system = get("pendulum")
    x0 = torch.tensor([[0.5, 3.0], [-2.0, -3.5]], dtype=torch.float64)  # H > 6 = 2b: the pendulum turns over
    dt = 0.05
    x = system.trajectory(x0, torch.arange(64, dtype=torch.float64) * dt).transpose(0, 1)  # [2, 64, 2]
    assert x[..., 0].abs().max() > 2 * math.pi
    spec = RenderSpec.for_system("pendulum", 32)
    read = read_states(render_frames(x, "pendulum", 32), spec, dt)
    # unwrapped: continuous along time and on the branch of the start (in (−π, π]), so equal to the true angle
    assert (read[..., 0] - x[..., 0]).abs().max() < 1e-6  # as in the test above
    # momentum bound as above (a = 1/2, q⃛ = −(b/a) cos q · q̇; ends have factor 1/3 — the max covers both)
    third = _third_derivative("pendulum", x).abs().max()
    assert (read[..., 1] - x[..., 1]).abs().max() <= 0.5 * dt ** 2 / 3.0 * third + 1e-6 / dt


def test_read_off_shapes_and_errors():
    spec = RenderSpec.for_system("spring", 16)
    frames = render_frames(random_states("spring", 30).reshape(2, 3, 5, 2), "spring", 16)
    assert read_positions(frames, spec).shape == (2, 3, 5, 2)
    assert read_states(frames, spec, 0.1).shape == (2, 3, 5, 2)
    assert read_states(frames[0, 0], spec, 0.1).shape == (5, 2)  # one clip [T, 1, S, S]
    with pytest.raises(ValueError, match="at least 3 frames.*T = 2"):
        read_states(frames[..., :2, :, :, :], spec, 0.1)
    with pytest.raises(ValueError, match=r"\[\.\.\., 1, 32, 32\]"):
        read_positions(frames, RenderSpec.for_system("spring", 32))
    with pytest.raises(ValueError, match=r"\[\.\.\., T, 1, 16, 16\]"):
        read_states(frames.squeeze(-3), spec, 0.1)
    with pytest.raises(ValueError, match=r"\[\.\.\., T, 1, 16, 16\]"):
        read_states(frames[0, 0, 0], spec, 0.1)  # a single frame has no time axis
    with pytest.raises(ValueError, match="dt"):
        read_states(frames, spec, 0.0)
    with pytest.raises(TypeError, match="floating"):
        read_positions(frames.long(), spec)
    with pytest.raises(TypeError, match="Tensor"):
        read_positions(frames.numpy(), spec)
    with pytest.raises(TypeError, match="RenderSpec"):
        read_states(frames, "spring", 0.1)
    # an all-background frame has no centroid
    assert read_positions(torch.full((1, 16, 16), spec.background), spec).isnan().all()


@pytest.mark.parametrize("system", ["pendulum", "spring"])
@pytest.mark.parametrize("size", [16, 32])
def test_video_datamodule_serves_rendered_clips_of_disjoint_splits(system, size):
    data = VideoDataModule(system, image_size=size, steps=8, dt=0.1, n_train=24, n_val=24, n_test=24,
                           n_reference=24, batch_size=10, seed=1)
    splits = {name: data.trajectories(name) for name in ("train", "val", "test", "reference")}
    starts = torch.cat([x[:, 0] for x in splits.values()])
    assert torch.unique(starts, dim=0).shape[0] == 96  # four disjoint sets of independent starts
    same = TrajectoryDataModule(system, steps=8, dt=0.1, n_train=24, n_val=24, n_test=24, n_reference=24, seed=1)
    for name, x in splits.items():
        assert x.shape == (24, 8, 2) and x.dtype == torch.float64
        torch.testing.assert_close(x, same.trajectories(name), rtol=0, atol=0)
        clips = data.clips(name)
        assert clips.shape == (24, 8, 1, size, size) and clips.dtype == torch.float32
        assert torch.equal(clips, render_frames(x, system, size, dtype=torch.float32))
    assert data.frame_shape == (1, size, size) and data.periodic == ((True,) if system == "pendulum" else (False,))
    train = data.train_dataloader()
    batches = [b for (b,) in train]
    assert len(train) == len(batches) == 3
    assert [b.shape for b in batches] == [(10, 8, 1, size, size)] * 2 + [(4, 8, 1, size, size)]
    assert all(b.dtype == torch.float32 and b.min() >= -1.0 and b.max() <= 1.0 for b in batches)
    # the training epoch is a shuffled pass over the train clips: the same clips, in another order
    epoch = torch.cat(batches)
    order = torch.argsort(read_states(epoch, data.spec, data.dt)[:, 0, 0])
    reference = torch.argsort(splits["train"][:, 0, 0])
    # batches render in float32 from the batch's states: equal to the whole split's frames up to float32 round-off
    torch.testing.assert_close(epoch[order], data.clips("train")[reference], rtol=0, atol=1e-6)
    assert not torch.equal(epoch, data.clips("train"))
    (val,) = zip(*data.val_dataloader())
    torch.testing.assert_close(torch.cat(val), data.clips("val"), rtol=0, atol=1e-6)  # in order
    assert "noiseless" in data.summary()


def test_video_datamodule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="got 48"):
        VideoDataModule("pendulum", image_size=48)
    with pytest.raises(ValueError, match="steps"):
        VideoDataModule("pendulum", steps=2)  # a momentum read-off needs three frames
    with pytest.raises(ValueError, match="system"):
        VideoDataModule("three_body")
    with pytest.raises(ValueError, match="split"):
        VideoDataModule("spring", n_train=1, n_val=1, n_test=1, n_reference=1).clips("holdout")


# ------------------------------------------------------------------------------------ time scales and metrics
def _circle(omega: float, dt: float, steps: int, radius: float = 1.7) -> torch.Tensor:
    t = torch.arange(steps, dtype=torch.float64) * dt
    return radius * torch.stack([torch.cos(omega * t + 0.4), torch.sin(omega * t + 0.4)], dim=-1)


def test_turning_rate_of_a_circle_is_exact_and_free_of_centre_scale_and_rotation():
    from hnn.evaluation import turning_rate

    dt = 0.1
    for omega in (0.5, 2.0, 6.0):
        exact = 2.0 * math.tan(omega * dt / 2.0) / dt  # central differences on a circle
        x = _circle(omega, dt, 40)
        torch.testing.assert_close(turning_rate(x, dt), torch.full((38,), exact, dtype=torch.float64),
                                   rtol=1e-10, atol=0)
        angle = 0.7
        rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]],
                                dtype=torch.float64)
        moved = 3.5 * x @ rotation.T + torch.tensor([10.0, -4.0], dtype=torch.float64)
        torch.testing.assert_close(turning_rate(moved, dt), turning_rate(x, dt), rtol=1e-9, atol=0)
    # time running c times faster: c times the rate (up to the O((ω dt)²) difference term)
    slow, fast = turning_rate(_circle(1.0, 0.01, 40), 0.01), turning_rate(_circle(3.0, 0.01, 40), 0.01)
    torch.testing.assert_close(fast / slow, torch.full_like(slow, 3.0), rtol=1e-3, atol=0)
    # a standing state has no turning rate: NaN, and motion_frequency refuses it
    from hnn.evaluation import motion_frequency

    assert turning_rate(torch.ones(1, 5, 2, dtype=torch.float64), dt).isnan().all()
    with pytest.raises(ValueError, match="never move"):
        motion_frequency(torch.ones(2, 5, 2), dt)
    with pytest.raises(ValueError, match=r"T >= 3"):
        turning_rate(torch.zeros(4, 2, 2), dt)
    with pytest.raises(TypeError, match="floating"):
        turning_rate(torch.zeros(4, 5, 2, dtype=torch.long), dt)


def test_the_mean_turning_rate_of_an_ellipse_over_whole_periods_is_two_pi_over_the_period():
    """The velocity of a closed convex orbit turns by 2π per period, in any linear coordinates."""
    from hnn.evaluation import motion_frequency

    omega, dt = 1.3, 0.002
    period_steps = int(round(2 * math.pi / omega / dt))
    x = _circle(omega, dt, 3 * period_steps + 2)
    stretched = x @ torch.tensor([[4.0, 1.0], [0.0, 0.5]], dtype=torch.float64).T  # an ellipse, tilted
    assert motion_frequency(stretched, dt) == pytest.approx(omega, rel=2e-3)


def test_probe_read_frequency_of_real_pendulum_clips_matches_the_elliptic_periods():
    from hnn.evaluation import energy_frequency, motion_frequency

    data = VideoDataModule("pendulum", image_size=32, steps=32, dt=0.1, n_train=1, n_val=1, n_test=400,
                           n_reference=1, seed=1)
    x = data.trajectories("test")
    truth = float(energy_frequency(data.system, data.system.hamiltonian(x)[:, 0]).mean())  # E[2π/P]
    read = read_states(data.clips("test"), data.spec, data.dt)
    assert 1.0 < truth < 2.5  # periods 2.6–5 s: the clips hold 0.6–1.2 periods
    assert motion_frequency(read, data.dt) == pytest.approx(truth, rel=0.03)


def test_energy_frequency_known_answers():
    from hnn.evaluation import energy_frequency

    pendulum, spring = get("pendulum"), get("spring")  # H = 3(1 − cos q) + p²: ω₀ = √6;  H = q² + p²: ω = 2
    small = energy_frequency(pendulum, torch.tensor([1e-12], dtype=torch.float64))
    assert float(small) == pytest.approx(math.sqrt(6.0), rel=1e-9)
    # E = 3: m = E/(2b) = 1/2, K(1/2) = 1.8540746773013719 (Abramowitz & Stegun 17.3), P = 4K/ω₀
    half = energy_frequency(pendulum, torch.tensor([3.0], dtype=torch.float64))
    assert float(half) == pytest.approx(2 * math.pi * math.sqrt(6.0) / (4 * 1.8540746773013719), rel=1e-12)
    assert float(energy_frequency(spring, torch.tensor([0.3], dtype=torch.float64))) == pytest.approx(2.0)
    with pytest.raises(TypeError, match="Tensor"):
        energy_frequency(pendulum, 3.0)
    with pytest.raises(TypeError, match="period"):
        energy_frequency(get("two_body"), torch.ones(1))


def test_dominant_frequency_recovers_sinusoids_longer_and_shorter_than_the_clip():
    from hnn.evaluation import dominant_frequency

    dt, steps = 0.1, 32
    t = torch.arange(steps, dtype=torch.float64) * dt
    omegas = torch.tensor([1.3, 2.0, 5.0, 11.0], dtype=torch.float64)  # 1.3: 0.66 periods in the clip
    q = 0.8 * torch.sin(omegas[:, None] * t + torch.tensor([0.3, 2.0, -1.0, 0.9])[:, None].double()) + 0.25
    torch.testing.assert_close(dominant_frequency(q, dt), omegas, rtol=2e-3, atol=0)
    with pytest.raises(ValueError, match="T >= 4"):
        dominant_frequency(q[:, :3], dt)
    with pytest.raises(TypeError, match="floating"):
        dominant_frequency(q.long(), dt)


def test_period_match_of_rendered_true_clips_and_of_clips_played_too_fast():
    from hnn.evaluation import period_match

    pendulum = get("pendulum")
    x0 = torch.stack([torch.zeros(6), torch.linspace(1.0, 1.9, 6)], dim=-1).double()  # E = p² ∈ [1, 3.6]
    dt = 0.1
    x = pendulum.trajectory(x0, torch.arange(32, dtype=torch.float64) * dt).transpose(0, 1)
    spec = RenderSpec.for_system("pendulum", 32)
    read = read_states(render_frames(x, "pendulum", 32), spec, dt)
    exact = period_match(read, pendulum, dt)
    assert exact["n_scored"] == 6 and exact["n_unscored"] == 0
    assert exact["period_error_median"] < 0.01 and exact["period_error_mean"] < 0.01, exact
    # the same orbits sampled every 1.25 dt but labelled dt: 1.25x the frequency the energy implies... read off at
    # the labelled dt the motion is 25 % too fast (and p, hence E, is read 25 % too high: the ratio moves further)
    fast = pendulum.trajectory(x0, torch.arange(32, dtype=torch.float64) * 1.25 * dt).transpose(0, 1)
    wrong = period_match(read_states(render_frames(fast, "pendulum", 32), spec, dt), pendulum, dt)
    assert wrong["period_error_median"] > 0.1
    rotating = pendulum.trajectory(torch.tensor([[0.0, 3.0]], dtype=torch.float64),
                                   torch.arange(32, dtype=torch.float64) * dt).transpose(0, 1)  # E = 9 > 6
    assert period_match(rotating, pendulum, dt)["n_unscored"] == 1
    with pytest.raises(ValueError, match=r"\[N, T, 2\]"):
        period_match(read[0], pendulum, dt)


def test_frame_mmd_is_small_between_real_sets_and_grows_with_a_shift():
    from hnn.evaluation import frame_mmd

    data = VideoDataModule("pendulum", image_size=32, steps=16, dt=0.1, n_train=1, n_val=1, n_test=200,
                           n_reference=200, seed=2)
    test, reference = data.clips("test"), data.clips("reference")
    same = frame_mmd(test, reference, n_frames=800, permutations=100, generator=torch.Generator().manual_seed(0))
    shifted = []
    for delta in (0.15, 0.3, 0.6):
        x = data.trajectories("test").clone()
        x[..., 0] += delta
        clips = render_frames(x, "pendulum", 32, dtype=torch.float32)
        shifted.append(frame_mmd(clips, reference, n_frames=800, permutations=100,
                                 generator=torch.Generator().manual_seed(0)))
    assert same.p_value > 0.01 and shifted[-1].p_value < 0.02
    assert abs(same.mmd2) < shifted[0].mmd2 < shifted[1].mmd2 < shifted[2].mmd2
    # a set against itself: 0 up to the unbiased estimator's diagonal correction
    # (identical samples: the unbiased MMD² is −2(1 − k̄)/N, k̄ ∈ (0, 1) the mean off-diagonal kernel value)
    few = test[:50]  # 800 frames, every one drawn into both samples
    self_mmd = frame_mmd(few, few, n_frames=800, permutations=10, generator=torch.Generator().manual_seed(0))
    assert -2.0 / 800 <= self_mmd.mmd2 <= 0.0
    with pytest.raises(ValueError, match=r"\[N, T, C, S, S\]"):
        frame_mmd(test[0], reference)
    with pytest.raises(ValueError, match="one shape"):
        frame_mmd(test, torch.zeros(2, 3, 1, 16, 16))


# ------------------------------------------------------------------------------------------------ GIF and PNG
def _panels(steps: int = 12) -> dict[str, torch.Tensor]:
    data = VideoDataModule("pendulum", image_size=32, steps=steps, dt=0.1, n_train=1, n_val=1, n_test=3,
                           n_reference=3, seed=4)
    return {"real": data.clips("test"), "other": data.clips("reference")}


def test_clips_gif_opens_with_pillow_with_one_frame_per_time_step(tmp_path):
    from PIL import Image

    from hnn.evaluation.figures import write_clips_gif

    panels = _panels(12)
    path = write_clips_gif(str(tmp_path / "clips.gif"), panels, n_show=2, scale=2)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 12 and gif.is_animated
        # two columns of 64-px tiles with 4-px gaps, a 12-px header and two rows
        assert gif.size == (2 * 64 + 3 * 4, 12 + 2 * 64 + 3 * 4)
    assert [p.name for p in tmp_path.iterdir()] == ["clips.gif"]  # no temporary file left


def test_clips_gif_is_written_atomically(tmp_path, monkeypatch):
    from PIL import Image

    from hnn.evaluation.figures import write_clips_gif

    path = tmp_path / "clips.gif"
    write_clips_gif(str(path), _panels(6))
    before = path.read_bytes()
    original = Image.Image.save

    def failing_save(self, fp, *args, **kwargs):  # write part of the file, then fail
        fp.write(b"GIF89a-partial")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        write_clips_gif(str(path), _panels(8))
    with pytest.raises(OSError, match="disk full"):
        write_clips_gif(str(tmp_path / "new.gif"), _panels(8))
    monkeypatch.setattr(Image.Image, "save", original)
    assert path.read_bytes() == before  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clips.gif"]  # no partial new.gif, no temporary file


def test_clip_strips_png_and_bad_panels(tmp_path):
    from PIL import Image

    from hnn.evaluation.figures import draw_clip_strips, write_clips_gif

    panels = _panels(12)
    energies = {k: torch.rand(3, 12, dtype=torch.float64) for k in panels}
    path = draw_clip_strips(str(tmp_path / "strips.png"), panels, energies, torch.arange(12) * 0.1, n_frames=6)
    with Image.open(path) as png:
        assert png.format == "PNG" and png.size[0] > 200
    with pytest.raises(ValueError, match="same frames per clip"):
        write_clips_gif(str(tmp_path / "x.gif"), {"a": panels["real"], "b": panels["other"][:, :5]})
    with pytest.raises(ValueError, match=r"\[N >= 1, T, 1, S, S\]"):
        write_clips_gif(str(tmp_path / "x.gif"), {"a": panels["real"][0]})
    with pytest.raises(TypeError, match="non-empty dict"):
        write_clips_gif(str(tmp_path / "x.gif"), {})
    with pytest.raises(ValueError, match="same labels"):
        draw_clip_strips(str(tmp_path / "x.png"), panels, {"real": energies["real"]}, torch.arange(12) * 0.1)
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "x.png").exists()
