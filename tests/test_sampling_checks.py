"""End-of-run checks (SamplingWarning), the sign-error stop, the log_prob interface, input errors,
recorded total energies, saved warmup and the progress bar.

The checks are tested twice: on constructed results, where each statistic is known, and on real
runs — each deliberately bad run must raise its own warning (and only once), a good run none.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from hnn.sampling import HMC, NUTS, ParallelTempering, SamplingResult, SamplingWarning, ebfmi, mcse_mean
from hnn.sampling import progress as progress_module
from hnn.sampling.checks import EBFMI_THRESHOLD, ESS_THRESHOLD, RHAT_THRESHOLD, run_checks

F64 = torch.float64

KINDS = {
    "divergent": "divergent transitions",
    "rhat": "R-hat >",
    "ess": "ESS <",
    "depth": "max_tree_depth=",
    "ebfmi": "E-BFMI <",
}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def standard_normal(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (x**2).sum(-1)


def kinds_of(messages: list[str]) -> list[str]:
    """The check kind of every message (each message must match exactly one kind)."""
    out = []
    for message in messages:
        matched = [kind for kind, text in KINDS.items() if text in message]
        assert len(matched) == 1, message
        out.append(matched[0])
    return out


def sample_and_collect(sampler, *args, **kwargs) -> tuple[SamplingResult, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sampler.sample(*args, **kwargs)
    sampling = [w for w in caught if issubclass(w.category, SamplingWarning)]
    for w in sampling:  # the warning points at the caller of sample()
        assert w.filename == __file__, w.filename
    return result, [str(w.message) for w in sampling]


def make_result(samples: np.ndarray, energy: np.ndarray | None = None, divergent: np.ndarray | None = None,
                tree_depth: np.ndarray | None = None, max_tree_depth: int | None = None) -> SamplingResult:
    chains, draws = samples.shape[:2]
    zeros = torch.zeros(chains, draws, dtype=F64)
    return SamplingResult(
        samples=torch.from_numpy(samples), potential_energy=zeros, accept_prob=zeros + 0.8,
        divergent=torch.zeros(chains, draws, dtype=torch.bool) if divergent is None else torch.from_numpy(divergent),
        num_steps=torch.ones(chains, draws, dtype=torch.long), step_size=torch.tensor(0.5, dtype=F64),
        inverse_mass=None, num_grad_evals=0, num_warmup_grad_evals=0, warmup_divergences=0, num_warmup=0,
        warmup_seconds=0.0, sampling_seconds=0.0, sampler="NUTS",
        tree_depth=None if tree_depth is None else torch.from_numpy(tree_depth), max_tree_depth=max_tree_depth,
        energy=None if energy is None else torch.from_numpy(energy),
    )


def iid(seed: int, *shape: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


# ------------------------------------------------------------------ checks on constructed results


def test_healthy_constructed_result_passes_every_check():
    result = make_result(iid(0, 4, 1000, 3), energy=iid(1, 4, 1000), tree_depth=np.full((4, 1000), 3),
                         max_tree_depth=10, divergent=np.zeros((4, 1000), dtype=bool))
    assert run_checks(result) == []


def test_each_constructed_problem_is_reported_once_with_its_figures():
    samples, energy = iid(2, 4, 1000, 3), iid(3, 4, 1000)
    divergent = np.zeros((4, 1000), dtype=bool)
    divergent[1, :77] = True
    [message] = run_checks(make_result(samples, energy, divergent))
    assert kinds_of([message]) == ["divergent"] and "77 of 4000 draws (1.9 %)" in message

    shifted = samples.copy()
    shifted[1, :, 2] += 1.0  # one chain off in coordinate 2 (which also lowers that coordinate's ESS)
    messages = run_checks(make_result(shifted, energy))
    assert sorted(kinds_of(messages)) == ["ess", "rhat"]
    message = messages[kinds_of(messages).index("rhat")]
    assert "1 of 3 coordinates" in message and "at x[2]" in message

    sticky = np.zeros((4, 1000, 3))
    noise = iid(4, 4, 1000, 3)
    for t in range(1, 1000):  # AR(1), phi = 0.99: ESS ~ N/200 — chains that mix slowly but agree
        sticky[:, t] = 0.99 * sticky[:, t - 1] + noise[:, t] * math.sqrt(1 - 0.99**2)
    messages = run_checks(make_result(sticky, energy))
    assert "ess" in kinds_of(messages)
    assert "bulk ESS < 400 in 3 of 3 coordinates" in messages[kinds_of(messages).index("ess")]

    depth = np.full((4, 1000), 4)
    depth[0, :5] = 10
    [message] = run_checks(make_result(samples, energy, tree_depth=depth, max_tree_depth=10))
    assert kinds_of([message]) == ["depth"] and "5 of 4000 draws (0.1 %)" in message

    walk = energy.copy()
    walk[2] = np.cumsum(walk[2])  # a random-walk energy: E-BFMI ~ 1/N
    [message] = run_checks(make_result(samples, walk))
    assert kinds_of([message]) == ["ebfmi"] and "1 of 4 chains (chain 2:" in message


def test_statistics_are_computed_once_shared_by_checks_and_summary_and_follow_the_samples(monkeypatch):
    """The checks' ESS and R-hat are the summary's (one computation per statistic); an in-place change of
    the draws, or new draws, recomputes them; returned tensors are copies the caller may change."""
    from hnn.sampling import diagnostics, result as result_module, summary_statistics

    result = make_result(iid(5, 4, 500, 3), energy=iid(6, 4, 500))
    calls = []
    real = diagnostics._statistics
    monkeypatch.setattr(result_module, "_statistics", lambda samples, keys: calls.append(keys) or real(samples, keys))
    assert run_checks(result) == []
    stats = result.summary_stats()
    result.summary(print_table=False)
    assert torch.equal(result.ess(), stats["ess_bulk"]) and torch.equal(result.rhat(), stats["r_hat"])
    assert [set(keys) for keys in calls] == [{"ess_bulk", "ess_tail", "r_hat"}, {"mean", "sd", "mcse_mean"}]
    fresh = summary_statistics(result.samples)
    assert all(torch.equal(stats[key], fresh[key]) for key in fresh)  # the same values, bit for bit

    with pytest.raises(ValueError, match="read-only"):
        result.statistics(("r_hat",))["r_hat"][0] = 5.0
    stats["r_hat"].fill_(5.0)  # a copy: the result's own values are unchanged
    assert float(result.rhat().max()) < RHAT_THRESHOLD
    result.samples[1, :, 0] += 3.0  # in place: one chain off in coordinate 0
    assert [m for m in run_checks(result) if "R-hat" in m]
    result.samples = torch.from_numpy(iid(7, 4, 500, 3))
    assert torch.equal(result.ess(), summary_statistics(result.samples)["ess_bulk"])
    with pytest.raises(ValueError, match="unknown statistics"):
        result.statistics(("ess_bulk", "median"))


def test_thresholds_are_the_documented_ones():
    assert (RHAT_THRESHOLD, ESS_THRESHOLD, EBFMI_THRESHOLD) == (1.01, 400.0, 0.3)
    # E-BFMI of fixed sequences: Σ ΔE² / Σ (E − Ē)²
    energy = torch.tensor([[0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 2.0, 3.0]], dtype=F64)
    assert torch.allclose(ebfmi(energy), torch.tensor([3.0 / 1.0, 3.0 / 5.0], dtype=F64))
    # chain 1's energy = noise + λ·random walk, λ bisected to put its E-BFMI just below / above 0.3
    samples, noise, walk = iid(5, 2, 1000, 1), iid(6, 2, 1000), np.cumsum(iid(7, 2, 1000), axis=1)

    def energies(lam: float) -> np.ndarray:
        return np.stack([noise[0], noise[1] + lam * walk[1]])

    for target, fails in ((0.299, True), (0.301, False)):
        low, high = 0.0, 10.0  # E-BFMI falls as λ grows
        for _ in range(60):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if ebfmi(energies(mid))[1] > target else (low, mid)
        values = ebfmi(energies(high))
        assert abs(values[1] - target) < 1e-4 and values[0] > 1.0
        assert ("ebfmi" in kinds_of(run_checks(make_result(samples, energies(high))))) == fails


def test_too_few_draws_skip_the_convergence_checks():
    # 3 draws: R-hat/ESS undefined (need 4), E-BFMI defined; 2 draws: only divergences and tree depth
    result = make_result(iid(8, 2, 3, 1), energy=np.cumsum(np.ones((2, 3)), axis=1))
    assert kinds_of(run_checks(result)) == []
    divergent = np.ones((2, 2), dtype=bool)
    assert kinds_of(run_checks(make_result(iid(9, 2, 2, 1), energy=iid(10, 2, 2), divergent=divergent))) == ["divergent"]


# ------------------------------------------------------------------ checks on real runs


def test_good_runs_warn_nothing():
    init = torch.randn(4, 4, dtype=F64, generator=gen(0))
    for sampler in (NUTS(standard_normal), HMC(standard_normal, trajectory_length=1.5)):
        with warnings.catch_warnings():
            warnings.simplefilter("error", SamplingWarning)
            result = sampler.sample(init, num_samples=1000, num_warmup=300, generator=gen(1))
        assert result.check() == [] and result.check_seconds > 0


def funnel(z: torch.Tensor) -> torch.Tensor:
    """Neal's funnel: v ~ N(0, 3), x_i | v ~ N(0, e^{v/2}), 9 of them."""
    v, x = z[..., 0], z[..., 1:]
    return v**2 / 18.0 + 0.5 * (x**2).sum(-1) * torch.exp(-v) + 0.5 * x.shape[-1] * v


