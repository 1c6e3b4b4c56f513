"""Linear multistep methods: Adams–Bashforth 4 (explicit, order 4, not symplectic).

    x_{n+1} = x_n + h/24 (55 f_n − 59 f_{n−1} + 37 f_{n−2} − 9 f_{n−3})

Started by three classic RK4 steps. Needs a uniform step size throughout (the driver checks that t is uniform).
"""
from __future__ import annotations

from collections import deque
from typing import Callable

from torch import Tensor

from hnn.integrators import explicit_rk
from hnn.integrators._method import MethodInfo
from hnn.integrators.fields import Dynamics

Field = Callable[[float, Tensor], Tensor]

METHODS: dict[str, MethodInfo] = {
    "ab4": MethodInfo(
        "ab4", "multistep", 4, False, multistep=True,
        description="Adams–Bashforth 4, started by RK4 (requires uniform t)",
    ),
}

AB4_COEFFICIENTS = (55.0 / 24.0, -59.0 / 24.0, 37.0 / 24.0, -9.0 / 24.0)


def step(x: Tensor, h: float, history: list[Tensor]) -> Tensor:
    """One AB4 step from x_n given [f_n, f_{n−1}, f_{n−2}, f_{n−3}] (newest first)."""
    out = x
    for coefficient, f in zip(AB4_COEFFICIENTS, history):
        out = out.add(f, alpha=h * coefficient) if not isinstance(h, Tensor) else out + (h * coefficient) * f
    return out


def make_stepper(name: str, dynamics: Dynamics, **options: object):
    if options:
        raise ValueError(f"method {name!r} takes no options, got {sorted(options)}")
    history: deque[Tensor] = deque(maxlen=4)  # f values, newest first
    rk4 = explicit_rk.TABLEAUS["rk4"]

    def stepper(t: float, x: Tensor, h: float) -> Tensor:
        history.appendleft(dynamics.field(t, x))
        if len(history) < 4:
            return explicit_rk.step(dynamics.field, t, x, h, rk4)
        return step(x, h, list(history))

    return stepper
