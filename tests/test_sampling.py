"""Correctness tests of hnn.sampling (HMC, NUTS, parallel tempering, kinetic energies, inputs).

All run in float64 with fixed seeds.  Moment checks use |estimate − truth| ≤ 5 MCSE, where the
MCSE comes from the chains' own effective sample size: a correct sampler fails this with
probability ~6e-7 per check, a biased one fails once the bias exceeds 5 MCSE.  Each check also
requires bulk ESS ≥ 0.2·N in every coordinate, so a chain that barely moves fails.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from hnn.integrators.splitting import leapfrog_step
from hnn.sampling import HMC, NUTS, ParallelTempering, SamplingWarning, ess, mcse_mean
from hnn.sampling.kinetic import GaussianKinetic, RelativisticKinetic, sample_relativistic_radius

F64 = torch.float64


def gaussian_energy(mean: torch.Tensor, cov: torch.Tensor):
    precision = torch.linalg.inv(cov)

    def energy(x: torch.Tensor) -> torch.Tensor:
        d = x - mean
        return 0.5 * ((d @ precision) * d).sum(-1)

    return energy


def check_moments(samples: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, min_ess_fraction: float = 0.2) -> None:
    """Mean and variance of every coordinate within 5 MCSE; bulk ESS ≥ min_ess_fraction·N everywhere."""
    n_total = samples.shape[0] * samples.shape[1]
    err_mean = (samples.mean((0, 1)) - mean).abs()
    assert bool((err_mean <= 5 * mcse_mean(samples)).all()), (err_mean, mcse_mean(samples))
    sq = (samples - mean) ** 2
    err_var = (sq.mean((0, 1)) - var).abs()
    assert bool((err_var <= 5 * mcse_mean(sq)).all()), (err_var, mcse_mean(sq))
    bulk = ess(samples)
    assert bool((bulk >= min_ess_fraction * n_total).all()), bulk


def sample_and_checks(sampler, *args, **kwargs):
    """``sampler.sample(*args, **kwargs)`` and the SamplingWarning messages it issued (all of them, not re-issued)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SamplingWarning)
        result = sampler.sample(*args, **kwargs)
    others = [w for w in caught if not issubclass(w.category, SamplingWarning)]
    for w in others:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, [str(w.message) for w in caught if issubclass(w.category, SamplingWarning)]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ Gaussians


@pytest.mark.parametrize("sampler", ["hmc", "nuts"])
@pytest.mark.filterwarnings("ignore::hnn.sampling.SamplingWarning")  # short run: the moments are tested, not the end-of-run checks
def test_standard_gaussian_moments(sampler):
    dim = 4
    energy = gaussian_energy(torch.zeros(dim, dtype=F64), torch.eye(dim, dtype=F64))
    if sampler == "hmc":
        mcmc = HMC(energy, step_size=0.5, num_steps=3)
    else:
        mcmc = NUTS(energy)
    init = torch.randn(4, dim, dtype=F64, generator=gen(0))
    result = mcmc.sample(init, num_samples=400, num_warmup=200, generator=gen(1))
    assert result.samples.shape == (4, 400, dim)
    check_moments(result.samples, torch.zeros(dim, dtype=F64), torch.ones(dim, dtype=F64))
    assert result.divergences == 0


@pytest.mark.slow
def test_ill_conditioned_diagonal_gaussian_with_diag_mass():
    scales = torch.logspace(-2, 0, 5, dtype=F64)  # condition number 1e4 in variance
    energy = gaussian_energy(torch.zeros(5, dtype=F64), torch.diag(scales**2))
    init = torch.randn(4, 5, dtype=F64, generator=gen(2))
    result = NUTS(energy, mass="diag").sample(init, num_samples=500, num_warmup=400, generator=gen(3))
    check_moments(result.samples, torch.zeros(5, dtype=F64), scales**2)
    # the adapted inverse mass matrix approximates the posterior variances (within 50%)
    assert torch.allclose(result.inverse_mass, scales**2, rtol=0.5)


def correlated_cov(rho: float = 0.95) -> torch.Tensor:
    cov = torch.tensor([[1.0, rho, 0.0], [rho, 1.0, 0.0], [0.0, 0.0, 4.0]], dtype=F64)
    return cov