def wall(x: torch.Tensor) -> torch.Tensor:
    """A Gaussian cut at |x_i| < 1.5 (U = +inf outside): every trajectory that hits the wall diverges."""
    inside = (x.abs() < 1.5).all(-1)
    return torch.where(inside, 0.5 * (x**2).sum(-1), torch.full_like(x[..., 0], math.inf))


def bad_run(case: str):
    """(sampler, initial states, sample() keywords) of a deliberately bad run."""
    if case == "wall":  # otherwise healthy: 4000 draws, ESS > 2000
        return HMC(wall, step_size=0.6, num_steps=4, adapt_step_size=False), torch.zeros(4, 2, dtype=F64), \
            dict(num_samples=1000, num_warmup=0)
    if case == "funnel":  # the funnel's energy spread defeats momentum resampling; short trees in its neck
        return NUTS(funnel, max_tree_depth=4), torch.zeros(4, 10, dtype=F64), dict(num_samples=400, num_warmup=100)
    if case == "separate_modes":  # two modes 20 sd apart, two chains in each: the chains disagree
        centres = torch.tensor([-10.0, 10.0], dtype=F64)
        init = torch.tensor([[-10.0], [-10.0], [10.0], [10.0]], dtype=F64)
        return NUTS(lambda x: -torch.logsumexp(-0.5 * (x - centres) ** 2, -1)), init, dict(num_samples=300, num_warmup=200)
    if case == "stuck":  # a tiny fixed step: chains barely move from dispersed starts
        init = torch.randn(4, 2, dtype=F64, generator=gen(2)) * 3
        return HMC(standard_normal, step_size=0.01, num_steps=2, adapt_step_size=False), init, \
            dict(num_samples=500, num_warmup=0)
    # an ill-conditioned Gaussian with the identity metric and at most 2 doublings
    scales = torch.logspace(-2, 0, 6, dtype=F64)
    init = torch.randn(4, 6, dtype=F64, generator=gen(3)) * scales
    return NUTS(lambda x: 0.5 * ((x / scales) ** 2).sum(-1), max_tree_depth=2), init, dict(num_samples=400, num_warmup=150)


