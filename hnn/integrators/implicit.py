"""Implicit one-step methods, solved by Newton's method per batch element.

- implicit midpoint (order 2, symplectic for ANY Hamiltonian, separable or not):
      x' = x + h f(t + h/2, (x + x')/2)
- backward Euler (order 1, not symplectic, damps energy):
      x' = x + h f(t + h, x')

Both are θ-methods: with z(x') = x + c (x' − x), c = 1/2 or 1, solve r(x') = x' − x − h f(t + c h, z) = 0 by
Newton, δ = (I − c h ∂f/∂x(z))⁻¹ r, until |δ|_∞ ≤ tol (1 + |x'|_∞) for every batch element; otherwise
:class:`ConvergenceError` names the time and how many elements failed. ∂f/∂x is taken by autograd.

Gradients (training through a rollout) use the implicit-function theorem: Newton runs without a graph, then one
Newton step from the converged (detached) solution is taken with the graph on, which gives exactly
dx'/dθ = −(∂r/∂x')⁻¹ ∂r/∂θ at the solution (the r = 0 there kills the derivative of the inverse).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from hnn.integrators._method import MethodInfo
from hnn.integrators.fields import Dynamics

Field = Callable[[float, Tensor], Tensor]

METHODS: dict[str, MethodInfo] = {
    "implicit_midpoint": MethodInfo(
        "implicit_midpoint", "implicit", 2, True, implicit=True,
        description="implicit midpoint rule: symplectic for any H (use it for non-separable H)",
    ),
    "backward_euler": MethodInfo(
        "backward_euler", "implicit", 1, False, implicit=True, description="backward (implicit) Euler",
    ),
}

_EVALUATION_POINT = {"implicit_midpoint": 0.5, "backward_euler": 1.0}


class ConvergenceError(RuntimeError):
    """An implicit solve did not converge for some batch elements."""


def default_tolerance(dtype: torch.dtype) -> float:
    """Relative Newton tolerance: ~4500 ulps in float64 (1e-12), ~80 ulps in float32 (1e-5)."""
    return 1e-12 if dtype == torch.float64 else 1e-5


def field_and_jacobian(field: Field, t: float, z: Tensor) -> tuple[Tensor, Tensor]:
    """f(t, z) and ∂f/∂x(t, z) [..., d, d] by autograd (one backward pass per state dimension), no graph kept."""
    with torch.inference_mode(False), torch.enable_grad():
        zg = z.detach().clone().requires_grad_(True)
        fz = field(t, zg)
        rows = []
        for i in range(fz.shape[-1]):
            (row,) = torch.autograd.grad(fz[..., i].sum(), zg, retain_graph=True, allow_unused=True)
            rows.append(torch.zeros_like(zg) if row is None else row)
        jac = torch.stack(rows, dim=-2)
    return fz.detach(), jac.detach()


def step(
    field: Field,
    t: float,
    x: Tensor,
    h: float,
    method: str = "implicit_midpoint",
    tol: float | None = None,
    max_iters: int = 50,
    differentiable: bool | None = None,
) -> Tensor:
    """One implicit step (see module docstring). Raises ConvergenceError when Newton fails for any element."""
    c = _EVALUATION_POINT[method]
    tol = default_tolerance(x.dtype) if tol is None else tol
    differentiable = torch.is_grad_enabled() if differentiable is None else differentiable
    x0 = x.detach()
    eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
    with torch.no_grad():
        y = x0 + h * field(t, x0)  # explicit Euler predictor
    converged = None
    jac = None
    for _ in range(max_iters):
        z = x0 + c * (y - x0)
        fz, jac = field_and_jacobian(field, t + c * h, z)
        residual = y - x0 - h * fz
        delta = torch.linalg.solve(eye - (c * h) * jac, residual.unsqueeze(-1)).squeeze(-1)
        y = y - delta
        err = delta.abs().amax(dim=-1)
        converged = err <= tol * (1.0 + y.abs().amax(dim=-1))
        if bool(converged.all()):
            break
    else:
        failed = int((~converged).sum()) if converged is not None else x.shape[0]
        total = converged.numel() if converged is not None else 1
        raise ConvergenceError(
            f"{method}: Newton did not converge at t={t:.6g} (step h={h:.3g}) for {failed} of {total} batch "
            f"elements after {max_iters} iterations (tol={tol:g}); reduce dt or raise max_iters"
        )
    if not differentiable:
        return y
    # One Newton step with the graph on, from the converged solution: exact implicit-function-theorem gradients.
    z = x + c * (y - x)
    residual = y - x - h * field(t + c * h, z)
    correction = torch.linalg.solve(eye - (c * h) * jac, residual.unsqueeze(-1)).squeeze(-1)
    return y - correction


def make_stepper(name: str, dynamics: Dynamics, tol: float | None = None, max_iters: int = 50, **options: object):
    if options:
        raise ValueError(f"method {name!r} accepts the options tol and max_iters only, got {sorted(options)}")
    if max_iters < 1:
        raise ValueError(f"max_iters must be >= 1, got {max_iters}")
    if tol is not None and not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")

    def stepper(t: float, x: Tensor, h: float) -> Tensor:
        return step(dynamics.field, t, x, h, name, tol=tol, max_iters=max_iters)

    return stepper
