"""Splitting (composition) methods for separable Hamiltonians H(q, p) = T(p) + V(q).

Exactly symplectic and, except symplectic Euler, time-reversible — but only for separable H: for a non-separable H
(double pendulum, a general learned H) use ``implicit_midpoint`` (symplectic for any H).

- symplectic Euler (order 1):  p' = p − h ∂V/∂q(q);  q' = q + h ∂T/∂p(p')
- leapfrog / Störmer–Verlet, kick-drift-kick (order 2):
      p½ = p − h/2 ∂V/∂q(q);  q' = q + h ∂T/∂p(p½);  p' = p½ − h/2 ∂V/∂q(q')
- Forest–Ruth (order 4) and Yoshida (order 6): leapfrog composed with weights w_i (Σ w_i = 1), the "triple jump"
  θ = 1/(2 − 2^{1/3}), weights (θ, 1 − 2θ, θ), and Yoshida's 1990 solution A (7 stages).

The force ∂V/∂q at the end of one leapfrog is the one the next starts with, so it is passed along ("force"
caching): every leapfrog stage costs one force evaluation.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from hnn.integrators._method import MethodInfo
from hnn.integrators.explicit_rk import _axpy
from hnn.integrators.fields import Dynamics

ForceFn = Callable[[Tensor], Tensor]
VelocityFn = Callable[[Tensor], Tensor]

_THETA = 1.0 / (2.0 - 2.0 ** (1.0 / 3.0))
_YOSHIDA_W1 = -1.17767998417887
_YOSHIDA_W2 = 0.235573213359357
_YOSHIDA_W3 = 0.784513610477560
_YOSHIDA_W0 = 1.0 - 2.0 * (_YOSHIDA_W1 + _YOSHIDA_W2 + _YOSHIDA_W3)

COMPOSITION_WEIGHTS: dict[str, tuple[float, ...]] = {
    "leapfrog": (1.0,),
    "forest_ruth": (_THETA, 1.0 - 2.0 * _THETA, _THETA),
    "yoshida6": (_YOSHIDA_W3, _YOSHIDA_W2, _YOSHIDA_W1, _YOSHIDA_W0, _YOSHIDA_W1, _YOSHIDA_W2, _YOSHIDA_W3),
}

METHODS: dict[str, MethodInfo] = {
    "symplectic_euler": MethodInfo(
        "symplectic_euler", "splitting", 1, True, needs_separable=True,
        description="symplectic Euler (kick then drift)",
    ),
    "leapfrog": MethodInfo(
        "leapfrog", "splitting", 2, True, needs_separable=True,
        description="Störmer–Verlet / leapfrog, kick-drift-kick",
    ),
    "forest_ruth": MethodInfo(
        "forest_ruth", "splitting", 4, True, needs_separable=True,
        description="Forest–Ruth: leapfrog triple jump",
    ),
    "yoshida6": MethodInfo(
        "yoshida6", "splitting", 6, True, needs_separable=True,
        description="Yoshida 1990 sixth order (solution A, 7 leapfrog stages)",
    ),
}


def leapfrog_step(
    q: Tensor,
    p: Tensor,
    h: float | Tensor,
    force_fn: ForceFn,
    velocity_fn: VelocityFn,
    force: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One kick-drift-kick leapfrog step; returns (q', p', force at q').

    force_fn(q) = ∂V/∂q, velocity_fn(p) = ∂T/∂p. ``force`` is the cached ∂V/∂q at ``q`` (computed if None), so a
    chain of steps costs one force evaluation each. ``h`` may be a tensor broadcastable against ``q``.
    """
    if force is None:
        force = force_fn(q)
    p_half = _axpy(p, force, -0.5 * h)
    q_new = _axpy(q, velocity_fn(p_half), h)
    force_new = force_fn(q_new)
    p_new = _axpy(p_half, force_new, -0.5 * h)
    return q_new, p_new, force_new


def symplectic_euler_step(
    q: Tensor, p: Tensor, h: float | Tensor, force_fn: ForceFn, velocity_fn: VelocityFn
) -> tuple[Tensor, Tensor]:
    """p' = p − h ∂V/∂q(q); q' = q + h ∂T/∂p(p')."""
    p_new = _axpy(p, force_fn(q), -h)
    return _axpy(q, velocity_fn(p_new), h), p_new


def step(
    x: Tensor,
    h: float | Tensor,
    force_fn: ForceFn,
    velocity_fn: VelocityFn,
    method: str = "leapfrog",
    force: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """One step of a splitting method on x = [q, p]; returns (x', cached force at q' or None)."""
    n = x.shape[-1] // 2
    q, p = x[..., :n], x[..., n:]
    if method == "symplectic_euler":
        q, p = symplectic_euler_step(q, p, h, force_fn, velocity_fn)
        return torch.cat([q, p], dim=-1), None
    try:
        weights = COMPOSITION_WEIGHTS[method]
    except KeyError:
        raise ValueError(f"unknown splitting method {method!r}; valid: {sorted(METHODS)}") from None
    for w in weights:
        q, p, force = leapfrog_step(q, p, w * h, force_fn, velocity_fn, force)
    return torch.cat([q, p], dim=-1), force


def make_stepper(name: str, dynamics: Dynamics, **options: object):
    if options:
        raise ValueError(f"method {name!r} takes no options, got {sorted(options)}")
    if not dynamics.separable or dynamics.dissipative:
        raise ValueError(
            f"method {name!r} needs a separable Hamiltonian H = T(p) + V(q): pass an object with hamiltonian(x) and "
            "separable = True (optionally closed-form dH_dq/dH_dp), not a bare vector field, a non-separable H or a "
            "dissipative model. For a non-separable H use 'implicit_midpoint' (symplectic for any H)."
        )
    cache: dict[str, Tensor | None] = {"x": None, "force": None, "input": None}

    def force_with_input(q: Tensor) -> Tensor:
        # ṗ = −∂V/∂q + G u: the kick uses ∂V/∂q − G u, with u held over the step
        return dynamics.dH_dq(q) - dynamics.input_force()

    def stepper(t: float, x: Tensor, h: float) -> Tensor:
        force_fn = dynamics.dH_dq if dynamics.input is None else force_with_input
        # Reuse the force only when continuing from the state we produced under the same input (FSAL across steps).
        force = cache["force"] if cache["x"] is x and cache["input"] is dynamics.input else None
        x_new, force_new = step(x, h, force_fn, dynamics.dH_dp, name, force)
        cache["x"], cache["force"], cache["input"] = x_new, force_new, dynamics.input
        return x_new

    return stepper
