"""Tests for hnn.optim: Marín's Hamiltonian-inspired optimizer (Algorithm 1), its loss (Algorithm 2), the 1/√t
schedule, and their use from Lightning / LightningCLI."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import io
import math

import pytest
import torch

from hnn.optim import HamiltonianOptimizer, InverseSqrtLR, hamiltonian_loss

DTYPES = [torch.float32, torch.float64]
# Relative tolerances for comparing against hand-computed values: a few ulps of the dtype (the update is a
# handful of flops, so nothing should differ by more than ~10 rounding errors).
RTOL = {torch.float32: 1e-6, torch.float64: 1e-14}


def _set_grads(params: list[torch.Tensor], grads: list[list[float]]) -> None:
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g, dtype=p.dtype)


# ----------------------------------------------------------------------------------------------------------------
# Algorithm 1 on hand-computed examples
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_two_steps_match_hand_computed_formula(dtype: torch.dtype, foreach: bool) -> None:
    # Tensor a (group 1: lr 0.1, β 0.5), tensor b (group 2: lr 0.2, β 0.5), ε = 1e-8.
    a = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=dtype))
    b = torch.nn.Parameter(torch.tensor([0.5], dtype=dtype))
    eps = 1e-8
    opt = HamiltonianOptimizer(
        [{"params": [a]}, {"params": [b], "lr": 0.2}], lr=0.1, beta=0.5, eps=eps, foreach=foreach
    )

    # Step 1. a: g = (2, 6) -> v = 0.5·0 + 0.5·g = (1, 3); K = ½·10 = 5, V = ½·40 = 20, H = 25, √H = 5.
    #         a ← (1, 2) − 0.1·(1, 3)/(5 + ε).
    #         b: g = 4 -> v = 2; K = 2, V = 8, H = 10;  b ← 0.5 − 0.2·2/(√10 + ε).
    _set_grads([a, b], [[2.0, 6.0], [4.0]])
    opt.step()
    a1 = [1.0 - 0.1 * 1.0 / (5.0 + eps), 2.0 - 0.1 * 3.0 / (5.0 + eps)]
    b1 = [0.5 - 0.2 * 2.0 / (math.sqrt(10.0) + eps)]
    torch.testing.assert_close(a.detach(), torch.tensor(a1, dtype=dtype), rtol=RTOL[dtype], atol=0.0)
    torch.testing.assert_close(b.detach(), torch.tensor(b1, dtype=dtype), rtol=RTOL[dtype], atol=0.0)

    # Step 2. a: g = (3, 1) -> v = 0.5·(1, 3) + 0.5·(3, 1) = (2, 2); K = 4, V = 5, H = 9, √H = 3.
    #         a ← a1 − 0.1·(2, 2)/(3 + ε).
    #         b: g = 0 -> v = 1; K = ½, V = 0, H = ½;  b ← b1 − 0.2·1/(√½ + ε)   (the √2·η maximum step).
    _set_grads([a, b], [[3.0, 1.0], [0.0]])
    opt.step()
    a2 = [a1[0] - 0.1 * 2.0 / (3.0 + eps), a1[1] - 0.1 * 2.0 / (3.0 + eps)]
    b2 = [b1[0] - 0.2 * 1.0 / (math.sqrt(0.5) + eps)]
    torch.testing.assert_close(a.detach(), torch.tensor(a2, dtype=dtype), rtol=RTOL[dtype], atol=0.0)
    torch.testing.assert_close(b.detach(), torch.tensor(b2, dtype=dtype), rtol=RTOL[dtype], atol=0.0)
    torch.testing.assert_close(opt.state[a]["momentum"], torch.tensor([2.0, 2.0], dtype=dtype))
    assert a.dtype == dtype and opt.state[a]["momentum"].dtype == dtype


def test_energies_are_per_tensor_not_global() -> None:
    # Scaling one tensor's gradient by 10⁶ must not change the other tensor's update (a global H would shrink it).
    def first_tensor_after_step(scale_of_second: float) -> torch.Tensor:
        a = torch.nn.Parameter(torch.tensor([1.0, -1.0], dtype=torch.float64))
        b = torch.nn.Parameter(torch.tensor([3.0], dtype=torch.float64))
        opt = HamiltonianOptimizer([a, b], lr=0.1, beta=0.9)
        _set_grads([a, b], [[0.3, 0.4], [scale_of_second]])
        opt.step()
        return a.detach().clone()

    torch.testing.assert_close(first_tensor_after_step(1.0), first_tensor_after_step(1e6), rtol=0.0, atol=0.0)


def test_params_without_grad_are_untouched_and_get_no_state() -> None:
    a = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    frozen = torch.nn.Parameter(torch.tensor([5.0]))
    opt = HamiltonianOptimizer([a, frozen], lr=0.1)
    a.grad = torch.tensor([1.0, 1.0])
    opt.step()
    assert frozen.item() == 5.0 and frozen not in opt.state
    assert not torch.equal(a.detach(), torch.tensor([1.0, 2.0]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_foreach_and_single_tensor_paths_agree(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model_a = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).to(dtype)
    model_b = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).to(dtype)
    model_b.load_state_dict(model_a.state_dict())
    opt_a = HamiltonianOptimizer(model_a.parameters(), lr=0.01, foreach=False)
    opt_b = HamiltonianOptimizer(model_b.parameters(), lr=0.01, foreach=True)
    x = torch.randn(16, 3, dtype=dtype)
    for _ in range(20):
        for model, opt in ((model_a, opt_a), (model_b, opt_b)):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
    # Same formula, different summation order inside the norms: agreement to ~100 ulps after 20 steps.
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=100 * torch.finfo(dtype).eps, atol=100 * torch.finfo(dtype).eps)


def test_closure_is_evaluated_once_and_its_loss_returned() -> None:
    theta = torch.nn.Parameter(torch.tensor([2.0, -1.0], dtype=torch.float64))
    opt = HamiltonianOptimizer([theta], lr=0.1, beta=0.0)
    calls = []

    def closure() -> torch.Tensor:
        calls.append(1)
        opt.zero_grad()
        loss = 0.5 * theta.pow(2).sum()
        loss.backward()
        return loss

    with torch.no_grad():  # step must enable grad for the closure itself
        loss = opt.step(closure)
    assert len(calls) == 1 and loss.item() == pytest.approx(2.5)
    # β = 0: v = g = θ, √H = ‖g‖ = √5, so θ ← θ(1 − 0.1/(√5 + ε)).
    expected = torch.tensor([2.0, -1.0], dtype=torch.float64) * (1.0 - 0.1 / (math.sqrt(5.0) + 1e-8))
    torch.testing.assert_close(theta.detach(), expected, rtol=1e-14, atol=0.0)


def test_sparse_gradients_are_rejected_with_a_clear_message() -> None:
    embedding = torch.nn.Embedding(10, 3, sparse=True)
    opt = HamiltonianOptimizer(embedding.parameters(), lr=0.1)
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(TypeError, match="sparse gradients"):
        opt.step()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lr": -1e-3}, ValueError, "learning rate"),
        ({"lr": float("nan")}, ValueError, "learning rate"),
        ({"lr": float("inf")}, ValueError, "learning rate"),
        ({"lr": "0.1"}, TypeError, "lr must be a real number"),
        ({"beta": -0.1}, ValueError, "0 <= beta < 1"),
        ({"beta": 1.0}, ValueError, "0 <= beta < 1"),
        ({"beta": 1.5}, ValueError, "0 <= beta < 1"),
        ({"beta": float("nan")}, ValueError, "0 <= beta < 1"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": -1e-8}, ValueError, "eps"),
        ({"foreach": "yes"}, TypeError, "foreach"),
    ],
)
def test_invalid_hyperparameters_are_rejected(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        HamiltonianOptimizer([torch.nn.Parameter(torch.zeros(2))], **kwargs)


def test_invalid_hyperparameters_in_a_param_group_are_rejected() -> None:
    with pytest.raises(ValueError, match="0 <= beta < 1"):
        HamiltonianOptimizer([{"params": [torch.nn.Parameter(torch.zeros(2))], "beta": 1.0}])
    opt = HamiltonianOptimizer([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(ValueError, match="learning rate"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": -0.5})


def test_boundary_hyperparameters_are_accepted() -> None:
    HamiltonianOptimizer([torch.nn.Parameter(torch.zeros(2))], lr=0.0, beta=0.0, eps=1e-30)
    HamiltonianOptimizer([torch.nn.Parameter(torch.zeros(2))], lr=torch.tensor(0.01))


def test_state_dict_round_trip_resumes_identically() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    x = torch.randn(8, 2, dtype=torch.float64)

    def train(model: torch.nn.Module, opt: torch.optim.Optimizer, steps: int) -> None:
        for _ in range(steps):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()

    opt = HamiltonianOptimizer(
        [{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.02}], lr=0.05, beta=0.8
    )
    train(model, opt, 5)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)  # the state dict holds only tensors and plain values

    resumed_model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    resumed_model.load_state_dict(saved["model"])
    resumed_opt = HamiltonianOptimizer(
        [{"params": resumed_model[0].parameters()}, {"params": resumed_model[2].parameters(), "lr": 0.02}], lr=0.05
    )
    resumed_opt.load_state_dict(saved["optimizer"])
    assert resumed_opt.param_groups[0]["beta"] == 0.8 and resumed_opt.param_groups[1]["lr"] == 0.02

    train(model, opt, 5)
    train(resumed_model, resumed_opt, 5)
    for p, q in zip(model.parameters(), resumed_model.parameters()):
        torch.testing.assert_close(p, q, rtol=0.0, atol=0.0)  # same ops in the same order: bitwise equal


# ----------------------------------------------------------------------------------------------------------------
# Behaviour on a convex quadratic L(θ) = ½ (θ − θ*)ᵀ A (θ − θ*)
# ----------------------------------------------------------------------------------------------------------------


def _quadratic(dim: int = 5, condition: float = 10.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """SPD matrix A with eigenvalues log-spaced in [1, condition] and a random minimiser θ* (float64)."""
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(dim, dim, dtype=torch.float64, generator=generator))
    eigenvalues = torch.logspace(0.0, math.log10(condition), dim, dtype=torch.float64)
    return q @ torch.diag(eigenvalues) @ q.T, torch.randn(dim, dtype=torch.float64, generator=generator)


def _run_quadratic(
    theta0: torch.Tensor,
    a: torch.Tensor,
    theta_star: torch.Tensor,
    steps: int,
    scale: float = 1.0,
    schedule: bool = False,
    **optimizer_kwargs: float,
) -> tuple[list[float], list[float]]:
    """Run the optimizer on scale·L; return ‖θ_t − θ*‖ and the step lengths ‖θ_t − θ_{t−1}‖ for t = 1..steps."""
    theta = torch.nn.Parameter(theta0.clone())
    opt = HamiltonianOptimizer([theta], **optimizer_kwargs)
    scheduler = InverseSqrtLR(opt) if schedule else None
    distances, step_lengths = [], []
    for _ in range(steps):
        opt.zero_grad()
        delta = theta - theta_star
        (0.5 * scale * delta @ a @ delta).backward()
        before = theta.detach().clone()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        step_lengths.append((theta.detach() - before).norm().item())
        distances.append((theta.detach() - theta_star).norm().item())
    return distances, step_lengths


@pytest.mark.parametrize("scale", [1e-4, 1.0, 1e4])
def test_step_length_is_eta_whatever_the_gradient_size(scale: float) -> None:
    a, theta_star = _quadratic()
    lr = 1e-2
    # Start 100 away, so over 300 steps of length ~η the gradient barely changes and v catches up with g.
    _, step_lengths = _run_quadratic(theta_star + 100.0, a, theta_star, steps=300, scale=scale, lr=lr, beta=0.9)
    # Step 1 is exactly η(1−β)√2/√((1−β)²+1) (v₁ = (1−β)g, no bias correction); ε/√H ≤ 1e-8/1e-2 is negligible.
    assert step_lengths[0] == pytest.approx(lr * 0.1 * math.sqrt(2.0) / math.sqrt(1.01), rel=1e-6)
    # After warm-up (β^100 ≈ 3e-5) ‖v‖ ≈ ‖g‖, so ‖Δθ‖ = η√2‖v‖/‖(v, g)‖ ≈ η; the lag of the moving average on
    # a gradient that changes by ~κη/100 per step keeps the ratio within ~1e-3, so 1% is a safe tolerance.
    for length in step_lengths[100:]:
        assert length == pytest.approx(lr, rel=1e-2)
    # Hard bound ‖Δθ‖ ≤ √2·η for every step (equality only when g = 0).
    assert max(step_lengths) <= math.sqrt(2.0) * lr * (1.0 + 1e-12)


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("lr", [1e-1, 1e-2])
def test_constant_lr_stalls_within_two_eta(lr: float, beta: float) -> None:
    a, theta_star = _quadratic(condition=10.0)
    # The initial distance √5 ≈ 2.2 takes ≥ 2.2/η steps of length ≤ η (plus the momentum warm-up). Measured for
    # β = 0.9, η = 0.1: first entry into the 2η ball at step 39, then an overshoot to 3.4η (the momentum carried
    # in) that has died out by step 80. So allow a transient of 10/η steps (4.5× the transit), then watch 1000.
    steps = int(10.0 / lr) + 1000
    distances, _ = _run_quadratic(theta_star + 1.0, a, theta_star, steps=steps, lr=lr, beta=beta)
    late = distances[-1000:]
    # Normalised steps of length ≈ η cannot settle: the iterate rattles around θ* at a radius set by η alone
    # (the dynamics of θ/η do not depend on the loss scale). Measured on this problem: max over the last 1000
    # steps ≈ 0.50η (β=0), 1.39η (β=0.5), 1.63η (β=0.9); the bound is 2η.
    assert max(late) <= 2.0 * lr
    # ... and it does stall there: it keeps moving at a distance that is a sizeable fraction of η, not → 0.
    assert max(late) >= 0.25 * lr


@pytest.mark.parametrize("beta", [0.0, 0.9])
def test_inverse_sqrt_schedule_converges_to_1e_3(beta: float) -> None:
    a, theta_star = _quadratic(condition=10.0)
    # η_t = 0.05/√t: it can travel Σ η_t ≈ 2·0.05·√10⁴ = 10 ≫ the initial distance √5, and at t = 10⁴ the rattle
    # radius is ≲ 2·η_t = 2·0.05/100 = 1e-3.
    distances, _ = _run_quadratic(theta_star + 1.0, a, theta_star, steps=10_000, schedule=True, lr=0.05, beta=beta)
    assert min(distances) <= 1e-3
    assert distances[-1] <= 1e-3
    # The same η₀ held constant stalls far above 1e-3 (the contrast the schedule exists for).
    constant, _ = _run_quadratic(theta_star + 1.0, a, theta_star, steps=2_000, lr=0.05, beta=beta)
    assert max(constant[-500:]) > 1e-2


# ----------------------------------------------------------------------------------------------------------------
# InverseSqrtLR
# ----------------------------------------------------------------------------------------------------------------


def _lrs(scheduler: InverseSqrtLR, optimizer: torch.optim.Optimizer, steps: int) -> list[float]:
    seen = []
    for _ in range(steps):
        seen.append(optimizer.param_groups[0]["lr"])  # the lr used by this optimizer step
        optimizer.step()
        scheduler.step()
    return seen


def test_inverse_sqrt_lr_values() -> None:
    opt = HamiltonianOptimizer([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    lrs = _lrs(InverseSqrtLR(opt), opt, 5)
    assert lrs == pytest.approx([0.3 / math.sqrt(t) for t in range(1, 6)], rel=1e-12)

    opt = HamiltonianOptimizer([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    lrs = _lrs(InverseSqrtLR(opt, warmup=4), opt, 9)
    # Linear warm-up t/4 for t ≤ 4, then √(4/t): continuous at t = 4.
    expected = [0.3 * t / 4 for t in range(1, 5)] + [0.3 * math.sqrt(4 / t) for t in range(5, 10)]
    assert lrs == pytest.approx(expected, rel=1e-12)


def test_inverse_sqrt_lr_state_dict_round_trip_and_validation() -> None:
    opt = HamiltonianOptimizer([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = InverseSqrtLR(opt, warmup=3)
    _lrs(scheduler, opt, 7)
    state = scheduler.state_dict()
    # The usual resume order (as Lightning does it): build optimizer and scheduler, then load both states.
    opt2 = HamiltonianOptimizer([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler2 = InverseSqrtLR(opt2)
    opt2.load_state_dict(opt.state_dict())
    scheduler2.load_state_dict(state)
    assert scheduler2.warmup == 3 and _lrs(scheduler2, opt2, 3) == pytest.approx(_lrs(scheduler, opt, 3))
    with pytest.raises(ValueError, match="warmup"):
        InverseSqrtLR(opt, warmup=-1)
    with pytest.raises(TypeError, match="warmup"):
        InverseSqrtLR(opt, warmup=2.5)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------------------
# Algorithm 2: hamiltonian_loss
# ----------------------------------------------------------------------------------------------------------------


def test_hamiltonian_loss_value_and_gradient() -> None:
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([-2.0], dtype=torch.float64, requires_grad=True)
    base = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    # Σ‖θ_i‖² = (1 + 4 + 9 + 16) + 4 = 34, counted once: R = 0.7 + 0.1·½·34 = 2.4.
    loss = hamiltonian_loss(base, [w, b], reg_strength=0.1)
    assert loss.item() == pytest.approx(2.4, rel=1e-15)
    loss.backward()
    # ∂R/∂θ = λθ (L2 weight decay with coefficient λ), ∂R/∂base = 1.
    torch.testing.assert_close(w.grad, 0.1 * w.detach(), rtol=1e-15, atol=0.0)
    torch.testing.assert_close(b.grad, 0.1 * b.detach(), rtol=1e-15, atol=0.0)
    assert base.grad.item() == 1.0


def test_hamiltonian_loss_accepts_module_parameters_and_zero_strength() -> None:
    model = torch.nn.Linear(3, 2)
    base = torch.tensor(1.5)
    assert hamiltonian_loss(base, model.parameters(), reg_strength=0.0).item() == 1.5


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((torch.tensor([1.0, 2.0]), [torch.ones(2)]), ValueError, "scalar"),
        ((1.0, [torch.ones(2)]), TypeError, "base_loss"),
        ((torch.tensor(1.0), [torch.ones(2)], -0.1), ValueError, "reg_strength"),
        ((torch.tensor(1.0), [torch.ones(2)], float("nan")), ValueError, "reg_strength"),
        ((torch.tensor(1.0), []), ValueError, "empty"),
        ((torch.tensor(1.0), [torch.ones(2), 3.0]), TypeError, "item 1"),
    ],
)
def test_hamiltonian_loss_rejects_bad_input(args: tuple, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        hamiltonian_loss(*args)


# ----------------------------------------------------------------------------------------------------------------
# The optimizer benchmark's job pool (scripts/bench_optimizers.py: seed runs queued once an lr grid is done)
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", [1, 2])
def test_run_jobs_queues_follow_up_jobs_and_returns_results_by_index(jobs: int) -> None:
    from hnn.experiments.jobs import run_jobs

    seen: list[tuple[int, int]] = []

    def on_result(index: int, result: int) -> list[int] | None:
        seen.append((index, result))
        return [-(10 * result)] if result < 100 else None  # 1 -> -10 -> -100 (stop); 2 -> -20 -> -200 (stop)

    threads_before = torch.get_num_threads()
    results = run_jobs(abs, [-1, -2], jobs=jobs, threads=1, on_result=on_result)  # abs: picklable for workers
    assert torch.get_num_threads() == threads_before
    assert sorted(seen) == list(enumerate(results))  # every job reported once, with its own index
    assert sorted(results[:2]) == [1, 2] and results[:2] == [1, 2]
    assert sorted(results[2:]) == [10, 20, 100, 200] and len(results) == 6
    with pytest.raises(ValueError, match="jobs"):
        run_jobs(abs, [1], jobs=0)
    with pytest.raises(TypeError, match="on_result"):
        run_jobs(abs, [1], on_result=3)  # type: ignore[arg-type]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads a process's children from /proc")
def test_run_jobs_workers_exit_when_their_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; from hnn.experiments.jobs import run_jobs; "
                               "run_jobs(time.sleep, [60, 60], jobs=2)"])
    children_file = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
    try:
        workers: list[int] = []
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline:  # the two spawned workers (besides the tracker)
            time.sleep(0.5)
            pids = [int(p) for p in children_file.read_text().split()]
            workers = [p for p in pids if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
                       and "pipe_handle" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")]
        assert len(workers) == 2, workers
    finally:
        parent.kill()  # SIGKILL: no shutdown of the pool, as when a run is killed
        parent.wait()
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{p}").exists() and "Z" not in _state(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [p for p in workers if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"


# ----------------------------------------------------------------------------------------------------------------
# Lightning and LightningCLI
# ----------------------------------------------------------------------------------------------------------------


def _tiny_module_class() -> type:
    """A tiny LightningModule, built inside a function so that collecting this file does not import Lightning."""
    import pytorch_lightning as pl

    class TinyRegressor(pl.LightningModule):
        """Linear regression y = x·w on fixed data; the optimizer comes from LightningCLI's options."""

        def __init__(self, hidden: int = 4) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, 1))

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
            x, y = batch
            return torch.nn.functional.mse_loss(self.net(x), y)

        def train_dataloader(self) -> torch.utils.data.DataLoader:
            generator = torch.Generator().manual_seed(0)
            x = torch.randn(64, 2, generator=generator)
            y = x @ torch.tensor([[1.5], [-0.5]])
            return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)

    return TinyRegressor


