"""Tests of hnn.nn (MLP, energy nets, the learned vector fields) and the thin DynamicsModule that trains them.

Numerical checks run in float64 against autograd references or exact conservation laws; each tolerance is
stated next to its assertion.
"""
from __future__ import annotations

import functools
import math
import subprocess
import sys

import pytest
import torch

import hnn
from hnn.data import DerivativeBatch, WindowBatch
from hnn.models import DynamicsModule
from hnn.nn import MLP, BaselineField, DissipativeField, EnergyNet, HamiltonianField, SeparableEnergyNet, build_field

ALL_FIELDS = (BaselineField, HamiltonianField, DissipativeField)
HNN = HamiltonianField


@pytest.fixture(autouse=True)
def _one_thread():
    """These networks are tiny: one intra-op thread is faster than two, and far faster on a loaded machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _make(cls, dim=2, dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    return cls(dim=dim, hidden_dim=kw.pop("hidden_dim", 16), **kw).to(dtype)


def _autograd_grad(fn, x):
    """Reference ∇fn(x) by plain autograd (fn returns one scalar per row)."""
    xg = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(xg).sum(), xg)
    return g


def _symplectic(g):
    n = g.shape[-1] // 2
    return torch.cat([g[..., n:], -g[..., :n]], dim=-1)


# ---------------------------------------------------------------------------------------------------- hnn.nn
def test_mlp_shapes_init_and_energy_head_has_no_bias():
    torch.manual_seed(0)
    mlp = MLP(3, 5, width=8, depth=3)
    linears = [m for m in mlp.modules() if isinstance(m, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(3, 8), (8, 8), (8, 8), (8, 5)]
    assert isinstance(mlp.layers[1], torch.nn.Tanh)  # tanh is the default activation
    # orthogonal init: a square weight satisfies WᵀW = I (to float32 round-off, 1e-5)
    w = linears[1].weight.detach()
    assert torch.allclose(w.T @ w, torch.eye(8), atol=1e-5)
    # biases keep nn.Linear's default U(±1/√fan_in), as the paper's code (nn_models.MLP) leaves them
    for l in linears:
        bound = 1.0 / math.sqrt(l.in_features)
        assert torch.count_nonzero(l.bias) == l.out_features and float(l.bias.abs().max()) <= bound
    zero = MLP(3, 5, width=8, depth=3, init="orthogonal_zero_bias")
    assert all(torch.count_nonzero(l.bias) == 0 for l in zero.modules() if isinstance(l, torch.nn.Linear))
    assert mlp(torch.randn(4, 7, 3)).shape == (4, 7, 5)
    energy = EnergyNet(4, width=8)
    assert energy.mlp.layers[-1].bias is None
    assert energy(torch.randn(6, 4)).shape == (6,)
    sep = SeparableEnergyNet(4, width=8)
    assert sep.kinetic.mlp.layers[-1].bias is None and sep.potential.mlp.layers[-1].bias is None


def test_nn_bad_input():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*tanh"):
        MLP(2, 2, activation="swish")
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        MLP(2, 2, width=0)
    with pytest.raises(ValueError, match="last dimension 3"):
        MLP(3, 1)(torch.randn(2, 4))
    with pytest.raises(ValueError, match="even state dimension"):
        SeparableEnergyNet(3)


# ---------------------------------------------------------------------------------------------------- fields
def test_hnn_field_is_symplectic_gradient_of_its_hamiltonian():
    model = _make(HNN, dim=4)
    x = torch.randn(32, 4, dtype=torch.float64)
    expected = _symplectic(_autograd_grad(model.hamiltonian, x))
    # same autograd computation in float64: agreement to round-off (1e-12 relative to O(1) values)
    assert torch.allclose(model.vector_field(x), expected, rtol=0, atol=1e-12)
    assert model.hamiltonian(x).shape == (32,)


def test_separable_hnn_structure_and_closed_form_partials():
    model = _make(HNN, dim=4, structure="separable")
    assert model.separable is True
    x = torch.randn(16, 4, dtype=torch.float64)
    q, p = x[:, :2], x[:, 2:]
    grad = _autograd_grad(model.hamiltonian, x)
    # dH_dq / dH_dp are the q and p halves of ∇H (float64 round-off, 1e-12)
    assert torch.allclose(model.dH_dq(q), grad[:, :2], atol=1e-12)
    assert torch.allclose(model.dH_dp(p), grad[:, 2:], atol=1e-12)
    # separability: ∂H/∂q does not change when p changes (exactly, by construction)
    x2 = torch.cat([q, torch.randn_like(p)], dim=-1)
    assert torch.equal(_autograd_grad(model.hamiltonian, x2)[:, :2], grad[:, :2])
    assert torch.allclose(model.vector_field(x), _symplectic(grad), atol=1e-12)
    with pytest.raises(ValueError, match="structure='separable'"):
        _make(HNN, dim=4).dH_dq(q)


@pytest.mark.parametrize("dissipation", ["rayleigh", "mlp"])
def test_dissipative_field_is_symplectic_gradient_minus_dissipation_gradient(dissipation):
    model = _make(DissipativeField, dim=4, dissipation=dissipation)
    assert model.dissipative is True and model.separable is False
    x = torch.randn(32, 4, dtype=torch.float64)
    expected = _symplectic(_autograd_grad(model.hamiltonian, x)) - _autograd_grad(model.dissipation_function, x)
    assert torch.allclose(model.vector_field(x), expected, atol=1e-12)
    # a dissipative field is never handed to a symplectic integrator, whatever its energy net's structure:
    # the net is separable, the flow is not
    separable_net = _make(DissipativeField, dim=4, dissipation=dissipation, structure="separable")
    assert separable_net.structure == "separable" and separable_net.separable is False
    for field in (model, separable_net):
        with pytest.raises(ValueError, match="separable"):
            hnn.integrate(field, x[:2], torch.linspace(0, 1, 3), method="leapfrog")


def test_rayleigh_dissipation_only_removes_energy():
    """With D = ½ pᵀ R p, R = L Lᵀ ⪰ 0: ∂D/∂q = 0, and dH/dt = −∇H·∇D = −(∂H/∂p)ᵀ R p for H = T(p) + V(q).

    For the learned H this rate has no sign in general, so check the exact structure instead: the q-part of
    −∇D is zero, R is symmetric positive semi-definite, and for a quadratic kinetic energy |p|² the power
    −2 pᵀ R p is ≤ 0 (float64 round-off, 1e-15).
    """
    from hnn.nn import RayleighDissipation

    torch.manual_seed(0)
    damping = RayleighDissipation(6).double()
    with torch.no_grad():
        damping.factor.copy_(torch.randn(3, 3, dtype=torch.float64))
    x = torch.randn(100, 6, dtype=torch.float64)
    grad = damping.gradient(x)
    assert torch.equal(grad[:, :3], torch.zeros(100, 3, dtype=torch.float64))
    r = damping.matrix
    assert torch.allclose(r, r.T, atol=0) and torch.linalg.eigvalsh(r).min() >= -1e-12
    power = -(2 * x[:, 3:] * grad[:, 3:]).sum(-1)
    assert power.max() <= 1e-15
    with pytest.raises(ValueError, match="unknown dissipation 'viscous'"):
        DissipativeField(dim=2, dissipation="viscous")


def _roll(field, x, t, **options):
    return hnn.integrate(field, x, t, **{"method": "rk4", **options})


@pytest.mark.parametrize("cls", ALL_FIELDS)
def test_no_grad_and_inference_mode_match_grad_mode_and_keep_no_graph(cls):
    model = _make(cls)
    x = torch.randn(8, 2, dtype=torch.float64)
    t = torch.linspace(0, 1, 6, dtype=torch.float64)
    ref_field, ref_roll = model.vector_field(x).detach(), _roll(model, x, t).detach()
    # Without grad mode an HNN's ∇H comes from explicit backpropagation (MLP.input_gradient) instead of autograd:
    # the same products in float64, but tanh as 2σ(2a) − 1 on the CPU and a different summation order, so the
    # two agree to a few ulp, not bit for bit (rtol 1e-13 is ~500 ulp of headroom over 5 RK4 steps).
    exact = cls is BaselineField
    match = (lambda a, b: torch.equal(a, b)) if exact else (lambda a, b: torch.allclose(a, b, rtol=1e-13, atol=1e-15))
    with torch.no_grad():
        field, roll = model.vector_field(x), _roll(model, x, t)
    assert not field.requires_grad and not roll.requires_grad
    assert match(field, ref_field) and match(roll, ref_roll)
    with torch.inference_mode():
        field, roll = model.vector_field(x), _roll(model, x, t)
    assert match(field, ref_field) and match(roll, ref_roll)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "sin", "relu", "silu", "gelu"])
@pytest.mark.parametrize("depth", [0, 1, 3])
def test_mlp_input_gradient_is_the_autograd_gradient(activation, depth):
    """Explicit backpropagation vs autograd in float64, with non-zero biases and inputs spread widely enough to
    reach tanh/sigmoid saturation and softplus's linear branch (|a| > 20). Equal to 1e-13 relative (rounding of
    a few products of width 7); activations without a closed form here return None (callers use autograd)."""
    torch.manual_seed(depth)
    net = MLP(3, 1, width=7, depth=depth, activation=activation, init="default").double()
    for module in net.layers:
        if isinstance(module, torch.nn.Linear) and module.bias is not None:
            torch.nn.init.normal_(module.bias, std=8.0)
    x = 10.0 * torch.randn(5, 4, 3, dtype=torch.float64)
    reference = _autograd_grad(lambda z: net(z).squeeze(-1), x)
    gradient = net.input_gradient(x)
    if activation in ("silu", "gelu"):
        assert gradient is None
        return
    assert gradient.shape == x.shape and not gradient.requires_grad
    assert torch.allclose(gradient, reference, rtol=1e-13, atol=1e-13 * float(reference.abs().max()))
    assert MLP(3, 2, width=7, depth=depth, activation=activation).input_gradient(x.float()) is None  # not scalar
    # float32 (the CPU tanh as 2σ(2a) − 1 included) against the float64 reference: float32 round-off, 1e-5
    single = net.float().input_gradient(x.float()).double()
    assert torch.allclose(single, reference, rtol=1e-5, atol=1e-5 * float(reference.abs().max()))


@pytest.mark.parametrize("cls", ALL_FIELDS)
def test_module_rollout_is_hnn_integrate_of_its_field_and_float32_works(cls):
    module = DynamicsModule(_make(cls, dtype=torch.float32))
    x = torch.randn(5, 2)
    t = torch.linspace(0, 2, 9)
    out = module.rollout(x, t, method="rk4", dt=0.05)
    assert out.shape == (9, 5, 2) and out.dtype == torch.float32
    assert torch.equal(out, hnn.integrate(module.field, x, t, method="rk4", dt=0.05))
    assert torch.equal(out, hnn.integrate(module, x, t, method="rk4", dt=0.05))  # the module integrates as its field
    assert torch.equal(out[0], x)
    assert module.dim == 2 and module.separable is module.field.separable


def test_hnn_conserves_its_own_hamiltonian_along_its_flow():
    """Any HNN, trained or not, has dH_θ/dt = ∇H·J∇H = 0: an accurate rollout keeps H_θ constant.

    dopri5 at rtol = atol = 1e-11 in float64 over t ∈ [0, 5]: the global error stays ~1e-9, so |ΔH| ≤ 1e-8.
    A baseline MLP (no structure) drifts by orders of magnitude more — the check can fail.
    """
    model = _make(HNN, dim=4, hidden_dim=32)
    x0 = torch.randn(6, 4, dtype=torch.float64)
    t = torch.linspace(0, 5, 21, dtype=torch.float64)
    with torch.no_grad():
        traj = _roll(model, x0, t, method="torchdiffeq:dopri5", rtol=1e-11, atol=1e-11)
        energy = model.hamiltonian(traj)
    assert (energy - energy[0]).abs().max() < 1e-8


def test_separable_hnn_with_leapfrog_has_bounded_energy_error():
    """Leapfrog on a separable learned H: the energy error oscillates at O(h²) without secular drift.

    Max |ΔH| over the last tenth of 2000 steps ≤ 1.5 × the max over the first tenth (bounded), and ≤ 1e-3.
    RK4 on the same H is not symplectic; we only require leapfrog's bound here.
    """
    model = _make(HNN, dim=2, structure="separable", hidden_dim=16)
    x0 = torch.tensor([[0.8, 0.1], [-0.3, 0.6]], dtype=torch.float64)
    t = torch.linspace(0, 100, 2001, dtype=torch.float64)
    with torch.no_grad():
        traj = _roll(model, x0, t, method="leapfrog")
        err = (model.hamiltonian(traj) - model.hamiltonian(x0)).abs()
    first, last = err[1:200].max(), err[-200:].max()
    assert last <= 1.5 * first + 1e-12
    assert err.max() < 1e-3


# ---------------------------------------------------------------------------------------------------- training
@pytest.mark.parametrize("cls", ALL_FIELDS)
def test_every_parameter_gets_a_gradient(cls):
    """No unused parameters (DDP's check): the loss reaches every weight, including through ∇H."""
    module = DynamicsModule(_make(cls))
    x, dxdt = torch.randn(16, 2, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)
    loss = module.loss(DerivativeBatch(x, dxdt))
    assert torch.allclose(loss, torch.mean((module.field.vector_field(x) - dxdt) ** 2), rtol=0, atol=0)
    loss.backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.count_nonzero(p.grad) > 0, name


def test_rollout_loss_is_differentiable_and_matches_manual_rollout():
    module = DynamicsModule(_make(HNN), integrator="rk4")
    t = torch.linspace(0, 0.3, 4, dtype=torch.float64)
    x = torch.randn(5, 4, 2, dtype=torch.float64)
    loss = module.loss(WindowBatch(t, x))
    manual = torch.mean((hnn.integrate(module.field, x[:, 0], t, method="rk4")[1:].transpose(0, 1) - x[:, 1:]) ** 2)
    assert torch.allclose(loss, manual, atol=1e-14)
    loss.backward()
    assert all(p.grad is not None for p in module.parameters())


def test_hnn_learns_the_oscillator_from_derivatives():
    """A small HNN fits ẋ = J∇(q² + p²) from 256 exact samples (float64, 400 Adam steps, lr 1e-2).

    Untrained, the field error is O(1) (mean ẋ² = 4·E[q²+p²] ≈ 2.7); after training the test MSE must be below
    1e-3, i.e. > 3 orders of magnitude better — a broken gradient path or a sign error in J fails this.
    """
    torch.manual_seed(1)
    model = DynamicsModule(HNN(dim=2, hidden_dim=32), optimizer=functools.partial(torch.optim.Adam, lr=1e-2)).double()
    x = (torch.rand(256, 2, dtype=torch.float64) * 2 - 1) * 1.2
    target = lambda s: torch.stack([2 * s[:, 1], -2 * s[:, 0]], dim=-1)  # J∇H for H = q² + p²
    opt = model.configure_optimizers()
    assert opt.param_groups[0]["lr"] == 1e-2  # the injected optimizer is the one that trains
    for _ in range(400):
        opt.zero_grad()
        model.loss(DerivativeBatch(x, target(x))).backward()
        opt.step()
    x_test = (torch.rand(256, 2, dtype=torch.float64) * 2 - 1)
    with torch.no_grad():
        mse = torch.mean((model.vector_field(x_test) - target(x_test)) ** 2)
    assert mse < 1e-3


# ---------------------------------------------------------------------------------------------------- bad input
def test_model_bad_input_messages():
    with pytest.raises(ValueError, match="even dim"):
        HNN(dim=3)
    with pytest.raises(ValueError, match="unknown integrator 'rk5'; choose one of .*'rk4'"):
        DynamicsModule(HNN(dim=2), integrator="rk5")
    with pytest.raises(TypeError, match="optimizer must be a callable"):
        DynamicsModule(HNN(dim=2), optimizer=0.001)
    with pytest.raises(TypeError, match="field must be an nn.Module with vector_field"):
        DynamicsModule(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="dim must be an int >= 1"):
        HNN(dim=0)
    with pytest.raises(TypeError, match="dim must be an int"):
        BaselineField(dim=2.0)
    with pytest.raises(ValueError, match="unknown structure 'sep'"):
        HNN(dim=2, structure="sep")
    model = _make(HNN, dim=2)
    with pytest.raises(ValueError, match="built for state dimension 2, but the state has shape \\(3, 4\\)"):
        model.vector_field(torch.randn(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="has no control input"):
        model.vector_field(torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 1, dtype=torch.float64))
    module = DynamicsModule(model)
    with pytest.raises(ValueError, match="built for state dimension 2"):  # data of another task
        module.training_step(DerivativeBatch(torch.randn(3, 4), torch.randn(3, 4)), 0)
    with pytest.raises(TypeError, match="WindowBatch or ControlWindowBatch, got tuple"):  # no guessing from tensor ranks
        module.training_step((torch.randn(3, 2), torch.randn(3, 2)), 0)


@pytest.mark.parametrize("field", [BaselineField(2, hidden_dim=8, depth=1), HamiltonianField(4, hidden_dim=8),
                                   HamiltonianField(2, hidden_dim=8, depth=3, structure="separable"),
                                   DissipativeField(2, hidden_dim=8, dissipation="mlp"),
                                   EnergyNet(2, width=8, depth=2, activation="silu")],
                         ids=lambda f: type(f).__name__)
def test_a_field_rebuilds_from_its_config_record(field):
    record = field.config()
    assert record["class_path"] == f"hnn.nn.{type(field).__name__}"
    rebuilt = build_field(record)
    assert type(rebuilt) is type(field) and rebuilt.config() == record
    rebuilt.load_state_dict(field.state_dict())  # the same parameters, by name and shape
    x = torch.randn(3, field.dim)
    out = field.vector_field(x) if hasattr(field, "vector_field") else field(x)
    again = rebuilt.vector_field(x) if hasattr(rebuilt, "vector_field") else rebuilt(x)
    assert torch.equal(out, again)


def test_build_field_refuses_classes_outside_hnn_nn_and_malformed_records():
    with pytest.raises(ValueError, match="unknown field class 'os.system'"):
        build_field({"class_path": "os.system", "init_args": {}})
    with pytest.raises(ValueError, match="unknown field class 'hnn.nn.MLP'"):
        build_field({"class_path": "hnn.nn.MLP", "init_args": {}})
    with pytest.raises(ValueError, match="class_path"):
        build_field(["hnn.nn.HamiltonianField"])
    with pytest.raises(ValueError, match="cannot rebuild HamiltonianField"):
        build_field({"class_path": "hnn.nn.HamiltonianField", "init_args": {"dim": 2, "width": 3}})


def test_module_records_the_field_and_the_optimizer_that_trains():
    module = DynamicsModule(HNN(2, hidden_dim=8), optimizer=functools.partial(torch.optim.SGD, lr=0.05),
                            scheduler=functools.partial(torch.optim.lr_scheduler.StepLR, step_size=3))
    assert module.hparams.field == HNN(2, hidden_dim=8).config()
    assert module.hparams.optimizer == {"class_path": "torch.optim.sgd.SGD", "init_args": {"lr": 0.05}}
    assert module.hparams.scheduler["init_args"] == {"step_size": 3}
    configured = module.configure_optimizers()
    assert isinstance(configured["optimizer"], torch.optim.SGD) and configured["optimizer"].param_groups[0]["lr"] == 0.05
    assert isinstance(configured["lr_scheduler"]["scheduler"], torch.optim.lr_scheduler.StepLR)


def test_models_are_exported_and_import_hnn_stays_free_of_lightning():
    import hnn.models as models

    assert set(models.__all__) == {"DynamicsModule", "EnergyModel", "HamiltonianGAN"}
    with pytest.raises(AttributeError):
        models.NotAModel  # noqa: B018
    # ``import hnn`` and ``hnn.integrate`` do not import Lightning (hnn/__init__.py imports it lazily)
    code = ("import sys, torch, hnn; x = hnn.integrate(lambda x: -x, torch.ones(1, 2), [0.0, 1.0]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytorch_lightning', 'lightning')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"
    assert "pytorch_lightning" not in subprocess.run(
        [sys.executable, "-c", "import sys, hnn.nn, hnn.systems, hnn.integrators; print(sorted(sys.modules))"],
        capture_output=True, text=True, timeout=120).stdout  # the physics floors never import Lightning


# ---------------------------------------------------------------------------------------------------- metrics
class _DampedOscillator(torch.nn.Module):
    """dx/dt = J∇H − γx for H = q² + p², so H(x(t)) = H(x0)·exp(−2γt) exactly."""

    def __init__(self, gamma: float) -> None:
        super().__init__()
        self.register_buffer("gamma", torch.tensor(gamma, dtype=torch.float64))

    def vector_field(self, x):
        q, p = x[..., :1], x[..., 1:]
        return torch.cat([2 * p, -2 * q], dim=-1) - self.gamma * x

    def forward(self, x):
        return self.vector_field(x)


def test_energy_mse_matches_the_closed_form_for_a_damped_model():
    """energy MSE = mean_{k,t} (H0_k e^{−2γt} − H0_k)² against the conserved truth H(x(t)) = H0_k.

    dopri5 at rtol = atol = 1e-11 in float64 over ~3 periods: each rollout energy is within ε = 1e-9·H0 of
    H0·e^{−2γt}, so |Δ MSE| ≤ mean(2·|Ĥ − H0|·ε + ε²) — the bound asserted below.
    """
    from hnn.data import ReferenceRollouts
    from hnn.evaluation import evaluate_rollouts

    gamma = 0.05
    x0 = torch.tensor([[0.5, 0.0], [0.0, -0.8], [0.3, 0.4]], dtype=torch.float64)
    t = torch.linspace(0, 10, 50, dtype=torch.float64)
    energy = lambda x: (x ** 2).sum(-1)  # noqa: E731
    angle = 2 * t[:, None]  # the undamped truth: rotation at angular frequency 2
    q0, p0 = x0[:, 0], x0[:, 1]
    truth = torch.stack([q0 * torch.cos(angle) + p0 * torch.sin(angle),
                         -q0 * torch.sin(angle) + p0 * torch.cos(angle)], dim=-1)
    reference = ReferenceRollouts.single(x0, t, truth, energy=energy, conservative=True, energy_label="q² + p²",
                                         description="rotations")
    report = evaluate_rollouts(_DampedOscillator(gamma), reference, rtol=1e-11, atol=1e-11)
    h0 = energy(x0)
    decay = h0 * torch.exp(-2 * gamma * t[:, None]) - h0
    expected = torch.mean(decay ** 2)
    eps = 1e-9 * h0.max()
    assert abs(report.energy_mse - float(expected)) <= float(torch.mean(2 * decay.abs() * eps + eps ** 2))
    # per start: the mean over times of that start's squared error
    assert report.per_start == pytest.approx([float(v) for v in (decay ** 2).mean(dim=0)], rel=1e-6)
    # the energy drift |H(x̂(t)) − H(x̂(0))| of the damped rollout, mean over starts and times: H0·(1 − e^{−2γt})
    assert report.energy_drift == pytest.approx(float(decay.abs().mean()), rel=1e-6)
    # and pointwise: the rollout energy follows the exponential decay to ε
    assert (energy(report.preds[0]) - h0 * torch.exp(-2 * gamma * t[:, None])).abs().max() <= eps
    exact = evaluate_rollouts(_DampedOscillator(0.0), reference, rtol=1e-11, atol=1e-11)
    assert exact.energy_mse < 1e-18 and exact.state_mse < 1e-16  # the undamped model is the truth


def test_lightning_hook_name_bypasses_the_module_registries_and_parameters_still_register():
    model = DynamicsModule(HamiltonianField(2, hidden_dim=8))
    n_params = len(list(model.parameters()))
    model._current_fx_name = "training_step"  # what the trainer sets around each hook
    assert model._current_fx_name == "training_step" and "_current_fx_name" in vars(model)
    assert len(list(model.parameters())) == n_params
    model.extra = torch.nn.Parameter(torch.zeros(3))  # any other name still goes through nn.Module
    assert len(list(model.parameters())) == n_params + 1 and "extra" not in vars(model)
    model._current_fx_name = None
    assert model._current_fx_name is None
