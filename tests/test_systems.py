"""Tests for hnn.systems: closed-form fields vs autograd, exact and reference trajectories, registry and input errors.

All numerical checks run in float64. Tolerances are stated where they are used, with the reason.
"""
from __future__ import annotations

import math

import pytest
import torch

import hnn
from hnn import systems
from hnn.systems.pendulum import elliptic_k

F64 = torch.float64
ALL_NAMES = systems.names()
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def autograd_grad(system, x: torch.Tensor) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(system.hamiltonian(x).sum(), x)
    return grad


def j_grad(system, x: torch.Tensor) -> torch.Tensor:
    grad = autograd_grad(system, x)
    n = system.dim // 2
    return torch.cat([grad[..., n:], -grad[..., :n]], dim=-1)


def test_names_cover_the_required_systems():
    expected = {"spring", "mass_spring", "damped_mass_spring", "pendulum", "ideal_pendulum", "damped_pendulum",
                "double_pendulum", "two_body", "three_body"}
    assert set(ALL_NAMES) == expected
    for name in ALL_NAMES:
        system = systems.get(name)
        assert system.name == name
        assert system.dim % 2 == 0 and len(system.periodic) == system.dim // 2
        assert system.time_scale > 0
        # params rebuild an identical system
        again = systems.get(system.name, **system.params)
        assert type(again) is type(system) and again.params == system.params


# ----------------------------------------------------------------------------- fields


