"""Tests of the controlled fields (hnn.nn.controlled): the port-Hamiltonian field and the controlled baseline.

Property checks run in float64 with the independent reference of plain autograd on ``hamiltonian(x)`` (the field
computes ∇H by explicit backpropagation, so the two paths share no derivative code); each tolerance is stated next to
its assertion. The fits use float32 and the batched copy of Pendulum-v1's physics (hnn.systems.gym).
"""
from __future__ import annotations

import math

import pytest
import torch

import hnn
from hnn.data import ControlWindowBatch
from hnn.models import DynamicsModule
from hnn.nn import ControlledBaselineField, PortHamiltonianField, build_field
from hnn.systems.gym import gym_system

F64 = torch.float64


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny networks: one intra-op thread is faster than two, and far faster on a loaded machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _ph(n_q=2, n_u=1, seed=0, dtype=F64, **kw):
    torch.manual_seed(seed)
    kw.setdefault("hidden_dim", 16)
    kw.setdefault("angles", [True] + [False] * (n_q - 1))
    return PortHamiltonianField(n_q, n_u, **kw).to(dtype)


def _randomize(module, scale=1.0, seed=0):
    """Every parameter drawn N(0, scale²): far from the near-identity start, so M(q), B(q), R(q) vary strongly."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def _autograd_grad_H(field, x):
    xg = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(field.hamiltonian(xg).sum(), xg)
    return g


def _states(n, dim, seed=1):
    g = torch.Generator().manual_seed(seed)
    return 2.0 * torch.randn(n, dim, generator=g, dtype=F64)


# ---------------------------------------------------------------------------------------------------- structure
@pytest.mark.parametrize("mass", ["learned", "constant"])
def test_unforced_lossless_field_conserves_H_to_round_off(mass):
    """u = 0, R = 0: f = J∇H, so ∇Hᵀf = ∂H/∂q·∂H/∂p − ∂H/∂p·∂H/∂q = 0.

    ∇H by autograd on hamiltonian(x); the field's own ∇H (explicit backpropagation) agrees to a few ulps, and the
    sum of 2·n_q products then cancels to |∇Hᵀf| ≤ 1e-14·|∇H|·|f| (~45 ulps of the scale; measured ≲ 2e-16).
    """
    field = _randomize(_ph(n_q=3, n_u=2, angles=[True, False, True], mass=mass), scale=0.7)
    x = _states(64, 6)
    u = torch.zeros(64, 2, dtype=F64)
    grad = _autograd_grad_H(field, x)
    with torch.no_grad():
        f = field.vector_field(x, u)
    scale = grad.norm(dim=-1) * f.norm(dim=-1)
    assert bool((scale > 1e-3).all())  # a non-trivial check: the field is far from zero at these states
    assert ((grad * f).sum(-1).abs() <= 1e-14 * scale).all()
    # and f is J∇H itself, entry by entry (relative 1e-13: the two gradient paths round differently)
    n = 3
    assert torch.allclose(f, torch.cat([grad[:, n:], -grad[:, :n]], -1), rtol=1e-13,
                          atol=1e-13 * float(f.detach().abs().max()))


@pytest.mark.parametrize("input_matrix", ["learned", "constant"])
def test_power_balance_dH_dt_is_minus_friction_plus_supplied_power(input_matrix):
    """dH/dt = ∇Hᵀf = −∇HᵀR∇H + ∇HᵀGu with friction on and u ≠ 0, from R = dissipation_matrix, G = port_matrix.

    Tolerance 1e-13 × (|∇HᵀR∇H| + |∇Hᵀ||G u|) per state: both sides are sums of O(dim) products of the same
    magnitudes, so round-off is ~10 ulps of that scale (measured ≲ 1e-16 relative).
    """
    field = _randomize(_ph(n_q=2, n_u=3, dissipation=True, input_matrix=input_matrix), scale=0.7)
    x, u = _states(64, 4), _states(64, 3, seed=2)
    grad = _autograd_grad_H(field, x)
    with torch.no_grad():
        f = field.vector_field(x, u)
        R, G = field.dissipation_matrix(x), field.port_matrix(x)
        dissipated, power_in = field.power_balance(x, u)
    friction = (grad.unsqueeze(-2) @ R @ grad.unsqueeze(-1))[..., 0, 0]
    supplied = (grad.unsqueeze(-2) @ G @ u.unsqueeze(-1))[..., 0, 0]
    dH_dt = (grad * f).sum(-1)
    scale = friction.abs() + grad.norm(dim=-1) * (G @ u.unsqueeze(-1)).norm(dim=(-2, -1))
    assert ((dH_dt - (-friction + supplied)).abs() <= 1e-13 * scale).all()
    # the field's own split of the power agrees, friction only removes energy, and both terms matter here
    assert torch.allclose(dissipated, -friction, rtol=1e-12, atol=1e-14)
    assert torch.allclose(power_in, supplied, rtol=1e-12, atol=1e-14)
    assert bool((friction >= 0).all()) and float(friction.abs().max()) > 1e-2 and float(supplied.abs().max()) > 1e-2
    assert float(torch.linalg.eigvalsh(R).min()) >= -1e-12  # R ⪰ 0 (round-off of D Dᵀ)
    # R and G act on the momenta only
    assert torch.count_nonzero(R[..., :2, :]) == 0 and torch.count_nonzero(R[..., :, :2]) == 0
    assert torch.count_nonzero(G[..., :2, :]) == 0


def test_the_field_is_the_same_function_under_no_grad_and_inference_mode():
    """∇H has no autograd call of its own: grad mode, no_grad and inference_mode give bit-identical results."""
    field = _ph(n_q=2, dissipation=True)
    x, u = _states(8, 4), _states(8, 1, seed=2)
    with_grad = field.vector_field(x, u)
    assert with_grad.requires_grad  # the parameters' graph, for training
    with torch.no_grad():
        no_grad = field.vector_field(x, u)
    with torch.inference_mode():
        inference = field.vector_field(x, u)
    assert not no_grad.requires_grad and torch.equal(no_grad, with_grad.detach())
    assert torch.equal(inference, with_grad.detach())


@pytest.mark.parametrize("activation", ["tanh", "softplus", "sigmoid", "silu", "gelu", "elu", "sin", "relu"])
@pytest.mark.parametrize("depth", [0, 1, 3])
def test_explicit_gradient_is_the_autograd_gradient(activation, depth):
    """The explicit backpropagation of ∂H/∂q through the V and mass nets, for every activation: 1e-12 relative.

    tanh layers are evaluated through sigmoid from 256 rows on, so both the small- and the large-batch path run.
    """
    field = _ph(n_q=2, activation=activation, depth=depth)
    for rows in (8, 300):
        x = _states(rows, 4)
        ref = _autograd_grad_H(field, x)
        assert torch.allclose(field.hamiltonian_gradient(x), ref, rtol=1e-12, atol=1e-12 * float(ref.abs().max()))


def test_inverse_mass_is_positive_definite_for_random_weights():
    """M⁻¹ = LLᵀ + eps·I: symmetric with every eigenvalue ≥ eps, even for large random weights where LLᵀ alone is
    singular to round-off (eigvalsh's error is ~1e-16·λ_max, so ≥ eps·(1 − 1e-6) is a safe bound); M is its inverse
    to 1e-9 (cond(M⁻¹) ≤ λ_max/eps reaches ~1e5 here, times float64 round-off)."""
    field = _randomize(_ph(n_q=3, angles=[True, True, False]), scale=2.0)
    q = _states(2000, 3)
    with torch.no_grad():
        inverse = field.inverse_mass(q)
        eigenvalues = torch.linalg.eigvalsh(inverse)
        assert torch.allclose(inverse, inverse.transpose(-1, -2), rtol=0, atol=0)
        assert float(eigenvalues.min()) >= field.eps * (1 - 1e-6)
        assert float((eigenvalues.amax(-1) / eigenvalues.amin(-1)).max()) > 1e3  # a hard case: far from I
        eye = torch.eye(3, dtype=F64).expand_as(inverse)
        assert torch.allclose(field.mass_matrix(q) @ inverse, eye, atol=1e-9)


@pytest.mark.parametrize("n_q", [1, 3])
def test_encode_decode_round_trip(n_q):
    """decode(encode([q, q̇])) = [q, q̇] (p = M q̇ by a Cholesky solve, q̇ = M⁻¹p by products) to 1e-12: the solve's
    error is ~cond(M⁻¹)·1e-16·|p|, with cond ≤ 300 and |p| ≲ 50 for these weights.

    decode is M⁻¹p = ∂H/∂p, the first half of the field: the observed velocity is the model's dq/dt.
    """
    field = _randomize(_ph(n_q=n_q), scale=0.3)
    s = _states(100, 2 * n_q)
    u = torch.zeros(100, 1, dtype=F64)
    with torch.no_grad():
        x = field.encode(s)
        assert torch.equal(x[:, :n_q], s[:, :n_q])
        assert float((x[:, n_q:] - s[:, n_q:]).abs().max()) > 0.1  # momenta are not velocities here
        assert float((field.decode(x) - s).abs().max()) <= 1e-12
        assert float((field.vector_field(x, u)[:, :n_q] - s[:, n_q:]).abs().max()) <= 1e-12
        assert float((field.encode(field.decode(x)) - x).abs().max()) <= 1e-12


@pytest.mark.parametrize("cls", [PortHamiltonianField, ControlledBaselineField])
def test_fields_are_periodic_in_the_angles_only(cls):
    """f(q + 2πk e_a) = f(q) for angle coordinates a (to 1e-12: cos/sin of a shifted argument round differently);
    shifting a non-angle coordinate changes the field."""
    torch.manual_seed(0)
    field = cls(3, 2, angles=[True, False, True], hidden_dim=16).to(F64)
    x, u = _states(32, 6), _states(32, 2, seed=2)
    shift = torch.zeros(6, dtype=F64)
    shift[0], shift[2] = 2 * math.pi, -4 * math.pi
    other = torch.zeros(6, dtype=F64)
    other[1] = 2 * math.pi
    with torch.no_grad():
        assert torch.allclose(field.vector_field(x + shift, u), field.vector_field(x, u), rtol=1e-12, atol=1e-12)
        assert float((field.vector_field(x + other, u) - field.vector_field(x, u)).abs().max()) > 1e-3


@pytest.mark.parametrize("field", [
    PortHamiltonianField(2, 2, angles=[False, True], hidden_dim=8, mass="constant", dissipation=True),
    PortHamiltonianField(1, 1, hidden_dim=8, depth=1, input_matrix="constant", activation="softplus", eps=1e-2),
    ControlledBaselineField(2, 1, angles=[True, True], hidden_dim=8, depth=3),
], ids=["ph", "ph-constant-B", "baseline"])
def test_a_controlled_field_rebuilds_from_its_config_record(field):
    """build_field(config()) with the copied state_dict gives a bit-identical field (what hnn.load does)."""
    record = field.config()
    assert record["class_path"] == f"hnn.nn.{type(field).__name__}"
    assert all(isinstance(v, (bool, int, float, str, list)) for v in record["init_args"].values())
    rebuilt = build_field(record)
    assert type(rebuilt) is type(field) and rebuilt.config() == record
    rebuilt.load_state_dict(field.state_dict())
    x, u = torch.randn(5, field.dim), torch.randn(5, field.n_u)
    assert torch.equal(rebuilt.vector_field(x, u), field.vector_field(x, u))


# ---------------------------------------------------------------------------------------------------- integration
class _TimeScaled(torch.nn.Module):
    """dx/dτ = s_b · f(x, u), one scale per batch row: implicit midpoint with step 1 on it is implicit midpoint with
    step s_b on f, exactly (x' = x + s_b f((x + x')/2)). One rollout then runs several step sizes at once."""

    def __init__(self, field, scales):
        super().__init__()
        self.field, self.dim = field, field.dim
        self.register_buffer("scales", scales)

    def vector_field(self, x, u=None):
        return self.scales * self.field.vector_field(x, u)


@pytest.mark.slow
def test_implicit_midpoint_energy_error_is_bounded_and_second_order():
    """Implicit midpoint on a non-separable learned H (q-dependent mass), u = 0, R = 0, 10⁴ steps (float64).

    The energy error oscillates without drift: its max over the last quarter of the run is within 5% of the max over
    the first quarter. Its max over the run scales as h²: the least-squares log-log slope over h = 0.1, 0.05, 0.025 is
    2 ± 0.2, for each of two orbits. Newton's tolerance (1e-12 relative) is far below
    the smallest error measured (~1e-5).
    """
    field = _ph(n_q=1, hidden_dim=8, depth=1, input_matrix="constant")
    with torch.no_grad():
        for p in field.mass_net.parameters():
            p.mul_(5.0)  # a clearly q-dependent mass: H is far from separable
    steps = torch.tensor([0.1, 0.05, 0.025], dtype=F64)
    orbits = torch.tensor([[0.5, 0.3], [2.0, -1.5]], dtype=F64)
    x0 = orbits.repeat(len(steps), 1)
    scales = steps.repeat_interleave(len(orbits))[:, None]
    n = 10_000
    with torch.no_grad():
        traj = hnn.integrate(_TimeScaled(field, scales), x0, torch.arange(n + 1, dtype=F64), "implicit_midpoint",
                             u=torch.zeros(len(x0), 1, dtype=F64))
        err = (field.hamiltonian(traj) - field.hamiltonian(x0)).abs()
        mass = field.mass_matrix(traj[..., :1])
    assert float(mass.max() / mass.min()) > 1.2  # the mass does vary along the orbits
    first, last = err[1:n // 4].amax(0), err[-n // 4:].amax(0)
    assert bool((last <= 1.05 * first).all()), (first, last)
    worst = err.amax(0).view(len(steps), len(orbits))
    design = torch.stack([steps.log(), torch.ones_like(steps)], -1)
    slopes = torch.linalg.lstsq(design, worst.log()).solution[0]
    assert bool(((slopes - 2).abs() <= 0.2).all()), slopes


def test_implicit_midpoint_forward_then_backward_returns_to_the_start():
    """Implicit midpoint is symmetric: 200 steps forward (h = 0.05) and 200 back return to x0 to 1e-12.

    Non-separable H (q-dependent mass), u = 0, R = 0, Newton tol 1e-14. One degree of freedom on bounded orbits
    (|x| ≤ 10), so round-off grows only linearly: ~400 steps × 1e-16 × |x| ≈ 1e-13 (measured 6e-14).
    """
    field = _ph(n_q=1)
    with torch.no_grad():
        for p in field.mass_net.parameters():
            p.mul_(5.0)
    x0 = _states(4, 2) * 0.5
    u = torch.zeros(4, 1, dtype=F64)
    t = torch.linspace(0, 10, 201, dtype=F64)
    with torch.no_grad():
        forward = hnn.integrate(field, x0, t, "implicit_midpoint", u=u, tol=1e-14)
        back = hnn.integrate(field, forward[-1], t.flip(0), "implicit_midpoint", u=u, tol=1e-14)
    assert float((forward[-1] - x0).abs().max()) > 1.0 and float(forward.abs().max()) < 10  # moved, stayed bounded
    assert float((back[-1] - x0).abs().max()) <= 1e-12


def test_implicit_midpoint_takes_the_held_input():
    """With u ≠ 0 and friction, implicit midpoint's solution satisfies its own equation x' = x + h f((x+x')/2, u)
    per interval (residual 1e-12), for a per-interval input."""
    field = _ph(n_q=2, n_u=2, dissipation=True)
    x0, t = _states(3, 4) * 0.5, torch.linspace(0, 0.4, 5, dtype=F64)
    u = torch.randn(4, 3, 2, dtype=F64)
    with torch.no_grad():
        traj = hnn.integrate(field, x0, t, "implicit_midpoint", u=u)
        for i in range(4):
            h = float(t[i + 1] - t[i])
            residual = traj[i + 1] - traj[i] - h * field.vector_field(0.5 * (traj[i] + traj[i + 1]), u[i])
            assert float(residual.abs().max()) <= 1e-12


def test_the_separable_variant_runs_symplectic_euler_with_the_input():
    """mass = input_matrix = "constant", no friction: H = ½pᵀM⁻¹p + V(q) and force B u, so symplectic Euler is
    p' = p − h(∇V(q) − B u), q' = q + h M⁻¹p' — exactly (same operations, bit for bit up to 1e-15)."""
    field = _ph(n_q=2, n_u=1, mass="constant", input_matrix="constant")
    assert field.separable and not field.dissipative
    x0 = _states(3, 4) * 0.5
    t = torch.linspace(0, 0.5, 6, dtype=F64)
    u = torch.randn(5, 3, 1, dtype=F64)
    with torch.no_grad():
        traj = hnn.integrate(field, x0, t, "symplectic_euler", u=u)
        q, p = x0[:, :2], x0[:, 2:]
        B, Minv = field.input_gain(q), field.inverse_mass(q)
        for i in range(5):
            p = p - 0.1 * (field.dH_dq(q) - u[i] @ B.T)
            q = q + 0.1 * p @ Minv
            assert torch.allclose(traj[i + 1], torch.cat([q, p], -1), rtol=0, atol=1e-15)
    # any q-dependent part makes the flow non-separable: the splitting methods refuse it, by name
    for kw in ({"mass": "learned"}, {"input_matrix": "learned"}, {"dissipation": True}):
        other = _ph(n_q=2, **{"mass": "constant", "input_matrix": "constant", **kw})
        assert not other.separable
        with pytest.raises(ValueError, match="separable"):
            hnn.integrate(other, x0, t, "leapfrog", u=u)
        with pytest.raises(ValueError, match="separable"):
            other.dH_dq(x0[:, :2])


# ---------------------------------------------------------------------------------------------------- training
def _control_batch(field, batch=6, window=3, dtype=F64, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.linspace(0, 0.1 * (window - 1), window, dtype=dtype)
    x = torch.randn(batch, window, field.dim, generator=g, dtype=dtype)
    u = torch.randn(batch, window - 1, field.n_u, generator=g, dtype=dtype)
    return ControlWindowBatch(t, x, u)


@pytest.mark.parametrize("integrator", ["implicit_midpoint", "rk4"])
def test_dynamics_module_trains_the_port_hamiltonian_field_and_every_parameter_gets_a_gradient(integrator):
    """The rollout loss of a ControlWindowBatch through encode → integrate(u) → decode is finite and reaches every
    parameter: V, the mass net, B(q) and R(q) (no unused parameters, DDP's check)."""
    field = _ph(n_q=2, n_u=2, dissipation=True)
    module = DynamicsModule(field, integrator=integrator)
    assert module.example_input_array[1].shape == (1, 2)
    batch = _control_batch(field)
    loss = module.loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    names = {name.split(".")[1] for name, _ in module.named_parameters()}
    assert names == {"potential_net", "mass_net", "input_net", "dissipation_net"}
    for name, p in module.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()) and torch.count_nonzero(p.grad) > 0, name
    # the loss is the circle/square error of decode(integrate(encode(s0))) against the window
    with torch.no_grad():
        x = hnn.integrate(field, field.encode(batch.x[:, 0]), batch.t, integrator, u=batch.u.transpose(0, 1))
        pred = field.decode(x).transpose(0, 1)
        diff = pred[:, 1:] - batch.x[:, 1:]
        expected = torch.cat([2 * (1 - torch.cos(diff[..., :1])), diff[..., 1:] ** 2], -1).mean()
    assert torch.allclose(loss.detach(), expected, rtol=1e-10, atol=0)
    # one learned env step is the same map
    step = module.transition(batch.x[:, 0], batch.u[:, 0], 0.1)
    assert torch.allclose(step.detach(), pred[:, 1], rtol=1e-10, atol=1e-12)


def test_hnn_load_rebuilds_a_module_with_a_port_hamiltonian_field(tmp_path):
    """A checkpoint of a DynamicsModule with a controlled field loads back (safely, from the file alone) to the same
    learned environment step; an unbatched state and input work too."""
    field = _ph(n_q=2, n_u=1, dissipation=True, dtype=torch.float32)
    module = DynamicsModule(field, integrator="implicit_midpoint")
    path = tmp_path / "ph.ckpt"
    torch.save({"hnn_model_class": "hnn.models.dynamics.DynamicsModule", "hyper_parameters": dict(module.hparams),
                "state_dict": module.state_dict()}, path)
    loaded = hnn.load(path)
    assert type(loaded.field) is PortHamiltonianField and loaded.field.config() == field.config()
    s, u = torch.tensor([0.3, -0.2, 1.0, 0.5]), torch.tensor([0.7])
    with torch.no_grad():
        step = loaded.transition(s, u, 0.05)
        assert step.shape == (4,)
        assert torch.equal(step, module.transition(s, u, 0.05))


def test_dynamics_module_trains_the_controlled_baseline():
    field = ControlledBaselineField(2, 1, angles=[False, True], hidden_dim=16).to(F64)
    module = DynamicsModule(field, integrator="rk4")
    loss = module.loss(_control_batch(field))
    assert torch.isfinite(loss)
    loss.backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.count_nonzero(p.grad) > 0, name


def _pendulum_transitions(n, seed=0):
    """(state, input, next state) of Pendulum-v1 at its dt 0.05 from random states and actions, float32; the
    transitions where the env's velocity clip acted are dropped (no smooth field produces them)."""
    system = gym_system("Pendulum-v1")
    g = torch.Generator().manual_seed(seed)
    state = torch.stack([(2 * torch.rand(n, generator=g, dtype=F64) - 1) * math.pi,
                         (2 * torch.rand(n, generator=g, dtype=F64) - 1) * 6.0], -1)
    u = system.action_to_input((2 * torch.rand(n, 1, generator=g, dtype=F64) - 1) * 2.0)
    nxt, acted = system.constrain(system.free_step(state, u))
    keep = ~acted
    x = torch.stack([state, nxt], 1)[keep].float()
    return ControlWindowBatch(torch.tensor([0.0, system.dt]), x, u[keep][:, None].float())


def _fit(field, integrator, batch, steps, lr=1e-2):
    torch.manual_seed(0)
    module = DynamicsModule(field, integrator=integrator)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    with torch.no_grad():
        before = float(module.loss(batch))
    for _ in range(steps):
        loss = module.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return before, float(module.loss(batch))


def test_port_hamiltonian_field_fits_pendulum_transitions():
    """200 Adam steps (lr 1e-2) on 256 Pendulum-v1 transitions with implicit midpoint cut the loss by > 30×.

    (It levels off near 1e-3: the env steps by symplectic Euler, whose one-step map differs from any flow of a
    ½pᵀM⁻¹(q)p + V(q) field by O(dt²) — see the next test for the env-matched scheme.)
    """
    batch = _pendulum_transitions(256)
    before, after = _fit(PortHamiltonianField(1, 1, angles=[True], hidden_dim=32), "implicit_midpoint", batch, 200)
    assert after < before / 30, (before, after)


def test_the_separable_field_with_the_env_matched_scheme_fits_pendulum_nearly_exactly():
    """Pendulum-v1 is symplectic Euler of H = ½p² − (3g/2l)cos θ with force 3u: the separable field rolled out with
    ``symplectic_euler`` can represent the env's step exactly; 300 Adam steps cut the loss by > 10⁴×."""
    batch = _pendulum_transitions(256)
    field = PortHamiltonianField(1, 1, angles=[True], hidden_dim=32, mass="constant", input_matrix="constant")
    before, after = _fit(field, "symplectic_euler", batch, 300)
    assert after < before / 1e4, (before, after)


# ---------------------------------------------------------------------------------------------------- bad input
def test_bad_input_names_the_problem():
    field = _ph(n_q=2, n_u=2)
    x = torch.zeros(3, 4, dtype=F64)
    with pytest.raises(ValueError, match=r"controlled field.*needs the input u \[\.\.\., 2\]"):
        field.vector_field(x)
    with pytest.raises(ValueError, match=r"controlled field"):
        DynamicsModule(field).vector_field(x)
    with pytest.raises(ValueError, match=r"n_u=2 inputs, but u has shape \(3, 1\)"):
        field.vector_field(x, torch.zeros(3, 1, dtype=F64))
    with pytest.raises(ValueError, match=r"do not broadcast"):
        field.vector_field(x, torch.zeros(4, 2, dtype=F64))
    with pytest.raises(TypeError, match="floating-point"):
        field.vector_field(x, torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        field.vector_field(x, [[0.0, 0.0]] * 3)
    with pytest.raises(ValueError, match="state dimension 4"):
        field.vector_field(torch.zeros(3, 3, dtype=F64), torch.zeros(3, 2, dtype=F64))
    with pytest.raises(ValueError, match=r"n_q=2 coordinates"):
        field.inverse_mass(torch.zeros(3, 3, dtype=F64))
    baseline = ControlledBaselineField(2, 2).to(F64)
    with pytest.raises(ValueError, match="needs the input u"):
        baseline.vector_field(x)
    for cls in (PortHamiltonianField, ControlledBaselineField):
        with pytest.raises(ValueError, match="n_q must be an int >= 1"):
            cls(0)
        with pytest.raises(TypeError, match="n_q must be an int"):
            cls(1.5)
        with pytest.raises(ValueError, match="n_u must be an int >= 1"):
            cls(1, 0)
        with pytest.raises(ValueError, match=r"one flag per coordinate q: n_q=2, got 1"):
            cls(2, angles=[True])
        with pytest.raises(TypeError, match=r"angles\[1\] must be a bool"):
            cls(2, angles=[True, 1])
        with pytest.raises(TypeError, match="angles must be a list"):
            cls(2, angles="TT")
    with pytest.raises(ValueError, match="unknown mass 'diagonal'"):
        PortHamiltonianField(1, mass="diagonal")
    with pytest.raises(ValueError, match="unknown input_matrix"):
        PortHamiltonianField(1, input_matrix="zero")
    with pytest.raises(TypeError, match="dissipation must be a bool"):
        PortHamiltonianField(1, dissipation=1)
    with pytest.raises(ValueError, match="eps must be > 0"):
        PortHamiltonianField(1, eps=0.0)
    with pytest.raises(ValueError, match="separable field"):
        field.input_force(torch.zeros(3, 2, dtype=F64))