def test_correlated_gaussian_dense_mass_moments():
    mean = torch.tensor([1.0, -1.0, 0.5], dtype=F64)
    cov = correlated_cov()
    init = torch.randn(4, 3, dtype=F64, generator=gen(4))
    result = NUTS(gaussian_energy(mean, cov), mass="dense").sample(init, num_samples=500, num_warmup=400, generator=gen(5))
    check_moments(result.samples, mean, torch.diagonal(cov))
    emp_cov = torch.cov(result.samples.reshape(-1, 3).T)
    assert abs(float(emp_cov[0, 1]) - 0.95) < 0.05  # ~5 standard errors of a correlation estimate at ESS ~ 1000


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::hnn.sampling.SamplingWarning")  # short run: the moments are tested, not the end-of-run checks
def test_dense_mass_makes_correlated_gaussian_easy():
    cov = torch.tensor([[1.0, 0.995], [0.995, 1.0]], dtype=F64)
    energy = gaussian_energy(torch.zeros(2, dtype=F64), cov)
    init = torch.randn(2, 2, dtype=F64, generator=gen(6))
    diag = NUTS(energy, mass="diag").sample(init, num_samples=300, num_warmup=300, generator=gen(7))
    dense = NUTS(energy, mass="dense").sample(init, num_samples=300, num_warmup=300, generator=gen(7))
    steps_diag = diag.num_steps.double().mean()
    steps_dense = dense.num_steps.double().mean()
    # condition number ~400: identity-like metrics need ~sqrt(400)=20x more leapfrog steps per U-turn
    assert steps_dense * 4 < steps_diag, (steps_dense, steps_diag)
    ess_per_grad_dense = ess(dense.samples).min() / dense.num_grad_evals
    ess_per_grad_diag = ess(diag.samples).min() / diag.num_grad_evals
    assert ess_per_grad_dense > 2 * ess_per_grad_diag


def test_stuck_chain_fails_the_ess_criterion():
    """The moment check must be able to fail: a tiny, non-adapted step barely moves the chain."""
    energy = gaussian_energy(torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64))
    init = torch.randn(4, 2, dtype=F64, generator=gen(8))
    result, messages = sample_and_checks(HMC(energy, step_size=0.01, num_steps=2, adapt_step_size=False),
                                         init, num_samples=300, num_warmup=0, generator=gen(9))
    assert any("R-hat > 1.01" in m for m in messages) and any("ESS < 400" in m for m in messages), messages
    with pytest.raises(AssertionError):
        check_moments(result.samples, torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64))


# ------------------------------------------------------------------ non-Gaussian targets


@pytest.mark.filterwarnings("ignore::hnn.sampling.SamplingWarning")  # short run: the moments are tested, not the end-of-run checks
def test_banana_against_quadrature():
    """π(x, y) ∝ exp(−x²/2 − (y − b(x² − 1))²/2): P(y ≤ a) = ∫ φ(x) Φ(a − b(x² − 1)) dx by quadrature.

    The ridge's curvature grows like 4b²x², so at the default target_accept 0.8 the adapted step diverges in the
    tails (5-96 divergences per run) and under-samples them: over 16 seeds, P(y ≤ 6) came out 4-5 standard
    errors high in 6. At 0.95 (Stan's remedy for divergences) 15 of 16 seeds had none and every cut up to
    y = 4 stayed within 3.4 standard errors. E[y²] is not checked: (x² − 1)² is so heavy-tailed that the plug-in
    MCSE of its mean from 2 400 correlated draws is itself unreliable (z from −6.3 to +1 with no divergences)."""
    b = 1.0

    def energy(z):
        x, y = z[..., 0], z[..., 1]
        return 0.5 * x**2 + 0.5 * (y - b * (x**2 - 1.0)) ** 2

    init = torch.randn(4, 2, dtype=F64, generator=gen(10))
    result = NUTS(energy, mass="diag", target_accept=0.95).sample(init, num_samples=600, num_warmup=300,
                                                                 generator=gen(11))
    y = result.samples[..., 1]
    for a in (-1.0, 0.0, 1.0, 2.5, 4.0):
        exact, _ = integrate.quad(lambda x: stats.norm.pdf(x) * stats.norm.cdf(a - b * (x * x - 1.0)), -12, 12)
        indicator = (y <= a).to(F64).unsqueeze(-1)
        err = abs(float(indicator.mean()) - exact)
        # the plug-in MCSE of a 0/1 statistic collapses when few draws fall on one side: never below the
        # standard error of as many independent draws with the exact variance p(1 − p)
        se = max(float(mcse_mean(indicator)[0]), math.sqrt(exact * (1.0 - exact) / indicator.numel()))
        assert err <= 5 * se, (a, err, exact, se)
    # the curved ridge mixes more slowly than a Gaussian (bulk ESS 0.10-0.30 N over 16 seeds): require 0.05 N
    assert float(ess(y.unsqueeze(-1))[0]) >= 0.05 * y.numel()


