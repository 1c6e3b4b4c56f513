"""Tests for the physics metrics of the Hamiltonian-GAN evaluation (hnn/evaluation/gan.py).

Everything runs in float64. The springs have closed-form flows, so their exact trajectories score at round-off;
the pendulums' references are dopri5 at rtol = atol = 1e-12, so theirs score at that tolerance.
"""
from __future__ import annotations

import math

import numpy
import pytest
import torch

import hnn.systems
from hnn.evaluation import MMDResult, energy_drift, energy_report, energy_w1, mmd, one_step_flow, physics_residual
from hnn.evaluation.gan import _permutation_mmd2, _rbf_kernel

DT = 0.1


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def exact_trajectories(system, n: int, steps: int, seed: int, **sample) -> torch.Tensor:
    """``[n, steps, 2]`` reference trajectories sampled every DT from ``sample_initial`` starts."""
    x0 = system.sample_initial(n, gen(seed), dtype=torch.float64, **sample)
    t = torch.arange(steps, dtype=torch.float64) * DT
    return system.trajectory(x0, t).transpose(0, 1)


def drifting_trajectories(system, n: int, steps: int, seed: int, damping: float = 0.99) -> torch.Tensor:
    """A 'drifting generator': one exact step, then p scaled by ``damping``, repeated."""
    flow = one_step_flow(system, DT)
    x = system.sample_initial(n, gen(seed), dtype=torch.float64)
    states = [x]
    for _ in range(steps - 1):
        x = flow(x) * torch.tensor([1.0, damping], dtype=torch.float64)
        states.append(x)
    return torch.stack(states, dim=1)


# ------------------------------------------------------------------------------------------------------ W₁
def test_energy_w1_hand_cases():
    # Exact arithmetic on small dyadic numbers: only round-off (1e-15) separates the result from the hand value.
    assert energy_w1(torch.tensor([0.0]), torch.tensor([1.0])) == pytest.approx(1.0, abs=1e-15)
    # F_a − F_b = 1/2 on [0, 1): W₁ = 1/2 (different sample sizes).
    assert energy_w1(torch.tensor([0.0, 1.0]), torch.tensor([0.0])) == pytest.approx(0.5, abs=1e-15)
    a = torch.randn(57, generator=gen(0), dtype=torch.float64)
    for c in (0.25, -1.5, 3.0):  # a shift by c moves every quantile by c
        assert energy_w1(a, a + c) == pytest.approx(abs(c), rel=1e-12)
    assert energy_w1(a, a[torch.randperm(57, generator=gen(1))]) == 0.0  # order does not matter
    assert energy_w1(a, a.float()) < 1e-6  # any real dtype; float32 rounding is ~1e-7 per value


def test_energy_w1_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    a = torch.randn(37, generator=gen(2), dtype=torch.float64)
    b = 0.7 * torch.randn(53, generator=gen(3), dtype=torch.float64) + 0.3
    # Both are exact sums of the same ~90 terms; they agree to round-off (1e-12 relative is ample).
    assert energy_w1(a, b) == pytest.approx(stats.wasserstein_distance(a.numpy(), b.numpy()), rel=1e-12)