# case -> (warnings it must raise, warnings it may raise besides)
BAD_RUNS = {
    "wall": ({"divergent"}, set()),
    "funnel": ({"ebfmi", "depth"}, {"divergent", "ess", "rhat"}),
    "separate_modes": ({"rhat"}, {"ess"}),
    "stuck": ({"ess"}, {"rhat"}),
    "short_trees": ({"depth"}, {"ess", "rhat"}),
}


def test_every_check_has_a_bad_run():
    assert set().union(*(required for required, _ in BAD_RUNS.values())) == set(KINDS)


@pytest.mark.parametrize("case", list(BAD_RUNS))
def test_bad_runs_raise_their_warnings_once_each(case):
    required, allowed = BAD_RUNS[case]
    sampler, init, kwargs = bad_run(case)
    result, messages = sample_and_collect(sampler, init, generator=gen(4), **kwargs)
    kinds = kinds_of(messages)
    assert len(kinds) == len(set(kinds)), kinds  # once per run
    assert required <= set(kinds) <= required | allowed, messages
    assert kinds_of(result.check()) == kinds  # the same as the result reports on demand


def test_warn_false_and_a_category_filter_silence_the_checks():
    sampler, init, kwargs = bad_run("wall")
    result, silent = sample_and_collect(sampler, init, generator=gen(4), warn=False, **kwargs)
    assert silent == [] and result.check_seconds == 0.0 and kinds_of(result.check()) == ["divergent"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=SamplingWarning)
        sampler.sample(init, generator=gen(4), **kwargs)
    assert not [w for w in caught if issubclass(w.category, SamplingWarning)]


