"""Explicit Runge–Kutta methods: explicit Euler, Heun (RK2), Kutta's RK3, classic RK4.

For a Butcher tableau (a, b, c):  k_i = f(t + c_i h, x + h Σ_{j<i} a_ij k_j),  x_{n+1} = x_n + h Σ_i b_i k_i.
None of them is symplectic: energy drifts (Euler: grows every period on an oscillator).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import Tensor

from hnn.integrators._method import MethodInfo
from hnn.integrators.fields import Dynamics

Field = Callable[[float, Tensor], Tensor]


@dataclass(frozen=True)
class Tableau:
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]


TABLEAUS: dict[str, Tableau] = {
    "euler": Tableau(a=((),), b=(1.0,), c=(0.0,)),
    "heun": Tableau(a=((), (1.0,)), b=(0.5, 0.5), c=(0.0, 1.0)),
    "rk3": Tableau(a=((), (0.5,), (-1.0, 2.0)), b=(1 / 6, 2 / 3, 1 / 6), c=(0.0, 0.5, 1.0)),
    "rk4": Tableau(
        a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)), b=(1 / 6, 1 / 3, 1 / 3, 1 / 6), c=(0.0, 0.5, 0.5, 1.0)
    ),
}

METHODS: dict[str, MethodInfo] = {
    "euler": MethodInfo("euler", "explicit_rk", 1, False, description="explicit (forward) Euler"),
    "heun": MethodInfo("heun", "explicit_rk", 2, False, description="Heun's method (explicit trapezoid, RK2)"),
    "rk3": MethodInfo("rk3", "explicit_rk", 3, False, description="Kutta's third-order method"),
    "rk4": MethodInfo("rk4", "explicit_rk", 4, False, description="classic fourth-order Runge–Kutta"),
}


def _axpy(x: Tensor, k: Tensor, scale: float | Tensor) -> Tensor:
    """x + scale·k (one fused op when scale is a Python number)."""
    return x + scale * k if isinstance(scale, Tensor) else x.add(k, alpha=scale)


def step(field: Field, t: float, x: Tensor, h: float | Tensor, tableau: Tableau) -> Tensor:
    """One explicit Runge–Kutta step x_n -> x_{n+1} (see module docstring)."""
    ks: list[Tensor] = []
    for a_row, c_i in zip(tableau.a, tableau.c):
        stage = x
        for a_ij, k_j in zip(a_row, ks):
            if a_ij != 0.0:
                stage = _axpy(stage, k_j, h * a_ij)
        ks.append(field(t + c_i * h, stage))
    out = x
    for b_i, k_i in zip(tableau.b, ks):
        if b_i != 0.0:
            out = _axpy(out, k_i, h * b_i)
    return out


def make_stepper(name: str, dynamics: Dynamics, **options: object):
    if options:
        raise ValueError(f"method {name!r} takes no options, got {sorted(options)}")
    tableau = TABLEAUS[name]

    def stepper(t: float, x: Tensor, h: float) -> Tensor:
        return step(dynamics.field, t, x, h, tableau)

    return stepper
