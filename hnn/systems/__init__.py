"""hnn.systems: ground-truth Hamiltonian systems (plain PyTorch, no learning).

State layout
------------
A state is a tensor ``x`` of shape ``[..., dim]`` with ``dim = 2n``: ``x[..., :n]`` are the generalised coordinates
q and ``x[..., n:]`` the conjugate momenta p. Any leading batch shape, float32 or float64, any device.

Every system has
----------------
``name``, ``dim``, ``hamiltonian(x) -> [...]``, ``vector_field(x)`` (closed form; = J∇H = [∂H/∂p, −∂H/∂q] unless
``dissipative``), ``sample_initial(n, generator=None, *, dtype=None, device=None) -> [n, dim]``,
``trajectory(x0, t) -> [len(t), *batch, dim]`` (exact where a closed form exists, else a float64 dopri5 reference
integration at rtol = atol = 1e-12 through ``hnn.integrate``), ``periodic`` (one flag per q: angles to be wrapped
to (−π, π], see ``wrap``), ``period`` (None when not meaningful) and ``time_scale`` (always set), ``separable``
(then closed-form ``dH_dq(q)``, ``dH_dp(p)``), ``dissipative``, and ``params`` such that
``get(system.name, **system.params)`` rebuilds it.

Registered systems (``get(name, **params)``; ``names()`` lists them)
--------------------------------------------------------------------
==================== =========== ============================================================ =====================
name                 state dim   Hamiltonian / field                                          params (defaults)
==================== =========== ============================================================ =====================
spring               2           H = q² + p² (Greydanus et al. 2019), period π                 none
mass_spring          2           H = k q²/2 + p²/(2m), exact, period 2π√(m/k)                  k=1, m=1
damped_mass_spring   2           mass_spring + ṗ −= γ p (Rayleigh D = γp²/2), exact            k=1, m=1, gamma=0.1
pendulum             2           H = 3(1 − cos q) + p² (Greydanus et al. 2019)                 none
ideal_pendulum       2           H = p²/(2ml²) + mgl(1 − cos q)                                m=1, l=1, g=9.81
damped_pendulum      2           ideal_pendulum + ṗ −= γ p                                     m=1, l=1, g=9.81,
                                                                                                gamma=0.1
double_pendulum      4           canonical (θ1, θ2, p1, p2), non-separable                     m1=m2=l1=l2=1, g=9.81
two_body             8           H = Σ|p_i|²/2m_i − Σ G m_i m_j/|q_i − q_j|                     masses=(1,1), G=1
three_body           12          same, three bodies                                            masses=(1,1,1), G=1
==================== =========== ============================================================ =====================

Damped systems set ``dissipative = True``: their field is J∇H − [0, ∂D/∂p] with D = γ p²/2, and ``hamiltonian`` is
the conservative energy (it decays).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from hnn.systems.base import HamiltonianSystem
from hnn.systems.double_pendulum import DoublePendulum
from hnn.systems.gravity import NBody, ThreeBody, TwoBody
from hnn.systems.pendulum import DampedPendulum, PaperPendulum, Pendulum
from hnn.systems.spring import DampedMassSpring, MassSpring, PaperSpring

__all__ = [
    "HamiltonianSystem",
    "MassSpring",
    "PaperSpring",
    "DampedMassSpring",
    "Pendulum",
    "PaperPendulum",
    "DampedPendulum",
    "DoublePendulum",
    "NBody",
    "TwoBody",
    "ThreeBody",
    "get",
    "names",
]

_REGISTRY: dict[str, Callable[..., HamiltonianSystem]] = {
    "spring": PaperSpring,
    "mass_spring": MassSpring,
    "damped_mass_spring": DampedMassSpring,
    "pendulum": PaperPendulum,
    "ideal_pendulum": Pendulum,
    "damped_pendulum": DampedPendulum,
    "double_pendulum": DoublePendulum,
    "two_body": TwoBody,
    "three_body": ThreeBody,
}


def names() -> list[str]:
    """Names accepted by :func:`get`, in registry order."""
    return list(_REGISTRY)


def get(name: str, **params: Any) -> HamiltonianSystem:
    """Build the system registered as ``name`` with keyword ``params`` (see the table in the module docstring).

    Raises ValueError for an unknown name (listing the valid ones), an unknown parameter (listing the accepted
    ones) or an invalid value (non-positive mass/length/k/g/G, negative damping), naming the parameter.
    """
    if not isinstance(name, str):
        raise TypeError(f"system name must be a str, got {type(name).__name__}")
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown system {name!r}; valid names: {', '.join(names())}") from None
    accepted = [p for p in inspect.signature(factory).parameters if p != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        valid = ", ".join(accepted) if accepted else "none (a fixed preset)"
        raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for system {name!r}; "
                         f"accepted: {valid}")
    return factory(**params)