def test_lightning_cli_selects_optimizer_and_schedule_from_a_config(tmp_path) -> None:
    from pytorch_lightning.cli import LightningCLI

    config = tmp_path / "config.yaml"
    config.write_text(
        "optimizer:\n"
        "  class_path: hnn.optim.HamiltonianOptimizer\n"
        "  init_args: {lr: 0.05, beta: 0.5}\n"
        "lr_scheduler:\n"
        "  class_path: hnn.optim.InverseSqrtLR\n"
        "  init_args: {warmup: 2}\n"
        "trainer:\n"
        f"  default_root_dir: {tmp_path}\n"
        "  max_epochs: 3\n"
        "  logger: false\n"
        "  enable_checkpointing: false\n"
        "  enable_progress_bar: false\n"
        "  enable_model_summary: false\n"
    )
    cli = LightningCLI(
        _tiny_module_class(),
        run=False,
        args=["--config", str(config), "--optimizer.eps", "1e-6"],  # command-line options override the file
        save_config_kwargs={"overwrite": True},
    )
    x, y = cli.model.train_dataloader().dataset.tensors
    with torch.no_grad():
        initial_loss = torch.nn.functional.mse_loss(cli.model.net(x), y).item()
    cli.trainer.fit(cli.model)

    optimizer = cli.trainer.optimizers[0]
    assert isinstance(optimizer, HamiltonianOptimizer)
    assert optimizer.defaults["beta"] == 0.5 and optimizer.defaults["eps"] == 1e-6
    scheduler = cli.trainer.lr_scheduler_configs[0].scheduler
    assert isinstance(scheduler, InverseSqrtLR) and scheduler.warmup == 2
    # LightningCLI schedulers step once per epoch: after 3 epochs t = 4 > warmup, so lr = 0.05·√(2/4).
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * math.sqrt(2 / 4))
    assert all(len(optimizer.state[p]["momentum"]) == len(p) for p in cli.model.parameters())
    with torch.no_grad():
        final_loss = torch.nn.functional.mse_loss(cli.model.net(x), y).item()
    assert final_loss < 0.5 * initial_loss  # 12 steps of a fixed regression problem: it trains
