"""Property tests of hnn.integrators in float64 against analytic solutions and high-accuracy references."""
from __future__ import annotations

import math

import pytest
import torch

import hnn
from hnn import systems
from hnn.integrators import available, implicit

DT = torch.float64
ONE_STEP = [name for name, info in available().items() if info.family != "torchdiffeq" and not info.multistep]
OURS = [name for name, info in available().items() if info.family != "torchdiffeq"]
SYMPLECTIC = [n for n in ONE_STEP if available()[n].symplectic]
NON_SYMPLECTIC = [n for n in ONE_STEP if not available()[n].symplectic]


def oscillator_exact(x0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """H = q²/2 + p²/2: q(t) = q0 cos t + p0 sin t, p(t) = p0 cos t − q0 sin t."""
    c, s = torch.cos(t)[:, None], torch.sin(t)[:, None]
    q0, p0 = x0[..., 0], x0[..., 1]
    return torch.stack([q0 * c + p0 * s, p0 * c - q0 * s], dim=-1)


@pytest.fixture(scope="module")
def oscillator():
    return systems.get("mass_spring", k=1.0, m=1.0)


@pytest.fixture(scope="module")
def pendulum():
    return systems.get("pendulum")


def final_error(system, x0, T, method, h, reference):
    out = hnn.integrate(system, x0, torch.tensor([0.0, T], dtype=DT), method=method, dt=h)
    return (out[-1] - reference).abs().max().item()


@pytest.mark.parametrize("method", OURS)
@pytest.mark.parametrize("system_name", ["oscillator", "pendulum"])
def test_empirical_order_matches_nominal(method, system_name, oscillator, pendulum):
    info = available()[method]
    T = 2.0
    x0 = torch.tensor([[0.8, 0.3], [-0.4, 0.9]], dtype=DT)
    if system_name == "oscillator":
        system, reference = oscillator, oscillator_exact(x0, torch.tensor([T], dtype=DT))[-1]
    else:
        # Reference: yoshida6 at dt = 1e-3, error ~1e-16, far below the errors measured here (>= 1e-11).
        system = pendulum
        reference = hnn.integrate(pendulum, x0, torch.tensor([0.0, T], dtype=DT), method="yoshida6", dt=1e-3)[-1]
    # Steps chosen so every error sits between round-off (~1e-13) and the non-asymptotic regime.
    base = {1: 0.02, 2: 0.04, 3: 0.05, 4: 0.1, 6: 0.2}[info.order]
    steps = [base, base / 2, base / 4]
    errors = [final_error(system, x0, T, method, h, reference) for h in steps]
    slopes = [math.log(errors[i] / errors[i + 1]) / math.log(2.0) for i in range(len(errors) - 1)]
    slope = sum(slopes) / len(slopes)
    # Tolerance ±0.3 on the log-log slope (the acceptance criterion).
    assert abs(slope - info.order) <= 0.3, (method, errors, slopes)


def one_step_jacobian(system, x, dt, method, **options):
    def step(state):
        return hnn.integrate(system, state, torch.tensor([0.0, dt], dtype=DT), method=method, **options)[-1]

    # torch.autograd.functional.jacobian rather than torch.func.jacrev: integrate validates its input with
    # data-dependent checks (finiteness) that functorch transforms cannot trace. Same derivative, by reverse mode.
    return torch.autograd.functional.jacobian(step, x)


def symplectic_defect(M: torch.Tensor) -> float:
    n = M.shape[-1] // 2
    eye = torch.eye(n, dtype=DT)
    zero = torch.zeros(n, n, dtype=DT)
    J = torch.cat([torch.cat([zero, eye], 1), torch.cat([-eye, zero], 1)], 0)
    return (M.T @ J @ M - J).abs().max().item()


def test_symplecticity_two_body_splitting_and_explicit():
    """MᵀJM = J for the one-step map on the 8-d two-body problem (ω·dt ≈ 0.5)."""
    system = systems.get("two_body")
    states = system.sample_initial(10, generator=torch.Generator().manual_seed(0), dtype=DT)
    omega = 2 * math.pi / system.orbital_period(states)
    dt = float((0.5 / omega).min())
    for method in ONE_STEP:
        if method in ("implicit_midpoint", "backward_euler"):
            continue  # checked on the double pendulum below
        defects = [symplectic_defect(one_step_jacobian(system, x, dt, method)) for x in states]
        if available()[method].symplectic:
            assert max(defects) <= 1e-10, (method, max(defects))
        else:
            assert min(defects) >= 1e-6, (method, min(defects))


def test_symplecticity_double_pendulum_implicit():
    """Non-separable H: implicit midpoint is symplectic (Newton tol 1e-14), backward Euler is not."""
    system = systems.get("double_pendulum")
    states = system.sample_initial(10, generator=torch.Generator().manual_seed(1), dtype=DT)
    dt = 0.5 / (2 * math.pi / system.normal_mode_periods[1])
    for method in ("implicit_midpoint", "backward_euler"):
        defects = [symplectic_defect(one_step_jacobian(system, x, dt, method, tol=1e-14)) for x in states]
        if available()[method].symplectic:
            assert max(defects) <= 1e-10, (method, max(defects))
        else:
            assert min(defects) >= 1e-6, (method, min(defects))


@pytest.mark.parametrize("method", ["leapfrog", "forest_ruth", "yoshida6"])
def test_time_reversible_to_round_off(method):
    system = systems.get("two_body")
    x0 = system.sample_initial(4, generator=torch.Generator().manual_seed(2), dtype=DT)
    t = torch.linspace(0.0, 5.0, 201, dtype=DT)
    forward = hnn.integrate(system, x0, t, method=method)
    back = hnn.integrate(system, forward[-1], t.flip(0), method=method)
    # 200 steps of round-off at |x| ~ 1: a few hundred ulps.
    assert (back[-1] - x0).abs().max().item() <= 1e-12
    # and with momenta flipped: forward again from (q, −p) retraces the path
    n = x0.shape[-1] // 2
    flipped = torch.cat([forward[-1][..., :n], -forward[-1][..., n:]], -1)
    retrace = hnn.integrate(system, flipped, t, method=method)[-1]
    assert (retrace[..., :n] - x0[..., :n]).abs().max().item() <= 1e-12


def relative_energy_error(method: str, periods: int) -> torch.Tensor:
    """|H(x_k) − H0| / H0 on the oscillator, 8 starting states in one batch, dt = period/20: [steps + 1, 8]."""
    system = systems.get("mass_spring", k=1.0, m=1.0)  # closed-form ∇H (dH_dq, dH_dp, vector_field)
    x0 = system.sample_initial(8, generator=torch.Generator().manual_seed(3), dtype=DT)
    t = torch.arange(0, periods * 20 + 1, dtype=DT) * (system.period / 20)
    H0 = system.hamiltonian(x0)
    with torch.no_grad():
        xs = hnn.integrate(system, x0, t, method=method)
    return (system.hamiltonian(xs) - H0).abs() / H0


def check_energy(method: str, periods: int) -> None:
    dH = relative_energy_error(method, periods)
    tenth = dH.shape[0] // 10
    first, last = dH[:tenth].max().item(), dH[-tenth:].max().item()
    if available()[method].symplectic:
        # Bounded energy error: no growth beyond 20 % between the first and last tenth of the run. The 1e-13 floor
        # is round-off only: implicit midpoint conserves a quadratic H exactly, so its |ΔH| is a random walk of
        # rounding errors, ~√N·ε ≈ 1e-14 after N = 2·10⁵ steps, which "20 % growth" alone would wrongly flag.
        assert last <= 1.2 * first + 1e-13, (method, first, last)
        if method == "implicit_midpoint":  # ... and that exact conservation is itself checked
            assert dH.max().item() <= 1e-12
    elif method == "euler":
        # Explicit Euler multiplies H by (1 + (ω dt)²) every step: after 2·10⁴ steps it overflows to inf, then nan,
        # which counts as (more than) 10× growth over its first-period error.
        euler = torch.nan_to_num(dH, nan=math.inf)
        assert euler[-tenth:].max().item() >= 10 * euler[:21].max().item()
    else:
        # The criterion must discriminate: every non-symplectic method fails it — its error keeps growing, or the
        # energy has drained away (rk3, ab4, backward Euler lose > 99 % of H at this step size).
        assert last > 1.2 * first or last >= 0.99, (method, first, last)


@pytest.mark.parametrize("method", OURS)
def test_energy_over_1000_periods(method):
    check_energy(method, 1000)


@pytest.mark.slow
@pytest.mark.parametrize("method", [name for name in OURS if available()[name].symplectic])
def test_energy_over_10000_periods(method):
    """The symplectic methods stay bounded 10x longer. The non-symplectic ones already fail the bound (or overflow)
    at 1000 periods, which the test above checks, so running them ten times longer would show nothing new."""
    check_energy(method, 10000)


SMALL_DT_TOLERANCE = {1: 5e-3, 2: 2e-5, 3: 1e-7, 4: 1e-9, 5: 1e-9, 6: 1e-9, 8: 1e-9, "dense_output": 1e-5}


@pytest.mark.parametrize("method", sorted(available()))
def test_agrees_with_ground_truth_at_small_dt(method, oscillator):
    solver = method.split(":")[-1]
    if solver in ("scipy_solver", "explicit_adams", "fixed_adams"):
        pytest.skip("torchdiffeq solver without a plain fixed-step interface here")
    x0 = torch.tensor([[0.8, 0.3], [-0.4, 0.9], [0.0, 1.0]], dtype=DT)
    t = torch.linspace(0.0, 1.0, 11, dtype=DT)
    info = available()[method]
    options, dt = {}, 1e-3
    if info.family == "torchdiffeq":
        if solver == "dopri5":
            options, dt, info_order = {"rtol": 1e-11, "atol": 1e-12}, None, 5
        elif solver in ("dopri8", "bosh3", "fehlberg2", "adaptive_heun"):
            # These checks are of our adapter's wiring. torchdiffeq interpolates outputs between its own steps, and
            # that dense output limits the accuracy at t (dopri8: ~1e-7 measured even at rtol 1e-11); low orders
            # would also need ~10⁵ steps for a tight rtol. 1e-5 still catches any wiring error (sign, time, state).
            options, dt, info_order = {"rtol": 1e-8, "atol": 1e-9}, None, "dense_output"
        else:
            info_order = info.order
    else:
        info_order = info.order
    out = hnn.integrate(oscillator, x0, t, method=method, dt=dt, **options)
    assert out.shape == (len(t), 3, 2)
    # Tolerance: the global error bound C·dt^p over t ≤ 1 with C ~ 1 (|x| ≤ 1), rounded up; adaptive: rtol-level.
    assert (out - oscillator_exact(x0, t)).abs().max().item() <= SMALL_DT_TOLERANCE[info_order]


def test_substeps_are_equal_and_never_overshoot(oscillator):
    x0 = torch.tensor([0.3, 0.7], dtype=DT)
    coarse = hnn.integrate(oscillator, x0, [0.0, 1.0], method="rk4", dt=0.3)  # ceil(1/0.3) = 4 steps of 0.25
    fine = hnn.integrate(oscillator, x0, torch.linspace(0, 1, 5, dtype=DT), method="rk4")
    assert torch.equal(coarse[-1], fine[-1])


class LearnedH(torch.nn.Module):
    """A small nonlinear H_θ(x) with parameters, to test graph handling."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        self.double()

    def hamiltonian(self, x):
        return self.net(x).squeeze(-1) + 0.5 * (x**2).sum(-1)


@pytest.mark.parametrize("method", ["rk4", "implicit_midpoint", "torchdiffeq:dopri5"])
def test_no_grad_and_inference_mode_keep_no_graph(method):
    model = LearnedH()
    x0 = torch.randn(5, 2, dtype=DT, generator=torch.Generator().manual_seed(4))
    t = torch.linspace(0, 1, 6, dtype=DT)
    with torch.no_grad():
        a = hnn.integrate(model, x0, t, method=method)
    with torch.inference_mode():
        b = hnn.integrate(model, x0, t, method=method)
    assert not a.requires_grad and not b.requires_grad
    assert torch.allclose(a, b, atol=1e-12)
    c = hnn.integrate(model, x0, t, method=method)
    assert c.requires_grad  # trainable parameters + grad mode: differentiable rollout


@pytest.mark.parametrize("method", ["rk4", "leapfrog_separable", "implicit_midpoint", "backward_euler", "ab4"])
def test_rollout_gradients_match_finite_differences(method):
    """gradcheck (float64 central differences, atol 1e-5 / rtol 1e-3) of the rollout w.r.t. x0 and θ."""
    model = LearnedH()
    x0 = torch.randn(3, 2, dtype=DT, generator=torch.Generator().manual_seed(5)).requires_grad_(True)
    t = torch.linspace(0, 0.5, 6, dtype=DT)
    if method == "leapfrog_separable":
        system = systems.get("pendulum")
        assert torch.autograd.gradcheck(lambda x: hnn.integrate(system, x, t, method="leapfrog"), (x0,))
        return
    options = {"tol": 1e-13} if available()[method].implicit else {}

    def rollout(x):
        return hnn.integrate(model, x, t, method=method, **options)

    assert torch.autograd.gradcheck(rollout, (x0,))
    # Parameter gradient: autograd vs a central difference along a random direction of the first weight matrix.
    weight = model.net[0].weight
    x_fixed = x0.detach()
    (g,) = torch.autograd.grad(rollout(x_fixed).pow(2).sum(), weight)
    direction = torch.randn(weight.shape, dtype=DT, generator=torch.Generator().manual_seed(6))
    w0, eps, values = weight.detach().clone(), 1e-6, []
    for sign in (1.0, -1.0):
        with torch.no_grad():
            weight.copy_(w0 + sign * eps * direction)
            values.append(rollout(x_fixed).pow(2).sum().item())
    with torch.no_grad():
        weight.copy_(w0)
    numeric = (values[0] - values[1]) / (2 * eps)
    # central-difference truncation ~eps² ≈ 1e-12 plus round-off ~ε·|f|/eps ≈ 1e-10: 1e-6 relative is safe
    assert abs((g * direction).sum().item() - numeric) <= 1e-6 * max(1.0, abs(numeric))


# ---------------------------------------------------------------- bad input
def test_bad_inputs_name_the_problem(oscillator):
    x0 = torch.tensor([[0.1, 0.2]], dtype=DT)
    t = torch.linspace(0, 1, 5, dtype=DT)
    with pytest.raises(ValueError, match="unknown integration method 'rk5'.*rk4"):
        hnn.integrate(oscillator, x0, t, method="rk5")
    with pytest.raises(ValueError, match="even last dimension"):
        hnn.integrate(LearnedH(), torch.zeros(2, 3, dtype=DT), t)
    with pytest.raises(ValueError, match="dimension mismatch"):
        hnn.integrate(systems.get("two_body"), torch.zeros(2, 4, dtype=DT), t)
    with pytest.raises(ValueError, match="non-finite"):
        hnn.integrate(oscillator, torch.tensor([[float("nan"), 0.0]], dtype=DT), t)
    with pytest.raises(ValueError, match="strictly monotone"):
        hnn.integrate(oscillator, x0, torch.tensor([0.0, 0.5, 0.5, 1.0], dtype=DT))
    with pytest.raises(ValueError, match="uniformly spaced"):
        hnn.integrate(oscillator, x0, torch.tensor([0.0, 0.1, 0.3], dtype=DT), method="ab4")
    with pytest.raises(ValueError, match="separable"):
        hnn.integrate(systems.get("double_pendulum"), torch.zeros(1, 4, dtype=DT), t, method="leapfrog")
    with pytest.raises(ValueError, match="separable"):
        hnn.integrate(lambda x: -x, x0, t, method="yoshida6")
    with pytest.raises(ValueError, match="dt must be"):
        hnn.integrate(oscillator, x0, t, dt=-0.1)
    with pytest.raises(TypeError, match="floating-point"):
        hnn.integrate(oscillator, torch.zeros(1, 2, dtype=torch.long), t)


def test_implicit_failure_names_step_and_count():
    system = systems.get("double_pendulum")
    x0 = system.sample_initial(6, generator=torch.Generator().manual_seed(7), dtype=DT)
    with pytest.raises(implicit.ConvergenceError, match=r"step 0 .*for \d+ of 6 batch elements"):
        hnn.integrate(system, x0, [0.0, 0.5], method="implicit_midpoint", max_iters=1, tol=1e-15)


def test_vector_field_callables_with_and_without_time():
    x0 = torch.tensor([1.0, 0.0], dtype=DT)
    t = torch.linspace(0, 1, 3, dtype=DT)
    a = hnn.integrate(lambda x: torch.stack([x[..., 1], -x[..., 0]], -1), x0, t, dt=1e-3)
    b = hnn.integrate(lambda s, x: torch.stack([x[..., 1], -x[..., 0]], -1), x0, t, dt=1e-3)
    assert torch.equal(a, b)
    # time-dependent field: dx/dt = t → x(t) = t²/2 exactly for rk4
    c = hnn.integrate(lambda s, x: torch.ones_like(x) * s, torch.zeros(1, dtype=DT), t, method="rk4")
    assert torch.allclose(c[:, 0], t**2 / 2, atol=1e-14)


def test_float32_and_batch_shapes(pendulum):
    x0 = torch.randn(3, 4, 2, generator=torch.Generator().manual_seed(8))
    out = hnn.integrate(pendulum, x0, torch.linspace(0, 1, 7), method="leapfrog")
    assert out.shape == (7, 3, 4, 2) and out.dtype == torch.float32


@pytest.mark.parametrize("method", ["backward_euler", "implicit_midpoint"])
def test_implicit_newton_recovers_from_a_stale_matrix(method, pendulum):
    """Regression: at q0 = 2, h = T/8 a reused Newton matrix once sent backward Euler to q ≈ π and it never
    converged; a reused matrix must now give way to a full Newton step when it stops contracting."""
    x0 = torch.tensor([[2.0, 0.0]], dtype=DT)
    h = float(pendulum.period_of(x0)) / 8
    out = hnn.integrate(pendulum, x0, torch.arange(0, 17, dtype=DT) * h, method=method)
    assert bool(torch.isfinite(out).all())
    # each step solves its equation: check the backward-Euler / midpoint residual directly
    c = 0.5 if method == "implicit_midpoint" else 1.0
    z = out[:-1] + c * (out[1:] - out[:-1])
    residual = out[1:] - out[:-1] - h * pendulum.vector_field(z)
    assert residual.abs().max().item() <= 1e-10


# ---------------------------------------------------------------------------------------------------- inputs (ZOH)
class _DrivenOscillator(torch.nn.Module):
    """H = (q² + p²)/2 driven by a force u on p: dq/dt = p, dp/dt = −q + u (separable, force G u = u)."""

    separable = True
    dim = 2

    def hamiltonian(self, x):
        return 0.5 * (x ** 2).sum(-1)

    def dH_dq(self, q):
        return q

    def dH_dp(self, p):
        return p

    def input_force(self, u):
        return u

    def vector_field(self, x, u=None):
        q, p = x[..., :1], x[..., 1:]
        force = torch.zeros_like(q) if u is None else u
        return torch.cat([p, -q + force], dim=-1)


def _driven_exact(x0, t, u):
    """Piecewise closed form: on each interval, q − u rotates at unit frequency."""
    states = [x0]
    q, p = x0[..., 0], x0[..., 1]
    for i in range(len(t) - 1):
        h, ui = float(t[i + 1] - t[i]), u[i][..., 0]
        c, s = math.cos(h), math.sin(h)
        q, p = ui + (q - ui) * c + p * s, -(q - ui) * s + p * c
        states.append(torch.stack([q, p], dim=-1))
    return torch.stack(states)


def test_zero_order_hold_input_matches_the_piecewise_exact_solution():
    """dopri5 at rtol = atol = 1e-12 per interval (float64) against the closed form: agreement to 1e-9."""
    torch.manual_seed(0)
    x0 = torch.randn(4, 2, dtype=torch.float64)
    t = torch.linspace(0, 3, 7, dtype=torch.float64)
    u = torch.randn(6, 4, 1, dtype=torch.float64)
    exact = _driven_exact(x0, t, u)
    out = hnn.integrate(_DrivenOscillator(), x0, t, method="torchdiffeq:dopri5", u=u, rtol=1e-12, atol=1e-12)
    assert torch.allclose(out, exact, atol=1e-9, rtol=0)
    # rk4 at dt = 0.01 has a global error ~ dt⁴ ~ 1e-8 over these 3 time units
    assert torch.allclose(hnn.integrate(_DrivenOscillator(), x0, t, method="rk4", dt=0.01, u=u), exact, atol=1e-7)
    # a constant input [..., m] is the same as repeating it on every interval (bit for bit: same ops)
    constant = u[0]
    assert torch.equal(hnn.integrate(_DrivenOscillator(), x0, t, method="rk4", u=constant),
                       hnn.integrate(_DrivenOscillator(), x0, t, method="rk4", u=constant.expand(6, 4, 1)))


def test_splitting_methods_add_the_inputs_force_to_their_kicks():
    """Symplectic Euler with a held force: p' = p − h(∂V/∂q − G u), q' = q + h ∂T/∂p(p') — exactly."""
    torch.manual_seed(1)
    x0 = torch.randn(3, 2, dtype=torch.float64)
    t = torch.linspace(0, 1, 6, dtype=torch.float64)
    u = torch.randn(5, 3, 1, dtype=torch.float64)
    out = hnn.integrate(_DrivenOscillator(), x0, t, method="symplectic_euler", u=u)
    q, p = x0[:, :1], x0[:, 1:]
    for i in range(5):
        h = float(t[i + 1] - t[i])
        p = p.add(q - u[i], alpha=-h)  # the same floating-point operations as the stepper
        q = q.add(p, alpha=h)
        assert torch.equal(out[i + 1], torch.cat([q, p], dim=-1))
    # leapfrog is second order with the held force too: halving dt cuts the error against the exact flow ~4x
    exact = _driven_exact(x0, t, u)
    errors = [float((hnn.integrate(_DrivenOscillator(), x0, t, method="leapfrog", dt=dt, u=u) - exact).abs().max())
              for dt in (0.02, 0.01)]
    assert 3.5 < errors[0] / errors[1] < 4.5


def test_the_rollout_is_differentiable_with_respect_to_the_input():
    """d q(T) / d u for a constant input: autograd through rk4 against a central finite difference (float64)."""
    x0 = torch.tensor([[0.3, -0.1]], dtype=torch.float64)
    t = torch.linspace(0, 2, 21, dtype=torch.float64)
    u = torch.tensor([[0.4]], dtype=torch.float64, requires_grad=True)
    final = hnn.integrate(_DrivenOscillator(), x0, t, method="rk4", u=u)[-1, 0, 0]
    (grad,) = torch.autograd.grad(final, u)
    eps = 1e-6
    with torch.no_grad():
        plus = hnn.integrate(_DrivenOscillator(), x0, t, method="rk4", u=u + eps)[-1, 0, 0]
        minus = hnn.integrate(_DrivenOscillator(), x0, t, method="rk4", u=u - eps)[-1, 0, 0]
    assert float(grad) == pytest.approx(float((plus - minus) / (2 * eps)), rel=1e-7)
    assert float(grad) == pytest.approx(1 - math.cos(2.0), rel=1e-5)  # the exact sensitivity of q(T) to u


def test_bad_inputs_are_clear_errors():
    x0 = torch.zeros(2, 2, dtype=torch.float64)
    t = torch.linspace(0, 1, 4, dtype=torch.float64)
    field = _DrivenOscillator()
    with pytest.raises(ValueError, match="needs 3 rows for 4 times"):
        hnn.integrate(field, x0, t, u=torch.zeros(2, 2, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="u must be"):
        hnn.integrate(field, x0, t, u=torch.zeros(1, dtype=torch.float64))
    with pytest.raises(ValueError, match="do not broadcast"):
        hnn.integrate(field, x0, t, u=torch.zeros(3, 1, dtype=torch.float64))
    with pytest.raises(TypeError, match="floating-point"):
        hnn.integrate(field, x0, t, u=torch.zeros(2, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="non-finite"):
        hnn.integrate(field, x0, t, u=torch.full((2, 1), float("nan"), dtype=torch.float64))
    with pytest.raises(TypeError, match="vector_field\\(x, u\\)"):
        hnn.integrate(lambda x: -x, x0, t, u=torch.zeros(2, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="multistep method 'ab4'"):
        hnn.integrate(field, x0, t, method="ab4", u=torch.zeros(3, 2, 1, dtype=torch.float64))

    class NoForce(_DrivenOscillator):
        input_force = None

    with pytest.raises(ValueError, match="input_force"):
        hnn.integrate(NoForce(), x0, t, method="leapfrog", u=torch.zeros(2, 1, dtype=torch.float64))
