"""sample_canonical: states from exp(−H/T) checked against closed forms and quadrature.

Draws come back flat (n, dim) with chains interleaved (draw-major); the tests fold them back to
(chains, draws, dim) to get Monte-Carlo standard errors from the chains' own effective sample size.
Every check is |estimate − exact| ≤ 5 MCSE (for a 0/1 statistic at least 5 standard errors of as many independent
draws: ``_assert_within_mcse``): a correct sampler fails one with probability ~6e-7, a
biased one (wrong temperature, a missing Jacobian, an angle marginal distorted by the wrapping)
fails once its bias exceeds 5 MCSE.
"""
from __future__ import annotations

import math

import pytest
import torch
from scipy import integrate, special

from hnn.sampling import ess, mcse_mean, sample_canonical
from hnn.systems import get

F64 = torch.float64
CHAINS = 8


def _fold(states: torch.Tensor, chains: int = CHAINS) -> torch.Tensor:
    """(n, dim) draw-major -> (chains, draws, dim)."""
    return states.reshape(-1, chains, states.shape[-1]).transpose(0, 1)


def _assert_within_mcse(values: torch.Tensor, exact: float, what: str, indicator: bool = False) -> None:
    """values: (chains, draws) of a statistic whose exact expectation is ``exact``.

    ``indicator``: values are 0/1 with P(1) = ``exact``. Their plug-in MCSE uses the sample's own variance
    p̂(1 − p̂), which collapses when few draws land in a tail (1 draw of 1600 where 10.6 are expected gave
    an MCSE of 0.0006 against the 0.0020 of independent draws); the error is then also measured against the
    standard error of N independent draws with the exact variance p(1 − p), and the larger of the two is used."""
    values = values.unsqueeze(-1).to(F64)
    err = abs(float(values.mean()) - exact)
    mcse = float(mcse_mean(values)[0])
    if indicator:
        mcse = max(mcse, math.sqrt(exact * (1.0 - exact) / values.numel()))
    assert err <= 5 * mcse, f"{what}: estimate {float(values.mean()):.4f} vs exact {exact:.4f} (MCSE {mcse:.4f})"


def test_oscillator_is_gaussian_in_closed_form():
    """H = k q²/2 + p²/(2m): q ~ N(0, T/k), p ~ N(0, mT), independent."""
    k, m, temperature = 4.0, 0.25, 0.7
    system = get("mass_spring", k=k, m=m)
    states = sample_canonical(system, temperature, 1600, chains=CHAINS, num_warmup=200, thin=1,
                              generator=torch.Generator().manual_seed(0))
    assert states.shape == (1600, 2) and states.dtype == F64
    x = _fold(states)
    q, p = x[..., 0], x[..., 1]
    var_q, var_p = temperature / k, m * temperature
    _assert_within_mcse(q, 0.0, "E[q]")
    _assert_within_mcse(p, 0.0, "E[p]")
    _assert_within_mcse(q * q, var_q, "E[q²]")
    _assert_within_mcse(p * p, var_p, "E[p²]")
    _assert_within_mcse(q * p, 0.0, "E[qp]")
    for z in (-1.0, 0.5, 1.5):  # whole distribution, not just moments: P(q ≤ z·sd) = Φ(z)
        _assert_within_mcse((q <= z * math.sqrt(var_q)).to(F64), float(special.ndtr(z)), f"P(q ≤ {z} sd)",
                            indicator=True)
    assert bool((ess(x) >= 0.2 * x.shape[0] * x.shape[1]).all())  # the chains really mix


@pytest.mark.parametrize("temperature, cuts", [(3.0, (-2.5, -1.0, 0.0, 0.4, 2.0, 3.0)), (0.3, (-0.6, -0.3, 0.0, 0.2, 0.5))])
@pytest.mark.filterwarnings("ignore::hnn.sampling.SamplingWarning")  # short run: the moments are tested, not the end-of-run checks
def test_pendulum_angle_marginal_against_quadrature(temperature, cuts):
    """H = 3(1 − cos q) + p²: the angle marginal ∝ exp(−3(1 − cos q)/T) on (−π, π] (von Mises, κ = 3/T),
    p ~ N(0, T/2).  At T = 3 much of the mass lies near ±π, where a wrong wrap would show."""
    system = get("pendulum")
    # 6400 draws: P(q > 3) at T = 3 is 0.0066, and 5 standard errors of 6400 independent draws (0.0050) must be
    # below it for the check to see a tail the sampler never reaches
    states = sample_canonical(system, temperature, 6400, chains=CHAINS, num_warmup=200, thin=1,
                              generator=torch.Generator().manual_seed(1))
    q, p = _fold(states)[..., 0], _fold(states)[..., 1]
    assert bool(((q > -math.pi) & (q <= math.pi)).all())
    kappa = 3.0 / temperature

    def density(theta: float) -> float:
        return math.exp(kappa * (math.cos(theta) - 1.0))

    norm = integrate.quad(density, -math.pi, math.pi)[0]
    for a in cuts:  # spread over the bulk of the marginal (about ±2 sd at T = 0.3)
        exact = integrate.quad(density, -math.pi, a)[0] / norm
        _assert_within_mcse((q <= a).to(F64), exact, f"P(q ≤ {a})", indicator=True)
    # E[cos q] = I₁(κ)/I₀(κ) for the von Mises law
    _assert_within_mcse(q.cos(), float(special.i1(kappa) / special.i0(kappa)), "E[cos q]")
    _assert_within_mcse(p * p, temperature / 2.0, "E[p²]")


