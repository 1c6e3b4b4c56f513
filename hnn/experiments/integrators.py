"""Helpers of the integrator benchmark (``scripts/bench_integrators.py``): which methods are hnn's own, and the
equal-accuracy search for the fewest steps that reach a target error.
"""
from __future__ import annotations

import math
from collections.abc import Callable

from hnn.integrators import available
from hnn.validate import check_int, check_positive

__all__ = ["our_methods", "fewest_steps"]


def our_methods() -> list[str]:
    """Every method of ``hnn.integrate`` that is hnn's own (not a ``torchdiffeq:…`` solver), in registry order."""
    return [name for name, info in available().items() if info.family != "torchdiffeq"]


def fewest_steps(error_at: Callable[[int], float], target: float, order: int, start: int = 64,
                 limit: int = 1 << 17) -> int:
    """Smallest N (to within 1 %) with ``error_at(N) <= target`` for a fixed-step method of the given order.

    Jumps by the error model e(N) ∝ N^−order until a failing and a passing N bracket the target (a blown-up
    rollout, ``error_at(N) = inf``, doubles N), then bisects; assumes the error falls monotonically with N near the
    target. The result N has ``error_at(N) <= target`` and N − max(1, N // 100) < N_min ≤ N, N_min the true minimum.
    Raises RuntimeError when no N up to ``limit`` reaches the target.
    """
    if not callable(error_at):
        raise TypeError(f"error_at must be a callable N -> error, got {type(error_at).__name__}")
    check_positive("target", target)
    check_int("order", order, minimum=1)
    check_int("start", start, minimum=1)
    check_int("limit", limit, minimum=1)
    failing, passing = 0, None  # error_at(failing) > target (0: "no steps"), error_at(passing) <= target
    steps = start
    while passing is None or passing - failing > max(1, passing // 100):
        if steps > limit:
            raise RuntimeError(f"no step count up to {limit} reaches error {target:g}")
        error = error_at(steps)
        if error <= target:
            passing = steps
        else:
            failing = steps
        if passing is None:  # still above the target: jump past it by the error model (at least ×1.05)
            jump = (error / target) ** (1.0 / order) * 1.03 if math.isfinite(error) else 2.0
            steps = max(steps + 1, math.ceil(steps * max(jump, 1.05)))
        elif failing == 0:  # below the target from the start: jump down, not past it
            jump = (target / max(error, 1e-300)) ** (1.0 / order) / 1.03
            steps = min(passing - 1, math.floor(passing / max(jump, 1.05)))
            if steps < 1:
                return passing
        else:
            steps = (failing + passing) // 2
    return passing
