"""Implicit one-step methods, solved by Newton's method per batch element.

- implicit midpoint (order 2, symplectic for ANY Hamiltonian, separable or not):
      x' = x + h f(t + h/2, (x + x')/2)
- backward Euler (order 1, not symplectic, damps energy):
      x' = x + h f(t + h, x')

Both are θ-methods: with z(x') = x + c (x' − x), c = 1/2 or 1, solve r(x') = x' − x − h f(t + c h, z) = 0 by
Newton, δ = (I − c h ∂f/∂x(z))⁻¹ r, until |δ|_∞ ≤ tol (1 + |x'|_∞) for every batch element; otherwise
:class:`ConvergenceError` names the time and how many elements failed. ∂f/∂x is taken by autograd and reused
between iterations while they contract by 10× or better (simplified Newton), refreshed otherwise.

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
    cache: dict | None = None,
) -> Tensor:
    """One implicit step (see module docstring). Raises ConvergenceError when Newton fails for any element.

    ``cache``: a dict kept across steps by the caller; the Newton matrix is then reused from step to step while the
    iteration keeps contracting (the solution does not depend on which matrix Newton uses, only the speed does).
    """
    c = _EVALUATION_POINT[method]
    tol = default_tolerance(x.dtype) if tol is None else tol
    differentiable = torch.is_grad_enabled() if differentiable is None else differentiable
    x0 = x.detach()
    eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
    with torch.no_grad():
        y = x0 + h * field(t, x0)  # explicit Euler predictor
    converged = None
    matrix = None
    if cache is not None:
        cached = cache.get("matrix")
        # A matrix made for a slightly different h is still a good Newton matrix (the solution is unaffected).
        if cached is not None and cached.shape[:-1] == x.shape and abs(cache["h"] - h) <= 1e-3 * abs(h):
            matrix = cached
    previous_err = None
    fresh = False  # is `matrix` the Jacobian at the current iterate (a full Newton step)?
    for _ in range(max_iters):
        z = x0 + c * (y - x0)
        if matrix is None:
            fz, jac = field_and_jacobian(field, t + c * h, z)
            matrix, fresh = eye - (c * h) * jac, True
            if cache is not None:
                cache["matrix"], cache["h"] = matrix, h
        else:
            with torch.no_grad():
                fz = field(t + c * h, z)
        residual = y - x0 - h * fz
        delta = _solve(matrix, residual)
        worst = delta.abs().amax(dim=-1).max()
        # Simplified Newton: a reused matrix must keep the iteration contracting by 10x; otherwise discard its update
        # and take a full Newton step from the current iterate instead.
        if not fresh and previous_err is not None and not bool(worst <= 0.1 * previous_err):
            matrix = None
            continue
        y = y - delta
        converged = delta.abs().amax(dim=-1) <= tol * (1.0 + y.abs().amax(dim=-1))
        if bool(converged.all()):
            break
        previous_err, fresh = worst, False
    else:
        failed = int((~converged).sum()) if converged is not None else x.shape[0]
        total = converged.numel() if converged is not None else 1
        raise ConvergenceError(
            f"{method}: Newton did not converge at t={t:.6g} (step h={h:.3g}) for {failed} of {total} batch "
            f"elements after {max_iters} iterations (tol={tol:g}); reduce dt or raise max_iters"
        )
    if not differentiable:
        return y
    # One Newton step with the graph on, from the converged solution, with the Jacobian at the solution: exact
    # implicit-function-theorem gradients.
    _, jac = field_and_jacobian(field, t + c * h, x0 + c * (y - x0))
    z = x + c * (y - x)
    residual = y - x - h * field(t + c * h, z)
    return y - _solve(eye - (c * h) * jac, residual)


def _solve(matrix: Tensor, rhs: Tensor) -> Tensor:
    """Batched (I − c h ∂f/∂x)⁻¹ r; a singular matrix gives non-finite entries, caught as non-convergence."""
    if matrix.shape[-1] == 2:  # one degree of freedom: Cramer's rule, ~30x faster than a batched LAPACK call
        a, b, c, d = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 1, 0], matrix[..., 1, 1]
        det = a * d - b * c
        det = torch.where(det == 0, torch.full_like(det, float("nan")), det)
        r0, r1 = rhs[..., 0], rhs[..., 1]
        return torch.stack([(d * r0 - b * r1) / det, (a * r1 - c * r0) / det], dim=-1)
    solution, info = torch.linalg.solve_ex(matrix, rhs.unsqueeze(-1))
    solution = solution.squeeze(-1)
    return torch.where((info == 0).unsqueeze(-1), solution, torch.full_like(solution, float("nan")))


def make_stepper(name: str, dynamics: Dynamics, tol: float | None = None, max_iters: int = 50, **options: object):
    if options:
        raise ValueError(f"method {name!r} accepts the options tol and max_iters only, got {sorted(options)}")
    if max_iters < 1:
        raise ValueError(f"max_iters must be >= 1, got {max_iters}")
    if tol is not None and not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")

    cache: dict = {}

    def stepper(t: float, x: Tensor, h: float) -> Tensor:
        return step(dynamics.field, t, x, h, name, tol=tol, max_iters=max_iters, cache=cache)

    return stepper