def test_boxed_coordinates_and_a_learned_hamiltonian():
    """A module with .hamiltonian (as a learned HNN has): flat in q on the box [−1, 2] → q uniform there;
    quadratic in p → p ~ N(0, T).  Its parameters get no gradient from sampling."""

    class Learned(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.tensor(0.5, dtype=F64))

        def hamiltonian(self, x: torch.Tensor) -> torch.Tensor:
            return self.weight * x[..., 1] ** 2 + 0.0 * x[..., 0]

    model = Learned()
    states = sample_canonical(model, 1.0, 1600, dim=2, domain=([-1.0, -math.inf], [2.0, math.inf]),
                              normalizable=True, chains=CHAINS, num_warmup=200, thin=1,
                              generator=torch.Generator().manual_seed(2))
    assert model.weight.grad is None
    q, p = _fold(states)[..., 0], _fold(states)[..., 1]
    assert bool(((q > -1.0) & (q < 2.0)).all())
    _assert_within_mcse(q, 0.5, "E[q] (uniform on [−1, 2])")
    _assert_within_mcse((q - 0.5) ** 2, 0.75, "Var[q] (uniform: 9/12)")
    _assert_within_mcse(p * p, 1.0, "E[p²]")


def test_non_normalisable_ensembles_raise():
    with pytest.raises(ValueError, match="normalisable"):
        sample_canonical(get("two_body"), 1.0, 10)  # gravity: exp(−H/T) diverges at collisions and infinity
    with pytest.raises(ValueError, match="normalisable"):
        sample_canonical(lambda x: (x**2).sum(-1), 1.0, 10, dim=2)  # unknown callable, no domain
    with pytest.raises(ValueError, match="temperature"):
        sample_canonical(get("pendulum"), 0.0, 10)
    with pytest.raises(ValueError, match="domain"):
        sample_canonical(lambda x: (x**2).sum(-1), 1.0, 10, dim=2, domain=(1.0, -1.0))
    with pytest.raises(ValueError, match="sampler"):
        sample_canonical(get("pendulum"), 1.0, 10, sampler="gibbs")


@pytest.mark.filterwarnings("ignore::hnn.sampling.SamplingWarning")  # short run: the weights are tested
def test_tempering_weighs_the_wells_of_a_double_well():
    """V(q) = 4(q² − 1)² + q/2 on the box [−2, 2], H = V + p², T = 0.3: a barrier of ≈ 13 T between wells whose
    weights differ (the left one is lower). Every chain starts in the right well; replica exchange must move mass
    across to give P(q ≤ 0) and E[q] of the quadrature of exp(−V/T)."""
    temperature = 0.3

    def hamiltonian(x: torch.Tensor) -> torch.Tensor:
        q, p = x[..., 0], x[..., 1]
        return 4.0 * (q * q - 1.0) ** 2 + 0.5 * q + p * p

    start = torch.tensor([[1.0, 0.0]], dtype=F64).repeat(CHAINS, 1)
    states = sample_canonical(hamiltonian, temperature, 3200, dim=2, domain=([-2.0, -4.0], [2.0, 4.0]),
                              sampler="tempering", num_replicas=6, max_temperature=30.0, chains=CHAINS,
                              num_warmup=300, thin=1, initial=start, generator=torch.Generator().manual_seed(3))
    q = _fold(states)[..., 0]

    def density(x: float) -> float:
        return math.exp(-(4.0 * (x * x - 1.0) ** 2 + 0.5 * x) / temperature)

    norm = integrate.quad(density, -2.0, 2.0, points=(-1.0, 1.0))[0]
    left = integrate.quad(density, -2.0, 0.0, points=(-1.0,))[0] / norm
    mean = integrate.quad(lambda x: x * density(x), -2.0, 2.0, points=(-1.0, 1.0))[0] / norm
    assert 0.8 < left < 0.99  # the test's premise: most of the mass is in the well no chain starts in
    _assert_within_mcse((q <= 0.0).to(F64), left, "P(q ≤ 0)", indicator=True)
    _assert_within_mcse(q, mean, "E[q]")
