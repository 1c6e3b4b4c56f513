"""Metadata every integration method publishes, and the small stepper protocol the driver uses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from torch import Tensor


@dataclass(frozen=True)
class MethodInfo:
    """What a user needs to choose a method.

    order: global order of accuracy p (error O(dt^p)); symplectic: the one-step map preserves the symplectic form
    (for the Hamiltonians it accepts); implicit: solves an equation each step; needs_separable: requires
    H = T(p) + V(q); multistep: uses past steps (needs uniform t).
    """

    name: str
    family: str
    order: int
    symplectic: bool
    implicit: bool = False
    needs_separable: bool = False
    multistep: bool = False
    description: str = ""


class Stepper(Protocol):
    """Advances the state by one step of size h from time t (may keep caches between calls)."""

    def __call__(self, t: float, x: Tensor, h: float) -> Tensor: ...