def test_sampling_warning_is_a_user_warning():
    assert issubclass(SamplingWarning, UserWarning)


# ------------------------------------------------------------------ the sign error


@pytest.mark.parametrize("kind", ["nuts", "hmc", "tempering"])
def test_log_density_passed_as_energy_stops_warmup_and_names_log_prob(kind):
    log_density = lambda x: -standard_normal(x)  # noqa: E731  (passed where an energy belongs)
    sampler = {"nuts": NUTS, "hmc": HMC, "tempering": lambda e: ParallelTempering(e, num_replicas=3)}[kind](log_density)
    init = torch.randn(4, 5, dtype=F64, generator=gen(5))
    with pytest.raises(ValueError, match=r"falls without bound during warmup.*pass it as log_prob="):
        sampler.sample(init, num_samples=100, num_warmup=200, generator=gen(6))


def test_energy_passed_as_log_prob_stops_warmup_and_names_energy():
    with pytest.raises(ValueError, match=r"log_prob rises without bound.*pass it as energy="):
        NUTS(log_prob=standard_normal).sample(torch.randn(4, 3, dtype=F64, generator=gen(7)), 100, 200, generator=gen(8))


@pytest.mark.parametrize("offset", ["none", "start_at_zero"])
def test_a_far_start_falling_to_the_mode_is_no_sign_error(offset):
    """U falls by ~1e6 (far more than the 100·D trigger) on the way to a mode 1000 sd away; with the constant
    chosen so that U = 0 at the start, no scale of U₀ helps: only the ray test tells the two apart."""
    centre = torch.tensor([100.0, -50.0], dtype=F64)
    constant = -0.5 * float((centre**2).sum() / 0.01) if offset == "start_at_zero" else 0.0
    energy = lambda x: 0.5 * ((x - centre) ** 2).sum(-1) / 0.01 + constant  # noqa: E731
    init = torch.zeros(4, 2, dtype=F64)
    assert float(energy(init)[0]) == pytest.approx(0.0 if offset == "start_at_zero" else 6.25e5, abs=1e-6)
    for sampler in (NUTS(energy, mass="diag"), HMC(energy, mass="diag", trajectory_length=1.0)):
        result = sampler.sample(init, num_samples=300, num_warmup=300, generator=gen(9), warn=False)
        err = (result.samples.mean((0, 1)) - centre).abs()
        assert bool((err <= 5 * mcse_mean(result.samples)).all()), err


# ------------------------------------------------------------------ log_prob and input errors