def test_neals_funnel_reports_divergences():
    def energy(z):
        v, x = z[..., 0], z[..., 1:]
        return v**2 / 18.0 + 0.5 * (x**2).sum(-1) * torch.exp(-v) + 0.5 * x.shape[-1] * v

    init = torch.zeros(2, 10, dtype=F64)
    result, messages = sample_and_checks(NUTS(energy, max_tree_depth=5), init, num_samples=100, num_warmup=100,
                                         generator=gen(12))
    # the funnel's neck: momentum resampling cannot follow the energy (E-BFMI), trees are cut at the maximum depth
    assert any("E-BFMI < 0.3" in m for m in messages) and any("hit max_tree_depth=5" in m for m in messages), messages
    assert result.divergences + result.warmup_divergences > 0
    assert result.divergences == int(result.divergent.sum())
    assert f"divergences {result.divergences}" in result.summary(print_table=False)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::hnn.sampling.SamplingWarning")  # short run: the moments are tested, not the end-of-run checks
def test_parallel_tempering_visits_every_mode_with_right_weights():
    centers = torch.tensor([[-8.0, 0.0], [8.0, 0.0], [0.0, 10.0]], dtype=F64)
    weights = torch.tensor([0.2, 0.3, 0.5], dtype=F64)

    def energy(x):
        d2 = ((x.unsqueeze(-2) - centers) ** 2).sum(-1)
        return -torch.logsumexp(weights.log() - d2 / (2 * 0.25), -1)  # σ = 0.5: barrier ~ 128 nats

    pt = ParallelTempering(energy, num_replicas=8, max_temperature=300.0, step_size=0.3, num_steps=5)
    result = pt.sample(torch.zeros(4, 2, dtype=F64), num_samples=3000, num_warmup=500, generator=gen(13))
    x = result.samples.reshape(-1, 2)
    labels = ((x.unsqueeze(-2) - centers) ** 2).sum(-1).argmin(-1)
    freq = torch.bincount(labels, minlength=3).to(F64) / labels.numel()
    # 12000 correlated draws; mode switches happen through swaps every few iterations — 0.06 is
    # ~5 standard errors for an effective sample of a few hundred independent mode labels.
    assert torch.allclose(freq, weights, atol=0.06), freq
    assert bool((result.extras["swap_accept_rate"] > 0.1).all())
    # plain HMC from the same start never leaves the first mode it falls into
    hmc = HMC(energy, step_size=0.3, num_steps=5).sample(torch.zeros(4, 2, dtype=F64), 500, 200, generator=gen(13))
    labels = ((hmc.samples.reshape(-1, 2).unsqueeze(-2) - centers) ** 2).sum(-1).argmin(-1)
    per_chain = labels.reshape(4, -1)
    assert bool((per_chain == per_chain[:, :1]).all())


# ------------------------------------------------------------------ integrator properties


def _leapfrog_map(kinetic, energy, h: float, steps: int):
    def force(q):
        with torch.enable_grad():
            qq = q if q.requires_grad else q.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(energy(qq).sum(), qq, create_graph=q.requires_grad)
        return g

    def flow(x):
        q, p = x[..., :2], x[..., 2:]
        f = None
        for _ in range(steps):
            q, p, f = leapfrog_step(q, p, h, force, kinetic.velocity, f)
        return torch.cat([q, p], -1)

    return flow