def test_energy_w1_bad_inputs():
    with pytest.raises(ValueError, match="1 dimension"):
        energy_w1(torch.zeros(2, 3), torch.zeros(3))
    with pytest.raises(ValueError, match="empty"):
        energy_w1(torch.zeros(0), torch.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        energy_w1(torch.tensor([0.0, math.nan]), torch.zeros(3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        energy_w1([0.0, 1.0], torch.zeros(3))


# --------------------------------------------------------------------------------------------------- drift
def test_energy_drift_constant_and_ramp():
    assert energy_drift(torch.full((4, 10), 2.5, dtype=torch.float64)) == 0.0
    # H_t = 1 + s t, t = 0..T−1: mean 1 + s(T−1)/2, population std s √((T²−1)/12). Round-off only: rel 1e-12.
    steps, slopes = 11, torch.tensor([0.1, 0.5, 2.0], dtype=torch.float64)
    t = torch.arange(steps, dtype=torch.float64)
    energies = 1.0 + slopes[:, None] * t
    analytic = slopes * math.sqrt((steps**2 - 1) / 12.0) / (1.0 + slopes * (steps - 1) / 2.0)
    assert energy_drift(energies) == pytest.approx(float(analytic.mean()), rel=1e-12)
    assert energy_drift(-energies) == pytest.approx(float(analytic.mean()), rel=1e-12)  # |mean| in the ratio


def test_energy_drift_bad_inputs():
    with pytest.raises(ValueError, match="mean energy of 1 trajectory"):
        energy_drift(torch.tensor([[1.0, 2.0], [-1.0, 1.0]]))
    with pytest.raises(ValueError, match="at least 2 times"):
        energy_drift(torch.ones(3, 1))
    with pytest.raises(ValueError, match="2 dimension"):
        energy_drift(torch.ones(3))
    with pytest.raises(ValueError, match="finite"):
        energy_drift(torch.tensor([[1.0, math.inf]]))


# ------------------------------------------------------------------------------------------- flow, residual
def test_one_step_flow_spring_is_the_rotation():
    # H = q² + p²: q̇ = 2p, ṗ = −2q, a rotation by angle 2 dt. Closed form on both sides: round-off only.
    flow = one_step_flow(hnn.systems.PaperSpring(), DT)
    x = torch.randn(3, 4, 2, generator=gen(4), dtype=torch.float64)
    c, s = math.cos(2 * DT), math.sin(2 * DT)
    expected = torch.stack([c * x[..., 0] + s * x[..., 1], -s * x[..., 0] + c * x[..., 1]], dim=-1)
    out = flow(x.float())  # any floating input; the flow runs and returns float64
    assert out.dtype == torch.float64 and out.shape == x.shape
    assert torch.allclose(flow(x), expected, rtol=0.0, atol=1e-14)
    with pytest.raises(ValueError, match="dt must be > 0"):
        one_step_flow(hnn.systems.PaperSpring(), 0.0)
    with pytest.raises(TypeError, match="trajectory"):
        one_step_flow(object(), DT)


def test_physics_residual_exact_spring_is_zero():
    system = hnn.systems.PaperSpring()
    x = exact_trajectories(system, 100, 30, seed=5)
    # Closed-form flow on both sides: the residual is round-off (~1e-16) over steps of size ~0.1.
    assert physics_residual(x, system, DT) < 1e-10
    # A sequence that stands still: every x_{k+1} − φ(x_k) is exactly −(φ(x_k) − x_k).
    still = x[:, :1].expand(-1, 5, -1)
    assert physics_residual(still, system, DT) == pytest.approx(1.0, rel=1e-12)


def test_physics_residual_exact_pendulum_is_at_solver_tolerance():
    system = hnn.systems.PaperPendulum()
    x = exact_trajectories(system, 100, 20, seed=6)
    # Both the trajectory and the one-step flow are dopri5 at 1e-12; their difference stays ~1e-10 absolute
    # against steps of ~0.2, so 1e-7 leaves a wide margin while a wrong dt (residual ~1) would fail.
    assert physics_residual(x, system, DT) < 1e-7


def test_physics_residual_wraps_periodic_angles():
    system = hnn.systems.Pendulum()  # a = 1, b = 9.81: rotation once H > 2b, e.g. |p| > 6.3 at q = 0
    x = system.wrap(exact_trajectories(system, 20, 30, seed=7, radius=(7.0, 8.0)))  # wrap_angle on q only
    q = x[..., 0]
    assert bool((q.abs() <= math.pi).all())
    assert bool(((q[:, 1:] - q[:, :-1]).abs() > math.pi).any())  # some angles jump across ±π
    # Same dopri5 tolerance argument as above.
    assert physics_residual(x, system, DT) < 1e-7
    # Without the wrap the jumps of 2π dominate: the residual is far from 0.
    unwrapped = hnn.systems.Pendulum()
    unwrapped.periodic = (False,)
    assert physics_residual(x, unwrapped, DT) > 0.1


def test_physics_residual_bad_inputs():
    system = hnn.systems.PaperSpring()
    with pytest.raises(ValueError, match="3 dimension"):
        physics_residual(torch.zeros(5, 2), system, DT)
    with pytest.raises(ValueError, match="at least 2 times"):
        physics_residual(torch.ones(5, 1, 2), system, DT)
    with pytest.raises(ValueError, match="state dimension 2"):
        physics_residual(torch.ones(5, 3, 4), system, DT)
    with pytest.raises(ValueError, match="at rest"):
        physics_residual(torch.zeros(5, 3, 2), system, DT)
    with pytest.raises(ValueError, match="finite"):
        physics_residual(torch.full((5, 3, 2), math.nan), system, DT)


def test_true_flow_scores_at_the_floor_and_a_drifting_generator_does_not():
    system = hnn.systems.PaperSpring()
    n, steps = 300, 20
    real = exact_trajectories(system, n, steps, seed=10)
    reference = exact_trajectories(system, n, steps, seed=11)
    exact = exact_trajectories(system, n, steps, seed=20)
    drifting = drifting_trajectories(system, n, steps, seed=20)
    hot = exact * math.sqrt(1.5)  # still the exact flow (H is quadratic), every energy × 1.5

    kw = {"permutations": 200, "generator": gen(13)}
    good = energy_report(exact, real, reference, system, DT, **kw)
    assert set(good) == {"energy_w1", "energy_w1_floor", "energy_drift", "energy_drift_data", "physics_residual",
                         "physics_residual_data", "mmd2", "mmd2_floor", "mmd_p", "mmd_p_floor"}
    assert all(isinstance(v, float) for v in good.values())
    # Same distribution as the data (same sampler, another seed): W₁ is sampling noise, ~0.3/√300 ≈ 0.02 here;
    # 3× the real-vs-real floor allows for the spread of two such noise draws (over 30 seed triples the ratio
    # ranged 0.3–2.5; here it is 1.2).
    assert good["energy_w1"] <= 3.0 * good["energy_w1_floor"]
    assert good["physics_residual"] < 1e-10 and good["physics_residual_data"] < 1e-10  # closed form
    assert good["energy_drift"] < 1e-12 and good["energy_drift_data"] < 1e-12  # H conserved up to round-off
    # Uniform p-values under the null; with these seeds 0.94 and 0.995.
    assert good["mmd_p"] > 0.01 and good["mmd_p_floor"] > 0.01

    # Energies × 1.5 move the mean energy by ~0.18, ≫ the floor; the flow is still exact.
    bad = energy_report(hot, real, reference, system, DT, **kw)
    assert bad["energy_w1"] > 5.0 * bad["energy_w1_floor"]
    assert bad["physics_residual"] < 1e-10

    # p × 0.99 per step: a one-step error 0.01|p| against steps |φ(x) − x| ≈ 0.2 r, a residual of a few 1e-2, and
    # energies that decay by ~10 % over the run.
    drift = energy_report(drifting, real, reference, system, DT, **kw)
    assert drift["physics_residual"] > 1e-2 > 1e6 * drift["physics_residual_data"]
    assert drift["energy_drift"] > 1e-2 > 1e6 * drift["energy_drift_data"]


def test_energy_report_bad_inputs():
    system = hnn.systems.PaperSpring()
    real = exact_trajectories(system, 10, 5, seed=0)
    with pytest.raises(ValueError, match="generated must have the"):
        energy_report(real[:, :4], real, real, system, DT, permutations=5)
    with pytest.raises(ValueError, match="real_reference must have state dimension 2"):
        energy_report(real, real, torch.ones(10, 5, 4), system, DT, permutations=5)


# -------------------------------------------------------------------------------------------------------- MMD
def test_mmd_same_distribution():
    x = torch.randn(200, 3, generator=gen(20), dtype=torch.float64)
    y = torch.randn(200, 3, generator=gen(21), dtype=torch.float64)
    result = mmd(x, y, permutations=200, generator=gen(22))
    assert isinstance(result, MMDResult) and result.permutations == 200
    # Under the null the unbiased MMD² is centred at 0 with a spread of order 1/N (here ~5e-3).
    assert result.p_value > 0.01
    assert abs(result.mmd2) < 0.02


def test_mmd_shifted_distribution():
    x = torch.randn(200, 3, generator=gen(23), dtype=torch.float64)
    y = torch.randn(200, 3, generator=gen(24), dtype=torch.float64) + 1.0
    result = mmd(x, y, permutations=200, generator=gen(25))
    assert result.mmd2 > 0.1
    assert result.p_value <= 1.0 / 201 + 1e-12  # no relabelling reaches the observed value


def test_mmd_matches_a_naive_permutation_loop():
    scipy_distance = pytest.importorskip("scipy.spatial.distance")
    x = torch.randn(30, 2, 3, generator=gen(30), dtype=torch.float64)
    y = 0.8 * torch.randn(25, 2, 3, generator=gen(31), dtype=torch.float64) + 0.2
    permutations = 7
    result = mmd(x, y, permutations=permutations, generator=gen(32))
    pooled = torch.cat([x, y]).reshape(55, 6)
    # The bandwidth is the median of the i < j distances (numpy's: the mean of the middle two of 1485); round-off.
    assert result.bandwidth == pytest.approx(float(numpy.median(scipy_distance.pdist(pooled.numpy()))), rel=1e-12)
    kernel = torch.exp(-torch.cdist(pooled, pooled) ** 2 / (2.0 * result.bandwidth**2))

    def naive(index: torch.Tensor) -> float:
        a, b = index[:30], index[30:]
        kxx, kyy, kxy = kernel[a][:, a], kernel[b][:, b], kernel[a][:, b]
        return float((kxx.sum() - kxx.diagonal().sum()) / (30 * 29) + (kyy.sum() - kyy.diagonal().sum()) / (25 * 24)
                     - 2.0 * kxy.mean())

    observed = naive(torch.arange(55))
    draws = gen(32)
    perms = [torch.randperm(55, generator=draws) for _ in range(permutations)]
    null = [naive(p) for p in perms]
    # Sums of ~3000 kernel values of order 1 computed in two orders: they agree to ~1e-14.
    assert result.mmd2 == pytest.approx(observed, abs=1e-10)
    assert result.p_value == (1 + sum(v >= observed for v in null)) / (1 + permutations)
    # The label-matrix statistics themselves, from the module's kernel, equal the loop's.
    matrix, _ = _rbf_kernel(pooled)
    labels = torch.zeros(55, permutations, dtype=torch.float64)
    for j, p in enumerate(perms):
        labels[p[:30], j] = 1.0
    assert torch.allclose(_permutation_mmd2(matrix, 30, labels), torch.tensor(null, dtype=torch.float64),
                          rtol=0.0, atol=1e-10)


def test_mmd_is_reproducible_with_a_seeded_generator():
    x = torch.randn(40, 2, generator=gen(40), dtype=torch.float64)
    y = torch.randn(50, 2, generator=gen(41), dtype=torch.float64) + 0.1
    first = mmd(x, y, permutations=100, generator=gen(42))
    assert mmd(x, y, permutations=100, generator=gen(42)) == first
    assert mmd(x.reshape(40, 2, 1), y.reshape(50, 1, 2), permutations=100, generator=gen(42)) == first  # flattened


def test_mmd_handles_two_thousand_samples_each():
    # The size the evaluation needs: a 4000 × 4000 pooled kernel and 500 relabellings (about a second on one core).
    x = torch.randn(2000, 40, generator=gen(50), dtype=torch.float64)
    y = torch.randn(2000, 40, generator=gen(51), dtype=torch.float64)
    result = mmd(x, y, permutations=500, generator=gen(52))
    assert result.p_value > 0.01 and abs(result.mmd2) < 1e-3


def test_mmd_bad_inputs():
    x = torch.randn(10, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="same feature size"):
        mmd(x, torch.randn(10, 4))
    with pytest.raises(ValueError, match="at least 2 samples"):
        mmd(x[:1], x)
    bad = x.clone()
    bad[3, 1] = math.nan
    with pytest.raises(ValueError, match="x must contain only finite values"):
        mmd(bad, x)
    with pytest.raises(ValueError, match="median pairwise distance"):
        mmd(torch.zeros(5, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="permutations must be an int >= 1"):
        mmd(x, x, permutations=0)
    with pytest.raises(TypeError, match="permutations must be an int"):
        mmd(x, x, permutations=True)
    with pytest.raises(TypeError, match="real"):
        mmd(x > 0, x)