@pytest.mark.parametrize("kind", ["nuts", "hmc", "tempering"])
def test_log_prob_and_energy_give_the_same_draws(kind):
    scales = torch.tensor([0.5, 1.0, 2.0], dtype=F64)
    energy = lambda x: 0.5 * ((x / scales) ** 2).sum(-1) + 0.1 * x[..., 0] ** 4  # noqa: E731
    make = {"nuts": lambda **kw: NUTS(mass="diag", **kw), "hmc": lambda **kw: HMC(mass="diag", **kw),
            "tempering": lambda **kw: ParallelTempering(num_replicas=3, **kw)}[kind]
    init = torch.randn(3, 3, dtype=F64, generator=gen(10))
    a = make(energy=energy).sample(init, 200, 100, generator=gen(11), warn=False)
    b = make(log_prob=lambda x: -energy(x)).sample(init, 200, 100, generator=gen(11), warn=False)
    assert torch.equal(a.samples, b.samples)
    assert torch.equal(a.potential_energy, b.potential_energy) and torch.equal(a.accept_prob, b.accept_prob)
    assert torch.equal(a.step_size, b.step_size) and a.num_grad_evals == b.num_grad_evals
    # a user-supplied gradient is the gradient of whichever function is given
    grad_u = lambda x: x / scales**2 + torch.stack([0.4 * x[..., 0] ** 3, 0 * x[..., 1], 0 * x[..., 2]], -1)  # noqa: E731
    c = make(energy=energy, gradient=grad_u).sample(init, 200, 100, generator=gen(11), warn=False)
    d = make(log_prob=lambda x: -energy(x), gradient=lambda x: -grad_u(x)).sample(init, 200, 100, generator=gen(11),
                                                                                  warn=False)
    assert torch.equal(c.samples, d.samples)


def test_target_arguments_and_bad_targets_raise_clear_errors():
    init = torch.randn(3, 2, dtype=F64, generator=gen(12))
    with pytest.raises(TypeError, match="exactly one of energy= .* and log_prob=.*got both"):
        NUTS(standard_normal, log_prob=standard_normal)
    with pytest.raises(TypeError, match="exactly one.*got neither"):
        HMC()
    with pytest.raises(TypeError, match="log_prob must be a callable"):
        NUTS(log_prob=3.0)
    constant = lambda x: torch.ones(x.shape[0], dtype=x.dtype)  # noqa: E731
    detached = lambda x: standard_normal(x.detach())  # noqa: E731
    weight = torch.ones(2, dtype=F64, requires_grad=True)
    parameters_only = lambda x: (weight**2).sum().expand(x.shape[0])  # noqa: E731
    for target in (constant, detached, parameters_only):
        with pytest.raises(ValueError, match="energy does not depend on its input x"):
            NUTS(target).sample(init, 10, 10)
        with pytest.raises(ValueError, match="log_prob does not depend on its input x"):
            HMC(log_prob=target).sample(init, 10, 10)
    nan_everywhere = lambda x: standard_normal(x) * math.nan  # noqa: E731
    with pytest.raises(ValueError, match="not finite at the initial state of every chain"):
        NUTS(nan_everywhere).sample(init, 10, 10)
    with pytest.raises(ValueError, match="log_prob or its gradient is not finite at the initial state of every chain"):
        NUTS(log_prob=lambda x: torch.log(-x[..., 0] ** 2 - 1.0)).sample(init, 10, 10)  # log of a negative: NaN
    with pytest.raises(ValueError, match=r"not finite at the initial state of chains \[1\]"):
        NUTS(lambda x: standard_normal(x) / (x[..., 0] - init[1, 0])).sample(init, 10, 10)
    with pytest.raises(TypeError, match="log_prob must return a tensor"):
        NUTS(log_prob=lambda x: 1.0).sample(init, 10, 10)
    with pytest.raises(TypeError, match="warn must be True or False"):
        NUTS(standard_normal).sample(init, 10, 10, warn="no")


# ------------------------------------------------------------------ recorded energies, warmup, progress


