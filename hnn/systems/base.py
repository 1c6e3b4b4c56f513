"""Common base class and input checks for the ground-truth Hamiltonian systems.

State layout: ``x[..., :n]`` are the generalised coordinates q, ``x[..., n:]`` the conjugate momenta p,
so ``dim = 2n``; any number of leading batch dimensions is allowed.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from hnn.validate import check_int, check_nonnegative, check_positive, check_range  # noqa: F401  (re-exported)

__all__ = ["HamiltonianSystem", "check_positive", "check_nonnegative", "check_range", "sample_ring"]

# Options of the float64 reference integration used where no closed-form trajectory exists.
# dopri5 at rtol = atol = 1e-12 reaches ~1e-10 accuracy over a few periods of every system here
# (tests/test_systems.py checks it against a 10x tighter run and against conserved quantities).
REFERENCE_METHOD = "torchdiffeq:dopri5"
REFERENCE_RTOL = 1e-12
REFERENCE_ATOL = 1e-12


def wrap_angle(x: Tensor) -> Tensor:
    """Angles mapped into (−π, π]: π − ((π − x) mod 2π) (the one angle wrap of hnn)."""
    return math.pi - torch.remainder(math.pi - x, 2.0 * math.pi)


class HamiltonianSystem:
    """Base class: a known Hamiltonian H(q, p) with its closed-form vector field.

    Subclasses set ``name``, ``dim``, ``periodic`` (one flag per coordinate q_i), ``time_scale``, ``period``
    and ``params`` (the keyword arguments that ``hnn.systems.get(name, **params)`` rebuilds the system from),
    and implement :meth:`hamiltonian`, :meth:`vector_field` and :meth:`sample_initial`.

    Conventions:

    - ``vector_field(x) = J ∇H(x) = [∂H/∂p, −∂H/∂q]`` for conservative systems; ``dissipative = True``
      systems add their damping term and then ``hamiltonian`` is the conservative energy only.
    - ``separable = True`` systems (H = T(p) + V(q)) also give ``dH_dq(q)`` and ``dH_dp(p)``.
    - ``trajectory(x0, t)`` treats ``x0`` as the state at time ``t[0]`` and returns ``[len(t), *batch, dim]``.
    """

    name: str = "system"
    dim: int = 2
    separable: bool = False
    dissipative: bool = False
    periodic: tuple[bool, ...] = (False,)
    period: float | None = None
    time_scale: float = 1.0

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    # ------------------------------------------------------------------ helpers
    @property
    def n(self) -> int:
        """Number of degrees of freedom (``dim // 2``)."""
        return self.dim // 2

    def check_state(self, x: Tensor, what: str = "state") -> Tensor:
        """Raise unless ``x`` is a floating tensor whose last dimension is ``dim``; return it unchanged."""
        if not isinstance(x, Tensor):
            raise TypeError(f"{self.name}: {what} must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.dim:
            got = tuple(x.shape)
            raise ValueError(
                f"{self.name}: {what} must have last dimension {self.dim} (layout [q, p], n={self.n}), "
                f"got shape {got}"
            )
        if not torch.is_floating_point(x):
            raise TypeError(f"{self.name}: {what} must have a floating dtype, got {x.dtype}")
        return x

    def _check_half(self, v: Tensor, what: str) -> Tensor:
        if not isinstance(v, Tensor):
            raise TypeError(f"{self.name}: {what} must be a torch.Tensor, got {type(v).__name__}")
        if v.ndim == 0 or v.shape[-1] != self.n:
            raise ValueError(f"{self.name}: {what} must have last dimension {self.n}, got shape {tuple(v.shape)}")
        return v

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Split a state ``[..., 2n]`` into ``(q, p)``, each ``[..., n]``."""
        self.check_state(x)
        return x[..., : self.n], x[..., self.n :]

    def wrap(self, x: Tensor) -> Tensor:
        """Map the periodic coordinates of ``x`` into (−π, π]; other entries are returned unchanged."""
        self.check_state(x)
        mask = torch.tensor(list(self.periodic) + [False] * self.n, device=x.device)
        return torch.where(mask, wrap_angle(x), x)

    @staticmethod
    def _check_t(t: Tensor | Sequence[float], like: Tensor) -> Tensor:
        t = torch.as_tensor(t, device=like.device)
        if t.ndim != 1 or t.numel() == 0:
            raise ValueError(f"t must be a non-empty 1-D sequence of times, got shape {tuple(t.shape)}")
        if not torch.is_floating_point(t):
            t = t.to(torch.get_default_dtype())
        if not bool(torch.isfinite(t).all()):
            raise ValueError("t must contain only finite times")
        return t

    @staticmethod
    def _float_options(dtype: torch.dtype | None, device: torch.device | str | None,
                       generator: torch.Generator | None) -> tuple[torch.dtype, torch.device, torch.device]:
        """Resolve (output dtype, output device, sampling device) for ``sample_initial``."""
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating dtype, got {dtype}")
        sample_device = generator.device if generator is not None else torch.device("cpu")
        out_device = torch.device(device) if device is not None else sample_device
        return dtype, out_device, sample_device

    @staticmethod
    def _check_count(n: int) -> int:
        return check_int("n", n, minimum=0)

    # ------------------------------------------------------------------ interface
    def hamiltonian(self, x: Tensor) -> Tensor:
        """H(x) -> ``[...]``, one energy per batch element."""
        raise NotImplementedError

    def vector_field(self, x: Tensor) -> Tensor:
        """dx/dt at ``x`` (closed form), same shape as ``x``."""
        raise NotImplementedError

    def sample_initial(self, n: int, generator: torch.Generator | None = None, *,
                       dtype: torch.dtype | None = None,
                       device: torch.device | str | None = None) -> Tensor:
        """``n`` random initial states ``[n, dim]`` (recipe documented per system)."""
        raise NotImplementedError

    def trajectory(self, x0: Tensor, t: Tensor | Sequence[float]) -> Tensor:
        """Reference solution ``[len(t), *batch, dim]`` with ``x0`` the state at ``t[0]``.

        Default: float64 dopri5 integration through ``hnn.integrate`` at rtol = atol = 1e-12 (accurate to
        ~1e-10 over a few periods); the result is cast back to ``x0.dtype``.
        """
        self.check_state(x0, "x0")
        t = self._check_t(t, x0)
        from hnn.integrators import integrate  # systems sit above integrators in the layout

        with torch.no_grad():  # ground truth: no graph needed
            out = integrate(self, x0.detach().to(torch.float64), t.to(torch.float64), method=REFERENCE_METHOD,
                            rtol=REFERENCE_RTOL, atol=REFERENCE_ATOL)
        return out.to(x0.dtype)

    # ------------------------------------------------------------------ niceties
    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}(name={self.name!r}{', ' + args if args else ''})"


def sample_ring(n: int, radius: tuple[float, float], generator: torch.Generator | None,
                device: torch.device) -> Tensor:
    """The HNN paper's 1-DoF recipe, float64 ``[n, 2]``: a direction from a uniform point in [−1, 1)² (normalised,
    so not uniform in angle, as in the paper's code) scaled to a radius drawn uniformly from ``radius``."""
    low, high = radius
    direction = torch.rand(n, 2, generator=generator, device=device, dtype=torch.float64) * 2.0 - 1.0
    norm = direction.norm(dim=-1, keepdim=True)
    # A point exactly at the origin has no direction (probability ~0); give it a fixed one instead of NaN.
    direction = torch.where(norm > 0, direction / norm.clamp_min(1e-300), torch.tensor([1.0, 0.0], device=device,
                                                                                       dtype=torch.float64))
    r = torch.rand(n, 1, generator=generator, device=device, dtype=torch.float64) * (high - low) + low
    return direction * r
