"""``integrate``: the one entry point that rolls out any dynamics in hnn."""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import Tensor

from hnn.integrators import explicit_rk, implicit, multistep, splitting, torchdiffeq_adapter
from hnn.integrators._method import MethodInfo
from hnn.integrators.fields import Dynamics

_FAMILIES = (explicit_rk, splitting, implicit, multistep)
_REGISTRY: dict[str, tuple[MethodInfo, Any]] = {
    name: (info, family) for family in _FAMILIES for name, info in family.METHODS.items()
}


def available() -> dict[str, MethodInfo]:
    """Every method name -> its metadata (order, symplectic, implicit, needs_separable, multistep)."""
    methods = {name: info for name, (info, _) in _REGISTRY.items()}
    methods.update(torchdiffeq_adapter.METHODS)
    return methods


def _validate_state(x0: Tensor, dyn: Dynamics) -> None:
    if not isinstance(x0, Tensor):
        raise TypeError(f"x0 must be a torch.Tensor, got {type(x0).__name__}")
    if not x0.is_floating_point():
        raise TypeError(f"x0 must be a floating-point tensor, got dtype {x0.dtype}")
    if x0.ndim < 1 or x0.shape[-1] == 0:
        raise ValueError(f"x0 must have shape [..., dim] with dim >= 1, got {tuple(x0.shape)}")
    if dyn.requires_hamiltonian_state and x0.shape[-1] % 2 != 0:
        raise ValueError(
            f"a Hamiltonian state is [q, p] and needs an even last dimension, got {x0.shape[-1]} "
            f"(x0 shape {tuple(x0.shape)})"
        )
    if dyn.dim is not None and x0.shape[-1] != dyn.dim:
        raise ValueError(f"state dimension mismatch: the dynamics has dim {dyn.dim}, x0 has last dimension "
                         f"{x0.shape[-1]} (shape {tuple(x0.shape)})")
    if not bool(torch.isfinite(x0).all()):
        bad = int((~torch.isfinite(x0)).sum())
        raise ValueError(f"x0 contains {bad} non-finite values (nan or inf)")


def _validate_times(t: Tensor | Sequence[float], x0: Tensor) -> tuple[Tensor, list[float]]:
    t = torch.as_tensor(t, dtype=x0.dtype, device=x0.device)
    if t.ndim != 1 or t.numel() == 0:
        raise ValueError(f"t must be a non-empty 1-D sequence of times, got shape {tuple(t.shape)}")
    times = t.detach().double().cpu().tolist()
    if not all(math.isfinite(v) for v in times):
        raise ValueError("t contains non-finite values")
    diffs = [b - a for a, b in zip(times, times[1:])]
    if diffs and not (all(d > 0 for d in diffs) or all(d < 0 for d in diffs)):
        raise ValueError("t must be strictly monotone (strictly increasing or strictly decreasing)")
    return t, times


def _substeps(times: list[float], dt: float | None) -> list[int]:
    if dt is None:
        return [1] * (len(times) - 1)
    # ceil(|Δt|/dt) equal substeps, never overshooting; the 1e-9 guard keeps an exact multiple from gaining a step
    return [max(1, math.ceil(abs(b - a) / dt - 1e-9)) for a, b in zip(times, times[1:])]


def _check_uniform(times: list[float], substeps: list[int], dtype: torch.dtype, method: str) -> None:
    steps = [(b - a) / n for a, b, n in zip(times, times[1:], substeps)]
    if not steps:
        return
    mean = sum(steps) / len(steps)
    rel = 1e-9 if dtype == torch.float64 else 1e-4  # t given in float32 carries ~1e-7·t_max rounding
    if any(abs(s - mean) > rel * abs(mean) for s in steps):
        raise ValueError(
            f"multistep method {method!r} needs uniformly spaced t (equal steps); got step sizes from "
            f"{min(steps):.6g} to {max(steps):.6g}. Use a one-step method (e.g. 'rk4') for non-uniform t."
        )


def _validate_input(u: Tensor | None, x0: Tensor, n_intervals: int, dyn: Dynamics) -> tuple[Tensor | None, bool]:
    """``(u, per_interval)``: ``u [..., m]`` held over the whole rollout, or ``u [len(t) − 1, ..., m]`` per interval."""
    if u is None:
        return None, False
    if not isinstance(u, Tensor):
        raise TypeError(f"u must be a torch.Tensor or None, got {type(u).__name__}")
    if not u.is_floating_point():
        raise TypeError(f"u must be a floating-point tensor, got dtype {u.dtype}")
    if not dyn.accepts_input:
        raise TypeError(f"an input u needs dynamics with vector_field(x, u); {type(dyn.obj).__name__} has none")
    if u.ndim == x0.ndim + 1:
        if u.shape[0] != n_intervals:
            raise ValueError(f"a per-interval input u [len(t) - 1, ..., m] needs {n_intervals} rows for {n_intervals + 1} "
                             f"times, got shape {tuple(u.shape)}")
        batch = u.shape[1:-1]
    elif u.ndim == x0.ndim:
        batch = u.shape[:-1]
    else:
        raise ValueError(f"u must be [..., m] (held over the rollout) or [len(t) - 1, ..., m] (one per interval) with "
                         f"the batch dimensions of x0 {tuple(x0.shape[:-1])}; got shape {tuple(u.shape)}")
    try:
        torch.broadcast_shapes(batch, x0.shape[:-1])
    except RuntimeError:
        raise ValueError(f"the batch dimensions of u {tuple(batch)} do not broadcast with those of x0 "
                         f"{tuple(x0.shape[:-1])}") from None
    if not bool(torch.isfinite(u).all()):
        raise ValueError("u contains non-finite values (nan or inf)")
    return u.to(x0.dtype), u.ndim == x0.ndim + 1