@pytest.mark.parametrize("kind", ["gaussian", "relativistic"])
def test_leapfrog_reversible_and_volume_preserving(kind):
    def energy(q):
        return 0.5 * q[..., 0] ** 2 + 0.25 * q[..., 1] ** 4 + q[..., 0] * q[..., 1]

    if kind == "gaussian":
        kinetic = GaussianKinetic(2, "dense", F64, torch.device("cpu"))
        kinetic.set_inverse_mass(torch.tensor([[2.0, 0.3], [0.3, 0.5]], dtype=F64))
    else:
        kinetic = RelativisticKinetic(2, "diag", F64, torch.device("cpu"), speed_of_light=1.5)
        kinetic.set_inverse_mass(torch.tensor([2.0, 0.5], dtype=F64))
    flow = _leapfrog_map(kinetic, energy, 0.1, 20)
    x0 = torch.tensor([0.3, -0.7, 0.4, 1.1], dtype=F64)
    x1 = flow(x0.unsqueeze(0))[0]
    back = flow(torch.cat([x1[:2], -x1[2:]]).unsqueeze(0))[0]
    # reversibility: flip momentum, integrate, flip back — float64 round-off over 40 steps
    assert torch.allclose(torch.cat([back[:2], -back[2:]]), x0, atol=1e-12)
    jac = torch.autograd.functional.jacobian(lambda x: flow(x.unsqueeze(0))[0], x0)
    # volume preservation: det of the Jacobian of the 20-step map is exactly 1 up to round-off
    assert abs(float(torch.linalg.det(jac)) - 1.0) < 1e-10


def test_acceptance_tends_to_one_as_step_shrinks():
    energy = gaussian_energy(torch.zeros(3, dtype=F64), torch.diag(torch.tensor([1.0, 0.5, 2.0], dtype=F64)))
    init = torch.randn(8, 3, dtype=F64, generator=gen(14))
    rates = []
    for step in (0.8, 0.4, 0.1, 0.025):
        res = HMC(energy, step_size=step, trajectory_length=1.6, adapt_step_size=False, step_size_jitter=0.0).sample(
            init, num_samples=100, num_warmup=0, generator=gen(15), warn=False
        )
        rates.append(float(res.accept_prob.mean()))
    assert rates == sorted(rates)
    # leapfrog energy error is O(h²) per trajectory: 1 − acceptance ~ h² ⇒ ≤ 1e-3 at h = 0.025
    assert rates[-1] > 0.999


# ------------------------------------------------------------------ kinetic energies


def test_relativistic_radius_matches_exact_distribution():
    """Radius r = |z| with density ∝ r^{D−1} exp(−c sqrt(r² + c²)); KS test of iid draws vs quadrature CDF."""
    for dim, c in ((1, 0.7), (3, 1.0), (20, 2.0), (5, 10.0)):
        draws = sample_relativistic_radius(4000, dim, c, F64, torch.device("cpu"), gen(16)).numpy()

        def density(r):
            return r ** (dim - 1) * math.exp(-c * math.sqrt(r * r + c * c) + c * c)

        norm, _ = integrate.quad(density, 0, np.inf)

        def cdf(x):
            return np.array([integrate.quad(density, 0, v)[0] / norm for v in np.atleast_1d(x)])

        assert stats.kstest(draws, cdf).pvalue > 1e-3, (dim, c)


def test_nuts_with_relativistic_kinetic_samples_gaussian():
    energy = gaussian_energy(torch.zeros(3, dtype=F64), torch.diag(torch.tensor([1.0, 4.0, 0.25], dtype=F64)))
    init = torch.randn(4, 3, dtype=F64, generator=gen(17))
    result = NUTS(energy, mass="diag", kinetic="relativistic", speed_of_light=2.0).sample(
        init, num_samples=500, num_warmup=300, generator=gen(18)
    )
    check_moments(result.samples, torch.zeros(3, dtype=F64), torch.tensor([1.0, 4.0, 0.25], dtype=F64))
    velocities = RelativisticKinetic(3, "identity", F64, torch.device("cpu"), 2.0).velocity(torch.randn(100, 3, dtype=F64) * 50)
    assert bool((velocities.norm(dim=-1) < 2.0).all())  # bounded speed


# ------------------------------------------------------------------ shapes, dtypes, bookkeeping