@pytest.mark.parametrize("kind", ["nuts", "hmc"])
def test_recorded_total_energy_is_that_of_a_canonical_draw(kind):
    """E_n − U_n = K(p_n): the selected (or accepted) state with its momentum is distributed as exp(−H), so for
    a D-d Gaussian with the identity metric K is ½χ²_D: mean D/2 and variance D/2, each within 5 MCSE.  A
    wrong momentum (the initial one, the trajectory's last) would not have this law."""
    dim = 6
    sampler = NUTS(standard_normal) if kind == "nuts" else HMC(standard_normal, step_size=0.9, num_steps=3,
                                                               adapt_step_size=False)
    result = sampler.sample(torch.randn(4, dim, dtype=F64, generator=gen(13)), 1500, 200, generator=gen(14), warn=False)
    kinetic = (result.energy - result.potential_energy).unsqueeze(-1)
    assert bool((kinetic >= 0).all())
    assert abs(float(kinetic.mean()) - dim / 2) <= 5 * float(mcse_mean(kinetic)[0])
    centred = (kinetic - dim / 2) ** 2
    assert abs(float(centred.mean()) - dim / 2) <= 5 * float(mcse_mean(centred)[0])
    assert torch.equal(result.ebfmi(), ebfmi(result.energy))


def test_save_warmup_keeps_the_adaptation_and_leaves_the_draws_unchanged():
    init = torch.randn(4, 3, dtype=F64, generator=gen(15))
    plain = NUTS(standard_normal, mass="diag").sample(init, 200, 150, generator=gen(16), warn=False)
    saved = NUTS(standard_normal, mass="diag").sample(init, 200, 150, generator=gen(16), warn=False, save_warmup=True)
    assert plain.warmup is None
    assert torch.equal(plain.samples, saved.samples) and torch.equal(plain.energy, saved.energy)
    w = saved.warmup
    assert w.samples.shape == (4, 150, 3) and w.tree_depth.shape == (4, 150)
    assert int(w.divergent.sum()) == saved.warmup_divergences
    assert torch.allclose(w.potential_energy, standard_normal(w.samples))
    assert len(torch.unique(w.step_sizes)) > 5  # adapted along the way
    assert bool((saved.step_sizes == saved.step_size).all())  # fixed after warmup
    hmc = HMC(standard_normal, step_size_jitter=0.2).sample(init, 100, 50, generator=gen(17), warn=False, save_warmup=True)
    eps = float(hmc.step_size)
    assert bool(((hmc.step_sizes >= 0.8 * eps) & (hmc.step_sizes <= 1.2 * eps)).all())
    assert len(torch.unique(hmc.step_sizes)) == hmc.step_sizes.numel()  # jittered per chain and draw
    assert hmc.warmup.samples.shape == (4, 50, 3) and hmc.warmup.tree_depth is None


def test_progress_bar_on_stderr_replaces_the_text_lines(capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "APPEAR_AFTER", 0.0)
    monkeypatch.setattr(progress_module, "POSTFIX_EVERY", 0.0)
    init = torch.randn(2, 2, dtype=F64, generator=gen(18))
    NUTS(standard_normal).sample(init, 30, 20, generator=gen(19), progress=True, warn=False)
    out, err = capsys.readouterr()
    assert out == ""
    for text in ("NUTS sampling", "50/50", " draws/s", "step size", "divergences"):
        assert text in err, err
    # the default (None) shows it only on a terminal; pytest's captured stderr is not one
    NUTS(standard_normal).sample(init, 30, 20, generator=gen(19), warn=False)
    ParallelTempering(standard_normal, num_replicas=2).sample(init, 30, 20, generator=gen(19), warn=False)
    NUTS(standard_normal).sample(init, 30, 20, generator=gen(19), progress=False, warn=False)
    assert capsys.readouterr() == ("", "")
    monkeypatch.setattr(progress_module.sys.stderr, "isatty", lambda: True, raising=False)
    assert progress_module.progress_enabled(None) and not progress_module.progress_enabled(False)
    with pytest.raises(TypeError, match="progress must be True, False or None"):
        NUTS(standard_normal).sample(init, 30, 20, progress="yes")