@pytest.mark.parametrize("name", ALL_NAMES)
def test_vector_field_is_J_grad_H(name):
    system = systems.get(name)
    x = system.sample_initial(64, gen(1), dtype=F64)
    expected = j_grad(system, x)
    field = system.vector_field(x)
    assert field.shape == x.shape and field.dtype == F64
    if system.dissipative:
        # Rayleigh damping: field = J∇H − [0, γ p]
        n = system.dim // 2
        expected = expected - torch.cat([torch.zeros_like(x[..., :n]), system.gamma * x[..., n:]], dim=-1)
    # closed form vs autograd of the same expression: agreement to rounding (1e-12 relative to the field scale)
    scale = expected.abs().max().item()
    torch.testing.assert_close(field, expected, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("name", ["spring", "mass_spring", "pendulum", "ideal_pendulum", "double_pendulum"])
def test_vector_field_is_J_grad_H_off_the_sampler(name):
    # Gaussian states far outside the sampling recipes (large angles, |p| > 2) with a leading batch shape [3, 5].
    system = systems.get(name)
    x = 3.0 * torch.randn(3, 5, system.dim, generator=gen(2), dtype=F64)
    expected = j_grad(system, x)
    torch.testing.assert_close(system.vector_field(x), expected, rtol=1e-12, atol=1e-12 * expected.abs().max().item())
    assert system.hamiltonian(x).shape == (3, 5)


@pytest.mark.parametrize("name", [n for n in ALL_NAMES if systems.get(n).separable])
def test_separable_partial_derivatives(name):
    system = systems.get(name)
    x = system.sample_initial(32, gen(3), dtype=F64)
    grad = autograd_grad(system, x)
    n = system.dim // 2
    q, p = x[..., :n], x[..., n:]
    torch.testing.assert_close(system.dH_dq(q), grad[..., :n], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(system.dH_dp(p), grad[..., n:], rtol=1e-12, atol=1e-12)


def test_flags():
    assert not systems.get("double_pendulum").separable
    for name in ("damped_mass_spring", "damped_pendulum"):
        assert systems.get(name).dissipative
    for name in ("spring", "mass_spring", "pendulum", "ideal_pendulum", "double_pendulum", "two_body", "three_body"):
        assert not systems.get(name).dissipative
    assert systems.get("pendulum").periodic == (True,)
    assert systems.get("double_pendulum").periodic == (True, True)
    assert systems.get("two_body").periodic == (False,) * 4
    assert systems.get("spring").periodic == (False,)


def test_paper_presets_are_the_paper_hamiltonians():
    x = torch.randn(100, 2, generator=gen(4), dtype=F64)
    q, p = x[:, 0], x[:, 1]
    torch.testing.assert_close(systems.get("spring").hamiltonian(x), q**2 + p**2, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(systems.get("pendulum").hamiltonian(x), 3 * (1 - torch.cos(q)) + p**2,
                               rtol=1e-13, atol=1e-13)
    k, m = 2.5, 0.4
    torch.testing.assert_close(systems.get("mass_spring", k=k, m=m).hamiltonian(x), k * q**2 / 2 + p**2 / (2 * m))
    mass, length, g = 0.7, 1.3, 9.81
    expected = p**2 / (2 * mass * length**2) + mass * g * length * (1 - torch.cos(q))
    torch.testing.assert_close(systems.get("ideal_pendulum", m=mass, l=length, g=g).hamiltonian(x), expected)


def test_double_pendulum_hamiltonian_is_the_lagrangian_energy():
    # Independent check of H: with θ̇ = M(θ)^{-1} p, H must equal T = θ̇ᵀ M θ̇ / 2 plus the potential written from the
    # Cartesian bob heights (y1 = −l1 cos θ1, y2 = y1 − l2 cos θ2, zero at rest).
    system = systems.get("double_pendulum", m1=1.3, m2=0.6, l1=0.9, l2=1.4, g=9.0)
    x = system.sample_initial(50, gen(5), dtype=F64, max_angle=3.0, max_angular_velocity=2.0)
    theta, p = x[:, :2], x[:, 2:]
    theta_dot = torch.linalg.solve(system.mass_matrix(theta), p.unsqueeze(-1)).squeeze(-1)
    # Cartesian velocities of the bobs
    v1 = torch.stack([0.9 * torch.cos(theta[:, 0]), 0.9 * torch.sin(theta[:, 0])], -1) * theta_dot[:, :1]
    v2 = v1 + torch.stack([1.4 * torch.cos(theta[:, 1]), 1.4 * torch.sin(theta[:, 1])], -1) * theta_dot[:, 1:]
    kinetic = 0.5 * 1.3 * v1.square().sum(-1) + 0.5 * 0.6 * v2.square().sum(-1)
    y1 = -0.9 * torch.cos(theta[:, 0])
    y2 = y1 - 1.4 * torch.cos(theta[:, 1])
    potential = 9.0 * (1.3 * (y1 + 0.9) + 0.6 * (y2 + 0.9 + 1.4))
    torch.testing.assert_close(system.hamiltonian(x), kinetic + potential, rtol=1e-12, atol=1e-12)
    # and the q-rates of the closed-form field are θ̇
    torch.testing.assert_close(system.vector_field(x)[:, :2], theta_dot, rtol=1e-12, atol=1e-12)


def test_gravity_force_is_newtons_law():
    # Two bodies at distance 2 on the x-axis: force on body 1 = G m1 m2 / 4 toward body 2.
    system = systems.get("two_body", masses=(2.0, 3.0), G=0.5)
    x = torch.tensor([[1.0, 0.0, -1.0, 0.0, 0.0, 4.0, 0.0, -3.0]], dtype=F64)
    field = system.vector_field(x)[0]
    torch.testing.assert_close(field[:4], torch.tensor([0.0, 2.0, 0.0, -1.0], dtype=F64))  # v = p / m
    torch.testing.assert_close(field[4:], torch.tensor([-0.75, 0.0, 0.75, 0.0], dtype=F64))  # 0.5*2*3/4
    torch.testing.assert_close(system.hamiltonian(x), torch.tensor([16 / 4 + 9 / 6 - 0.5 * 6 / 2], dtype=F64))
    torch.testing.assert_close(system.angular_momentum(x), torch.tensor([1.0 * 4.0 + (-1.0) * (-3.0)], dtype=F64))
    torch.testing.assert_close(system.total_momentum(x), torch.tensor([[0.0, 1.0]], dtype=F64))


# ----------------------------------------------------------------------------- exact trajectories


def fourth_order_derivative(system, x0, t, h):
    """d/dt of the exact trajectory by the 5-point stencil (truncation error h⁴ |x⁽⁵⁾| / 30)."""
    stencil = torch.stack([t - 2 * h, t - h, t + h, t + 2 * h])  # [4, T]
    values = torch.stack([system.trajectory(x0, torch.cat([t[:1], s]))[1:] for s in stencil])
    return (values[0] - 8 * values[1] + 8 * values[2] - values[3]) / (12 * h)


OSCILLATORS = [
    ("spring", {}),
    ("mass_spring", {"k": 3.0, "m": 0.7}),
    ("damped_mass_spring", {"k": 3.0, "m": 0.7, "gamma": 0.4}),  # underdamped
    ("damped_mass_spring", {"k": 1.0, "m": 1.0, "gamma": 2.0}),  # critically damped (β = ω0 = 1)
    ("damped_mass_spring", {"k": 1.0, "m": 2.0, "gamma": 5.0}),  # overdamped
    ("damped_mass_spring", {"k": 1.0, "m": 1.0, "gamma": 2.0 * (1 - 1e-9)}),  # just under critical
    ("damped_mass_spring", {"k": 1.0, "m": 1.0, "gamma": 2.0 * (1 + 1e-9)}),  # just over critical
]


@pytest.mark.parametrize("name,params", OSCILLATORS)
def test_exact_oscillator_solves_the_ode(name, params):
    system = systems.get(name, **params)
    x0 = system.sample_initial(6, gen(6), dtype=F64).reshape(2, 3, 2)  # batch shape [2, 3]
    t = torch.linspace(0.5, 0.5 + 2 * system.time_scale, 25, dtype=F64)  # starts at t0 = 0.5 ≠ 0
    traj = system.trajectory(x0, t)
    assert traj.shape == (25, 2, 3, 2) and traj.dtype == F64
    torch.testing.assert_close(traj[0], x0, rtol=0, atol=1e-15)  # x0 is the state at t[0]
    # 5-point derivative with h = 1e-3: truncation ~ h⁴ ω⁵ |x| / 30 < 1e-12, rounding ~ 1e-16 / h = 1e-13;
    # 1e-9 leaves margin yet catches any sign/coefficient error (those give O(1) residuals).
    derivative = fourth_order_derivative(system, x0, t, 1e-3)
    torch.testing.assert_close(derivative, system.vector_field(traj), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name,params", OSCILLATORS[:3])
def test_exact_oscillator_matches_rk4(name, params):
    # Independent of the closed form: rk4 at dt = 1e-3 over two periods has global error ~ (ωdt)⁴ T ≈ 1e-11.
    system = systems.get(name, **params)
    x0 = system.sample_initial(4, gen(7), dtype=F64)
    t = torch.linspace(0.0, 2 * system.time_scale, 9, dtype=F64)
    rk4 = hnn.integrate(system.vector_field, x0, t, method="rk4", dt=1e-3)
    torch.testing.assert_close(system.trajectory(x0, t), rk4, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name,params", OSCILLATORS[:2])
def test_undamped_oscillator_conserves_energy_and_is_periodic(name, params):
    system = systems.get(name, **params)
    x0 = system.sample_initial(16, gen(8), dtype=F64)
    t = torch.linspace(0.0, 50 * system.period, 1001, dtype=F64)
    traj = system.trajectory(x0, t)
    energy = system.hamiltonian(traj)
    # exact flow: H constant to rounding (1e-14 relative over 50 periods)
    assert ((energy - energy[0]).abs() / energy[0]).max() < 1e-13
    back = system.trajectory(x0, torch.tensor([0.0, system.period, 7 * system.period], dtype=F64))
    torch.testing.assert_close(back[1], x0, rtol=0, atol=1e-13)
    torch.testing.assert_close(back[2], x0, rtol=0, atol=1e-12)


def test_paper_spring_period_is_pi_and_oscillator_period_formula():
    assert systems.get("spring").period == pytest.approx(math.pi, rel=1e-15)
    assert systems.get("mass_spring", k=4.0, m=9.0).period == pytest.approx(2 * math.pi * 1.5, rel=1e-15)


def test_damped_oscillator_quasi_period_and_energy_decay():
    system = systems.get("damped_mass_spring", k=3.0, m=0.7, gamma=0.4)
    x0 = system.sample_initial(8, gen(9), dtype=F64)
    # Underdamped: x(t + T_d) = e^{−β T_d} x(t) exactly, with T_d = 2π/√(ω0² − β²), β = γ/2.
    t = torch.tensor([0.0, system.period, 3 * system.period], dtype=F64)
    traj = system.trajectory(x0, t)
    decay = math.exp(-0.2 * system.period)
    torch.testing.assert_close(traj[1], decay * x0, rtol=0, atol=1e-13)
    torch.testing.assert_close(traj[2], decay**3 * x0, rtol=0, atol=1e-13)
    # Energy: dH/dt = −γ p²/m < 0 wherever p ≠ 0 → strictly decreasing on a grid
    fine = system.trajectory(x0, torch.linspace(0, 10, 201, dtype=F64))
    assert (system.hamiltonian(fine).diff(dim=0) < 0).all()
    assert systems.get("damped_mass_spring", gamma=3.0).period is None  # overdamped: no quasi-period


def test_damped_oscillator_is_continuous_across_critical_damping_and_does_not_overflow():
    x0 = torch.tensor([[1.0, -0.5], [-0.3, 2.0]], dtype=F64)
    t = torch.linspace(0.0, 20.0, 41, dtype=F64)
    critical = systems.get("damped_mass_spring", gamma=2.0).trajectory(x0, t)
    for gamma in (2.0 * (1 - 1e-8), 2.0 * (1 + 1e-8)):
        near = systems.get("damped_mass_spring", gamma=gamma).trajectory(x0, t)
        # the solution is smooth in γ with |∂x/∂γ| = O(1) here, so a 2e-8 change moves it by < 1e-7
        torch.testing.assert_close(near, critical, rtol=0, atol=1e-7)
    # strongly overdamped over a long horizon: cosh/sinh would overflow, the slow exponential must not
    far = systems.get("damped_mass_spring", k=1.0, m=1.0, gamma=2000.0).trajectory(x0, torch.tensor([0.0, 1e4]))
    assert torch.isfinite(far).all()
    # slow mode decays at rate ω0²/(β + μ) ≈ 1/γ = 5e-4: after 1e4 it is ≈ e^{−5} of its initial amplitude
    assert far[1].abs().max() < 0.05


# ----------------------------------------------------------------------------- reference trajectories


def refined(system, x0, t):
    """A 10x tighter dopri5 run to compare the reference against."""
    return hnn.integrate(system, x0, t, method="torchdiffeq:dopri5", rtol=1e-13, atol=1e-13)


def relative_energy_drift(system, traj):
    energy = system.hamiltonian(traj)
    return ((energy - energy[0]).abs() / energy[0].abs()).max().item()


REFERENCE_CASES = [
    # (name, params, n states, horizon in time_scales)
    ("pendulum", {}, 3, 1.0),
    ("ideal_pendulum", {"m": 0.8, "l": 1.2, "g": 9.81}, 3, 1.0),
    ("double_pendulum", {}, 2, 0.6),
    ("two_body", {}, 2, 1.0),
    ("three_body", {}, 2, 0.3),  # 2.5 time units, half the paper's span
]


@pytest.mark.parametrize("name,params,count,horizon", REFERENCE_CASES)
def test_reference_trajectory_conserves_energy_and_matches_refined_run(name, params, count, horizon):
    system = systems.get(name, **params)
    x0 = system.sample_initial(count, gen(10), dtype=F64)
    t = torch.linspace(0.0, horizon * system.time_scale, 11, dtype=F64)
    traj = system.trajectory(x0, t)
    assert traj.shape == (11, count, system.dim) and traj.dtype == F64
    torch.testing.assert_close(traj[0], x0, rtol=0, atol=0)
    # dopri5 at 1e-12 keeps |ΔH/H| ~ 1e-11 over these spans; 1e-9 is the target accuracy of a reference.
    assert relative_energy_drift(system, traj) < 1e-9
    # A 10x tighter run agrees to ~1e-10 (measured 7e-11 .. 4e-10); 1e-9 relative to the state scale.
    torch.testing.assert_close(traj, refined(system, x0, t), rtol=0, atol=1e-9 * x0.abs().max().item())
    if isinstance(system, systems.NBody):
        momentum = system.total_momentum(traj)
        angular = system.angular_momentum(traj)
        torch.testing.assert_close(momentum, momentum[:1].expand_as(momentum), rtol=0, atol=1e-10)
        torch.testing.assert_close(angular, angular[:1].expand_as(angular), rtol=0, atol=1e-10)


def test_damped_pendulum_reference_obeys_the_energy_balance():
    system = systems.get("damped_pendulum", m=1.0, l=1.0, g=9.81, gamma=0.3)
    x0 = system.sample_initial(2, gen(11), dtype=F64)
    t = torch.linspace(0.0, 2.0, 401, dtype=F64)
    traj = system.trajectory(x0, t)
    torch.testing.assert_close(traj, refined(system, x0, t), rtol=0, atol=1e-9)
    # H(t) − H(0) = −∫ γ p²/a dt, integrated with composite Simpson on 400 intervals (error ~ h⁴ |f| ≲ 1e-8)
    dissipation = system.gamma * traj[..., 1].square() / system.inertia
    h = (t[1] - t[0]).item()
    simpson = h / 3 * (dissipation[0] + 4 * dissipation[1:-1:2].sum(0) + 2 * dissipation[2:-1:2].sum(0)
                       + dissipation[-1])
    energy = system.hamiltonian(traj)
    torch.testing.assert_close(energy[-1] - energy[0], -simpson, rtol=1e-7, atol=1e-7)
    assert (energy[-1] < energy[0]).all()


def test_pendulum_reference_returns_after_the_exact_period():
    system = systems.get("pendulum")
    # two librating states and one rotating (H > 2b = 6: a full turn, q advances by 2π)
    states = torch.tensor([[0.3, 0.0], [1.0, 1.2], [0.0, 2.6]], dtype=F64)
    assert system.hamiltonian(states[2]) > 6.0
    for x0 in states:
        period = system.period_of(x0).item()
        end = system.trajectory(x0, torch.tensor([0.0, period], dtype=F64))[-1]
        expected = x0.clone()
        if system.hamiltonian(x0) > 6.0:
            expected[0] += 2 * math.pi
        # period from the AGM (to rounding) and dopri5 at 1e-12 (measured ~1e-11): 1e-9
        torch.testing.assert_close(end, expected, rtol=0, atol=1e-9)


def test_pendulum_period_limits():
    system = systems.get("ideal_pendulum", m=1.0, l=2.0, g=9.81)
    tiny = torch.tensor([[1e-6, 0.0]], dtype=F64)
    # small-amplitude limit 2π√(l/g), with correction (1 + θ²/16): 1e-12 relative is ~ the correction's size
    assert system.period_of(tiny).item() == pytest.approx(2 * math.pi * math.sqrt(2.0 / 9.81), rel=1e-11)
    assert system.period == pytest.approx(2 * math.pi * math.sqrt(2.0 / 9.81), rel=1e-15)
    # 90° amplitude: T = 4 K(1/2) / ω0 (K(1/2) = 1.8540746773013719...)
    quarter = torch.tensor([[math.pi / 2, 0.0]], dtype=F64)
    expected = 4 * 1.8540746773013719 / math.sqrt(9.81 / 2.0)
    assert system.period_of(quarter).item() == pytest.approx(expected, rel=1e-14)


def test_elliptic_k_matches_scipy():
    scipy_special = pytest.importorskip("scipy.special")
    m = torch.tensor([0.0, 0.1, 0.5, 0.9, 0.999, 1 - 1e-12], dtype=F64)
    expected = torch.tensor(scipy_special.ellipk(m.numpy()), dtype=F64)
    torch.testing.assert_close(elliptic_k(m), expected, rtol=1e-13, atol=0)


def test_two_body_circular_orbit_returns_after_one_period():
    system = systems.get("two_body")
    x0 = system.sample_initial(2, gen(12), dtype=F64, orbit_noise=0.0)
    period = system.orbital_period(x0)
    # circular: separation d = 2|pos|, T = 2π √(d³ / (G M))
    separation = (x0[:, 0:2] - x0[:, 2:4]).norm(dim=-1)
    torch.testing.assert_close(period, 2 * math.pi * torch.sqrt(separation**3 / 2.0), rtol=1e-13, atol=0)
    for i in range(2):
        end = system.trajectory(x0[i], torch.stack([torch.zeros((), dtype=F64), period[i]]))[-1]
        torch.testing.assert_close(end, x0[i], rtol=0, atol=1e-9)  # dopri5 at 1e-12: measured ~1e-11


def rotate_bodies(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate every planar position and momentum of states [..., 4N] by angle [...]."""
    pairs = x.reshape(x.shape[:-1] + (-1, 2))
    c, s = torch.cos(angle)[..., None], torch.sin(angle)[..., None]
    rotated = torch.stack([c * pairs[..., 0] - s * pairs[..., 1], s * pairs[..., 0] + c * pairs[..., 1]], -1)
    return rotated.reshape(x.shape)


@pytest.mark.parametrize("name,masses", [("two_body", (1.0, 3.0)), ("three_body", (1.0, 1.0, 1.0)),
                                         ("three_body", (1.0, 2.0, 0.5))])
def test_unperturbed_recipes_are_rigid_rotations(name, masses):
    # With orbit_noise = 0 the recipes give the circular (two-body) / Lagrange equilateral (three-body) solutions,
    # which rotate rigidly at ω = √(G M / s³): an exact solution for any masses to check the reference against.
    system = systems.get(name, masses=masses, G=0.7)
    x0 = system.sample_initial(2, gen(13), dtype=F64, orbit_noise=0.0)
    n = system.n_bodies
    pos = x0[:, : 2 * n].reshape(2, n, 2)
    side = (pos[:, 0] - pos[:, 1]).norm(dim=-1)
    omega = torch.sqrt(0.7 * sum(masses) / side**3)
    torch.testing.assert_close(system.center_of_mass(x0), torch.zeros(2, 2, dtype=F64), rtol=0, atol=1e-15)
    t = torch.linspace(0.0, 2.0, 5, dtype=F64)  # the Lagrange solution is unstable: stay within a short span
    traj = system.trajectory(x0, t)
    expected = rotate_bodies(x0.expand(5, 2, -1), omega * t[:, None])
    torch.testing.assert_close(traj, expected, rtol=0, atol=1e-9)


# ----------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("name", ALL_NAMES)
def test_sample_initial_is_reproducible_and_typed(name):
    system = systems.get(name)
    a = system.sample_initial(7, gen(5), dtype=F64)
    b = system.sample_initial(7, gen(5), dtype=F64)
    c = system.sample_initial(7, gen(6), dtype=F64)
    assert a.shape == (7, system.dim) and a.dtype == F64
    assert torch.equal(a, b) and not torch.equal(a, c)
    single = system.sample_initial(7, gen(5), dtype=torch.float32)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single, a.float())  # same draws whatever the dtype
    assert system.sample_initial(0).shape == (0, system.dim)
    assert system.sample_initial(3).dtype == torch.get_default_dtype()  # no generator: global RNG, default dtype


@pytest.mark.parametrize("name,low,high", [("spring", 0.1, 1.0), ("mass_spring", 0.1, 1.0),
                                           ("pendulum", 1.3, 2.3), ("ideal_pendulum", 1.3, 2.3)])
def test_one_dof_sampling_radius(name, low, high):
    x = systems.get(name).sample_initial(4000, gen(14), dtype=F64)
    radius = x.norm(dim=-1)
    assert radius.min() >= low and radius.max() <= high
    # uniform radius: the extremes are approached (gap < 1% of the range with 4000 draws: P(fail) ~ e^{-40})
    assert radius.min() < low + 0.01 * (high - low) and radius.max() > high - 0.01 * (high - low)
    custom = systems.get(name).sample_initial(100, gen(15), dtype=F64, radius=(0.5, 0.5))
    torch.testing.assert_close(custom.norm(dim=-1), torch.full((100,), 0.5, dtype=F64))


def test_two_body_sampling_follows_the_paper_recipe():
    system = systems.get("two_body")
    x = system.sample_initial(4000, gen(16), dtype=F64)
    body1, body2 = x[:, 0:2], x[:, 2:4]
    mom1, mom2 = x[:, 4:6], x[:, 6:8]
    # the paper draws both coordinates of body 1 from U[0.5, 1.5]; body 2 mirrors it; total momentum 0
    assert body1.min() >= 0.5 and body1.max() <= 1.5
    torch.testing.assert_close(body2, -body1, rtol=0, atol=0)
    torch.testing.assert_close(mom2, -mom1, rtol=0, atol=0)
    # velocity perpendicular to the radius, counter-clockwise
    assert (body1 * mom1).sum(-1).abs().max() < 1e-14
    assert ((body1[:, 0] * mom1[:, 1] - body1[:, 1] * mom1[:, 0]) > 0).all()
    # speed = circular speed 1/(2√r) times (1 + 0.05 N(0,1)); with 4000 draws the sample mean has s.e. 8e-4
    # and the sample std s.e. 6e-4, so 5e-3 windows are > 6 s.e. wide
    factor = mom1.norm(dim=-1) * 2 * body1.norm(dim=-1).sqrt()
    assert abs(factor.mean().item() - 1.0) < 5e-3
    assert abs(factor.std().item() - 0.05) < 5e-3


def test_three_body_sampling_follows_the_paper_recipe():
    system = systems.get("three_body")
    x = system.sample_initial(2000, gen(17), dtype=F64)
    pos = x[:, :6].reshape(-1, 3, 2)
    vel = x[:, 6:].reshape(-1, 3, 2)  # unit masses: p = v
    radius = pos.norm(dim=-1)
    assert radius.min() >= 0.9 and radius.max() <= 1.2
    torch.testing.assert_close(radius, radius[:, :1].expand_as(radius), rtol=1e-14, atol=0)
    # equilateral: bodies 120° apart
    cos_angle = (pos[:, 0] * pos[:, 1]).sum(-1) / radius[:, 0] ** 2
    torch.testing.assert_close(cos_angle, torch.full_like(cos_angle, -0.5), rtol=0, atol=1e-14)
    # circular velocity rot90(q)·r^{-3/2}·3^{-1/4}, each component scaled by 1 + 0.2·U[-1, 1]
    circular = torch.stack([-pos[..., 1], pos[..., 0]], -1) * radius[..., None] ** -1.5 * 3**-0.25
    ratio = vel / circular
    assert ratio.min() >= 0.8 - 1e-12 and ratio.max() <= 1.2 + 1e-12
    assert ratio.min() < 0.81 and ratio.max() > 1.19  # the whole ±20 % range is used
    clean = system.sample_initial(10, gen(18), dtype=F64, orbit_noise=0.0)
    cpos, cvel = clean[:, :6].reshape(-1, 3, 2), clean[:, 6:].reshape(-1, 3, 2)
    crad = cpos.norm(dim=-1, keepdim=True)
    torch.testing.assert_close(cvel, torch.stack([-cpos[..., 1], cpos[..., 0]], -1) * crad**-1.5 * 3**-0.25)


def test_double_pendulum_sampling_ranges():
    system = systems.get("double_pendulum")
    x = system.sample_initial(2000, gen(19), dtype=F64, max_angle=1.0, max_angular_velocity=0.5)
    theta_dot = system.vector_field(x)[:, :2]
    assert x[:, :2].abs().max() <= 1.0 and x[:, :2].abs().max() > 0.99
    assert theta_dot.abs().max() <= 0.5 + 1e-12 and theta_dot.abs().max() > 0.49


# ----------------------------------------------------------------------------- dtype, device, wrap


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ALL_NAMES)
def test_float32_and_device(name, device):
    system = systems.get(name)
    x64 = system.sample_initial(5, gen(20), dtype=F64, device=device)
    x32 = x64.float()
    assert x64.device.type == device
    for fn in (system.hamiltonian, system.vector_field):
        out32, out64 = fn(x32), fn(x64)
        assert out32.dtype == torch.float32 and out32.device.type == device
        # float32 rounding (~1e-7) amplified by at most a few orders in these smooth formulas
        torch.testing.assert_close(out32.double(), out64, rtol=1e-5, atol=1e-5 * out64.abs().max().item())


@pytest.mark.parametrize("name", ["mass_spring", "damped_mass_spring", "pendulum"])
def test_trajectory_float32(name):
    system = systems.get(name)
    x64 = system.sample_initial(3, gen(21), dtype=F64)
    t = torch.linspace(0.0, 1.0, 5)
    out32 = system.trajectory(x64.float(), t)
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), system.trajectory(x64, t.double()), rtol=1e-5, atol=1e-5)


def test_wrap_maps_angles_into_half_open_interval():
    pend = systems.get("pendulum")
    x = torch.tensor([[3 * math.pi, 7.0], [-math.pi, -7.0], [0.5, 1.0], [-5.0, 0.0]], dtype=F64)
    wrapped = pend.wrap(x)
    torch.testing.assert_close(wrapped[:, 1], x[:, 1], rtol=0, atol=0)  # momenta untouched
    assert (wrapped[:, 0] > -math.pi).all() and (wrapped[:, 0] <= math.pi).all()
    torch.testing.assert_close(wrapped[:, 0], torch.tensor([math.pi, math.pi, 0.5, -5.0 + 2 * math.pi],
                                                           dtype=F64), rtol=0, atol=1e-14)
    spring = systems.get("spring")
    assert torch.equal(spring.wrap(x), x)  # nothing periodic


# ----------------------------------------------------------------------------- errors


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown system 'sprng'") as info:
        systems.get("sprng")
    for name in ALL_NAMES:
        assert name in str(info.value)


@pytest.mark.parametrize("name,params,bad", [
    ("mass_spring", {"k": 0.0}, "k"),
    ("mass_spring", {"m": -1.0}, "m"),
    ("damped_mass_spring", {"gamma": -0.1}, "gamma"),
    ("ideal_pendulum", {"l": 0.0}, "l"),
    ("ideal_pendulum", {"m": -2.0}, "m"),
    ("ideal_pendulum", {"g": 0.0}, "g"),
    ("damped_pendulum", {"gamma": -1.0}, "gamma"),
    ("double_pendulum", {"m2": 0.0}, "m2"),
    ("double_pendulum", {"l1": -1.0}, "l1"),
    ("two_body", {"masses": (1.0, 0.0)}, r"masses\[1\]"),
    ("two_body", {"masses": (1.0, 1.0, 1.0)}, "masses"),
    ("three_body", {"G": 0.0}, "G"),
    ("mass_spring", {"k": float("nan")}, "k"),
])
def test_get_bad_params_name_the_parameter(name, params, bad):
    with pytest.raises(ValueError, match=bad):
        systems.get(name, **params)


def test_get_unknown_or_badly_typed_params():
    with pytest.raises(ValueError, match=r"'stiffness'.*accepted: k, m"):
        systems.get("mass_spring", stiffness=1.0)
    with pytest.raises(ValueError, match="'k'.*fixed preset"):
        systems.get("spring", k=2.0)
    with pytest.raises(TypeError, match="m must be a real number"):
        systems.get("ideal_pendulum", m="heavy")
    assert systems.get("damped_pendulum", gamma=0.0).gamma == 0.0  # zero damping is allowed


@pytest.mark.parametrize("name", ALL_NAMES)
def test_wrong_state_shape_names_expected_and_got(name):
    system = systems.get(name)
    bad = torch.zeros(3, system.dim + 1, dtype=F64)
    for fn in (system.hamiltonian, system.vector_field, system.wrap):
        with pytest.raises(ValueError, match=rf"last dimension {system.dim}.*got shape \(3, {system.dim + 1}\)"):
            fn(bad)
    with pytest.raises(ValueError, match=rf"x0 must have last dimension {system.dim}"):
        system.trajectory(bad, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=str(system.dim)):
        system.hamiltonian(torch.tensor(1.0, dtype=F64))
    with pytest.raises(TypeError, match="floating"):
        system.hamiltonian(torch.zeros(2, system.dim, dtype=torch.long))
    if system.separable:
        with pytest.raises(ValueError, match=str(system.dim // 2)):
            system.dH_dq(torch.zeros(3, system.dim, dtype=F64))