def integrate(
    dynamics: Any,
    x0: Tensor,
    t: Tensor | Sequence[float],
    method: str = "rk4",
    dt: float | None = None,
    *,
    u: Tensor | None = None,
    differentiable: bool | None = None,
    **options: Any,
) -> Tensor:
    """Roll out ``dynamics`` from ``x0`` and return the states at times ``t``: shape ``(len(t), *batch, dim)``.

    dynamics: a vector field ``f(x)`` / ``f(t, x)``, or an object with ``hamiltonian(x)`` (optionally
        ``vector_field``, ``separable`` + ``dH_dq``/``dH_dp``, ``dissipative``) — see :mod:`hnn.integrators.fields`.
    method: a name from :func:`available` (``hnn.integrators.available()``), e.g. ``"leapfrog"``,
        ``"implicit_midpoint"``, ``"rk4"``, ``"torchdiffeq:dopri5"``.
    dt: ``None`` takes one step per interval of ``t``; otherwise ceil(Δt/dt) equal substeps per interval.
    u: a zero-order-hold input for controlled dynamics (``vector_field(x, u)``): ``[..., m]`` held over the whole
        rollout, or ``[len(t) − 1, ..., m]`` with row i held over the interval [t_i, t_{i+1}] (all its substeps).
        Splitting methods add the input's force ``input_force(u)`` to their kicks; ``ab4`` takes a constant u only.
    differentiable: keep the autograd graph through the rollout. Default: when grad mode is on and x0, u or the
        dynamics' parameters require grad (plain callables: whenever grad mode is on).
    options: method options — implicit: ``tol``, ``max_iters``; torchdiffeq: ``rtol``, ``atol``, ``options``.

    Which method when: separable H → ``leapfrog`` / ``forest_ruth`` / ``yoshida6`` (explicit, symplectic);
    non-separable H → ``implicit_midpoint`` (symplectic for any H); dissipative or non-Hamiltonian fields →
    ``rk4`` or ``torchdiffeq:dopri5``; high-accuracy references → ``torchdiffeq:dopri5`` with tight rtol/atol.
    """
    methods = available()
    if method not in methods:
        raise ValueError(f"unknown integration method {method!r}; valid methods: {', '.join(sorted(methods))}")
    dyn = Dynamics(dynamics)
    _validate_state(x0, dyn)
    t, times = _validate_times(t, x0)
    u, per_interval = _validate_input(u, x0, len(times) - 1, dyn)
    if dt is not None and not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive finite number or None, got {dt!r}")
    if differentiable is None:
        is_plain_callable = not dyn.has_hamiltonian and not isinstance(dynamics, torch.nn.Module)
        differentiable = torch.is_grad_enabled() and (
            x0.requires_grad or dyn.has_trainable_parameters() or is_plain_callable
            or (u is not None and u.requires_grad)
        )
    grad_context = torch.enable_grad() if differentiable else torch.no_grad()

    with grad_context:
        if method in torchdiffeq_adapter.METHODS:
            if not per_interval:
                dyn.input = u
                return torchdiffeq_adapter.solve(method, dyn, x0, t, dt, **options)
            states = [x0]  # the input jumps between intervals: one solve per interval
            for i in range(len(times) - 1):
                dyn.input = u[i]
                states.append(torchdiffeq_adapter.solve(method, dyn, states[-1], t[i:i + 2], dt, **options)[-1])
            return torch.stack(states, dim=0)
        info, family = _REGISTRY[method]
        if info.multistep and per_interval:
            raise ValueError(f"multistep method {method!r} reuses past field values, which a changing input would "
                             "make inconsistent; give a constant u or use a one-step method (e.g. 'rk4')")
        stepper = family.make_stepper(method, dyn, **options)
        substeps = _substeps(times, dt)
        if info.multistep:
            _check_uniform(times, substeps, x0.dtype, method)
        states = [x0]
        x = x0
        dyn.input = u
        for i, n_sub in enumerate(substeps):
            h = (times[i + 1] - times[i]) / n_sub
            t_now = times[i]
            if per_interval:
                dyn.input = u[i]
            for k in range(n_sub):
                try:
                    x = stepper(t_now + k * h, x, h)
                except implicit.ConvergenceError as err:
                    raise implicit.ConvergenceError(f"step {sum(substeps[:i]) + k} (interval {i}): {err}") from None
            states.append(x)
        return torch.stack(states, dim=0)