def test_image_shaped_states_and_float32():
    energy = lambda x: 0.5 * (x**2).flatten(1).sum(-1)  # noqa: E731
    init = torch.randn(3, 2, 3, generator=gen(19))
    result = NUTS(energy, mass="diag").sample(init, num_samples=300, num_warmup=150, generator=gen(20))
    assert result.samples.shape == (3, 300, 2, 3) and result.samples.dtype == torch.float32
    assert abs(float(result.samples.var()) - 1.0) < 0.15
    assert result.ess().shape == (2, 3) and result.rhat().shape == (2, 3)


def test_grad_evals_count_every_lock_step_evaluation():
    energy = gaussian_energy(torch.zeros(2, dtype=F64), torch.diag(torch.tensor([1.0, 4.0], dtype=F64)))
    one = NUTS(energy, step_size=0.3, adapt_step_size=False).sample(torch.ones(1, 2, dtype=F64), 50, 0, generator=gen(21), warn=False)
    # one chain: the initial gradient plus one per leapfrog step of its own trajectories
    assert one.num_grad_evals == 1 + int(one.num_steps.sum())
    many = NUTS(energy, step_size=0.3, adapt_step_size=False).sample(torch.ones(6, 2, dtype=F64), 50, 0, generator=gen(21), warn=False)
    per_chain = many.num_grad_evals // 6
    assert many.num_grad_evals == 6 * per_chain
    # every chain pays the longest trajectory of each lock-step iteration
    assert per_chain >= 1 + int(many.num_steps.max(0).values.sum())
    assert many.num_grad_evals > 1 * 6 + int(many.num_steps.sum())


def test_ebm_sampling_takes_gradients_with_respect_to_x_only():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()
    energy = lambda x: net(x).squeeze(-1) + 0.5 * (x**2).sum(-1)  # noqa: E731
    before = [p.detach().clone() for p in net.parameters()]
    result = NUTS(energy).sample(torch.zeros(2, 2, dtype=F64), num_samples=20, num_warmup=10, generator=gen(22), warn=False)
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(a, p) for a, p in zip(before, net.parameters()))
    assert not result.samples.requires_grad


def test_works_under_inference_mode():
    energy = lambda x: 0.5 * (x**2).sum(-1)  # noqa: E731
    with torch.inference_mode():
        result = HMC(energy, step_size=0.5, num_steps=3).sample(torch.zeros(2, 2), 20, 10, generator=gen(23), warn=False)
    assert torch.isfinite(result.samples).all()


def test_non_finite_proposals_are_rejected_not_reset():
    """A wall at |x| > 1 (energy +inf): draws must stay inside, and the wall hits count as divergences."""

    def energy(x):
        inside = (x.abs() < 1.0).all(-1)
        return torch.where(inside, 0.5 * (x**2).sum(-1), torch.full_like(x[..., 0], math.inf))

    result, messages = sample_and_checks(HMC(energy, step_size=0.8, num_steps=4, adapt_step_size=False),
                                         torch.zeros(4, 2, dtype=F64), num_samples=300, num_warmup=0, generator=gen(24))
    assert any("divergent transitions" in m for m in messages), messages
    assert bool((result.samples.abs() < 1.0).all())
    assert result.divergences > 0
    assert torch.isfinite(result.samples).all()


# ------------------------------------------------------------------ bad input


def test_bad_inputs_raise_before_sampling():
    energy = lambda x: 0.5 * (x**2).sum(-1)  # noqa: E731
    init = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="one scalar per chain"):
        NUTS(lambda x: x**2).sample(init, 10, 10)
    with pytest.raises(ValueError, match="not finite at the initial state"):
        NUTS(lambda x: (x**2).sum(-1) / x[:, 0]).sample(init, 10, 10)
    with pytest.raises(ValueError, match="not positive definite"):
        NUTS(energy, mass=torch.tensor([1.0, -1.0, 1.0])).sample(init, 10, 10)
    with pytest.raises(ValueError, match="not positive definite"):
        NUTS(energy, mass=torch.tensor([[1.0, 2.0, 0], [2.0, 1.0, 0], [0, 0, 1.0]])).sample(init, 10, 10)
    with pytest.raises(ValueError, match="step_size"):
        HMC(energy, step_size=0.0)
    with pytest.raises(ValueError, match="step_size"):
        NUTS(energy, step_size=-0.1)
    with pytest.raises(ValueError, match="target_accept"):
        NUTS(energy, target_accept=1.0)
    with pytest.raises(ValueError, match="target_accept"):
        HMC(energy, target_accept=0.0)
    with pytest.raises(ValueError, match="identity"):
        NUTS(energy, mass="full")
    with pytest.raises(ValueError, match="gaussian"):
        NUTS(energy, kinetic="newtonian")
    with pytest.raises(ValueError, match="temperatures"):
        ParallelTempering(energy, temperatures=[2.0, 4.0])


# ------------------------------------------------------------------ warmup set-up


def test_initial_metric_from_gradients_and_pooled_buffers():
    from hnn.sampling.base import initial_inverse_mass

    scales = torch.tensor([0.01, 0.3, 2.0], dtype=F64)
    x = torch.randn(4000, 3, dtype=F64, generator=gen(30))
    # Gaussian force x/σ² at unit-scale states: 1/RMS = σ²/RMS(x); RMS(x) of 4000 N(0,1) draws is 1 ± ~1.2%
    assert torch.allclose(initial_inverse_mass(x / scales**2, dense=False), scales**2, rtol=0.05)
    dense = initial_inverse_mass(x / scales**2, dense=True)
    assert torch.allclose(dense, torch.diag(torch.diagonal(dense)))
    # a zero or non-finite gradient gives no information: fall back to 1
    force = torch.tensor([[0.0, math.nan, 2.0]], dtype=F64)
    assert initial_inverse_mass(force, dense=False).tolist() == [1.0, 1.0, 0.5]
    energy = lambda z: 0.5 * (z**2).sum(-1)  # noqa: E731
    assert NUTS(energy)._buffers(1) == (75, 50, 25)  # Stan's schedule for one chain
    assert NUTS(energy)._buffers(64) == (15, 25, 5)  # pooled windows: 25/√64 iterations hold 200 draws
    assert NUTS(energy, init_buffer=30)._buffers(64) == (30, 25, 5)
    with pytest.raises(ValueError, match="base_window"):
        NUTS(energy, base_window=0)


@pytest.mark.filterwarnings("ignore::hnn.sampling.SamplingWarning")  # short run: the moments are tested, not the end-of-run checks
def test_batched_warmup_is_cheap_on_an_ill_conditioned_gaussian():
    """sd 0.01..1 (condition number 1e4 in variance): with the gradient-based initial metric and pooled
    windows, 16 HMC chains need few gradients in warmup, and the adapted M⁻¹ matches the variances."""
    scales = torch.logspace(-2, 0, 20, dtype=F64)
    energy = lambda z: 0.5 * ((z / scales) ** 2).sum(-1)  # noqa: E731
    init = torch.randn(16, 20, dtype=F64, generator=gen(31))
    result = HMC(energy, mass="diag", trajectory_length=1.5).sample(init, num_samples=200, num_warmup=150, generator=gen(32))
    check_moments(result.samples, torch.zeros(20, dtype=F64), scales**2)
    assert torch.allclose(result.inverse_mass, scales**2, rtol=0.3)
    # with an identity start ε ≈ 0.01 would force ~150 steps per warmup trajectory; here the mean is < 15
    assert result.num_warmup_grad_evals / 16 / 150 < 15


@pytest.mark.filterwarnings("ignore::hnn.sampling.SamplingWarning")  # short run: the moments are tested, not the end-of-run checks
def test_default_warmup_shrinks_with_pooled_chains():
    """num_warmup omitted: Stan's 1000 for one chain, max(200, 1000/√C) for C chains (pooled adaptation);
    the default run must still pass the moment and ESS checks on an ill-conditioned Gaussian."""
    from hnn.sampling import default_num_warmup

    assert [default_num_warmup(c) for c in (1, 4, 16, 25, 64, 512)] == [1000, 500, 250, 200, 200, 200]
    with pytest.raises(ValueError, match="chains"):
        default_num_warmup(0)
    scales = torch.logspace(-2, 0, 10, dtype=F64)
    energy = lambda z: 0.5 * ((z / scales) ** 2).sum(-1)  # noqa: E731
    init = torch.randn(64, 10, dtype=F64, generator=gen(33))
    result = NUTS(energy, mass="diag").sample(init, num_samples=100, generator=gen(34))
    assert result.num_warmup == 200
    check_moments(result.samples, torch.zeros(10, dtype=F64), scales**2)
    assert result.divergences == 0
