"""States drawn from the canonical ensemble ρ(x) ∝ exp(−H(x)/T) of a Hamiltonian.

exp(−H/T) must be normalisable on the state space.  Periodic coordinates (``periodic`` flags of
an ``hnn.systems`` object, or given) are sampled on the line — H is 2π-periodic there, so the
chain projected to the circle is a valid chain for the density on (−π, π] — and wrapped to
(−π, π].  Every other coordinate needs a finite box ``domain`` (sampled through the smooth
bijection x = a + (b − a)·σ(u), adding −log|dx/du| to the energy), unless the density is known
to be normalisable: pass ``normalizable=True``, or use a ``hnn.systems`` system whose ensemble
is known to be proper (oscillators: Gaussian; pendulums: periodic angles, quadratic momenta).
Anything else raises ``ValueError`` before sampling.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from hnn.sampling.hmc import HMC
from hnn.sampling.nuts import NUTS

# hnn.systems whose exp(−H/T) is normalisable once periodic angles are wrapped (quadratic or
# bounded potential in the non-periodic q, positive-definite quadratic kinetic energy).
NORMALIZABLE_SYSTEMS = frozenset(
    {"spring", "mass_spring", "damped_mass_spring", "pendulum", "ideal_pendulum", "damped_pendulum", "double_pendulum"}
)
SAMPLERS = ("nuts", "hmc")


def _wrap_angle(x: Tensor) -> Tensor:
    """Map angles to (−π, π]."""
    return math.pi - torch.remainder(math.pi - x, 2.0 * math.pi)


def sample_canonical(
    hamiltonian: Any,
    temperature: float,
    n: int,
    *,
    dim: int | None = None,
    periodic: Sequence[bool] | None = None,
    domain: tuple[Any, Any] | None = None,
    normalizable: bool = False,
    chains: int = 4,
    num_warmup: int = 500,
    thin: int = 2,
    sampler: str = "nuts",
    initial: Tensor | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    **sampler_options: Any,
) -> Tensor:
    """Return ``n`` states (n, dim) drawn from exp(−H(x)/T).

    ``hamiltonian``: an object with ``hamiltonian(x)`` (an ``hnn.systems`` system, a learned
    model) or a callable x -> H(x) of shape (batch,).  ``dim``: state size (taken from
    ``hamiltonian.dim`` when present).  ``periodic``: one flag per generalised coordinate q
    (first half of the state; default ``hamiltonian.periodic`` or none).  ``domain``: (low, high),
    scalars or length-``dim`` sequences, a finite box for the non-periodic coordinates.
    """
    energy_fn: Callable[[Tensor], Tensor]
    if hasattr(hamiltonian, "hamiltonian") and callable(hamiltonian.hamiltonian):
        energy_fn = hamiltonian.hamiltonian
    elif callable(hamiltonian):
        energy_fn = hamiltonian
    else:
        raise TypeError(f"hamiltonian must be callable or have a .hamiltonian method, got {type(hamiltonian).__name__}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    for name, value, minimum in (("n", n, 1), ("chains", chains, 1), ("num_warmup", num_warmup, 0), ("thin", thin, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {list(SAMPLERS)}")
    if dim is None:
        dim = getattr(hamiltonian, "dim", None)
        if dim is None and initial is not None:
            dim = initial.shape[-1]
    if not isinstance(dim, int) or dim < 1:
        raise ValueError("the state dimension is unknown: pass dim= (or a hamiltonian with a .dim attribute)")
    if periodic is None:
        periodic = getattr(hamiltonian, "periodic", None) or ()
    periodic = [bool(v) for v in periodic]
    if len(periodic) > dim:
        raise ValueError(f"periodic has {len(periodic)} flags but the state has only {dim} entries")
    periodic_mask = torch.tensor(periodic + [False] * (dim - len(periodic)), dtype=torch.bool)

    low = high = None
    if domain is not None:
        if not (isinstance(domain, (tuple, list)) and len(domain) == 2):
            raise ValueError("domain must be a pair (low, high) of scalars or length-dim sequences")
        low = torch.as_tensor(domain[0], dtype=torch.float64).expand(dim).clone()
        high = torch.as_tensor(domain[1], dtype=torch.float64).expand(dim).clone()
        if not bool((high > low).all()):
            raise ValueError("domain must satisfy low < high in every coordinate")
    boxed = torch.zeros(dim, dtype=torch.bool) if low is None else (torch.isfinite(low) & torch.isfinite(high))
    confined = periodic_mask | boxed
    known = getattr(hamiltonian, "name", None) in NORMALIZABLE_SYSTEMS and hasattr(hamiltonian, "vector_field")
    if not bool(confined.all()) and not normalizable and not known:
        free = torch.nonzero(~confined).flatten().tolist()
        raise ValueError(
            f"exp(-H/T) may not be normalisable: state coordinates {free} are neither periodic nor inside a finite "
            "domain. Pass domain=(low, high), periodic flags, or normalizable=True if you know the density is proper."
        )
    use_box = bool(boxed.any())
    scale = 1.0 / float(temperature)
    kw = {"dtype": dtype}
    if device is not None:
        kw["device"] = device
    if use_box:
        low_t, high_t = low.to(**kw), high.to(**kw)
        box = boxed.to(kw.get("device", "cpu"))
        width = torch.where(box, high_t - low_t, torch.ones_like(low_t))
        base = torch.where(box, low_t, torch.zeros_like(low_t))

    def to_state(u: Tensor) -> Tensor:
        if not use_box:
            return u
        return torch.where(box, base + width * torch.sigmoid(u), u)

    def energy(u: Tensor) -> Tensor:
        value = energy_fn(to_state(u)) * scale
        if use_box:  # −log|dx/du| = −Σ log(w σ(u)(1 − σ(u)))
            log_jac = torch.log(width) + torch.nn.functional.logsigmoid(u) + torch.nn.functional.logsigmoid(-u)
            value = value - (log_jac * box).sum(-1)
        return value

    if initial is None:
        if not use_box and hasattr(hamiltonian, "sample_initial"):
            initial = hamiltonian.sample_initial(chains, generator=generator, **kw)
        else:
            initial = torch.zeros(chains, dim, **kw)
    else:
        initial = initial.to(**kw)
        if use_box:
            frac = ((initial - base) / width).clamp(1e-6, 1 - 1e-6)
            initial = torch.where(box, torch.logit(frac), initial)
    if initial.dim() != 2 or initial.shape[1] != dim:
        raise ValueError(f"initial must have shape (chains, {dim}), got {tuple(initial.shape)}")
    draws = math.ceil(n / initial.shape[0]) * thin
    if sampler == "nuts":
        # unwrapped periodic coordinates drift across periods: keep an identity mass for them
        default_mass = "identity" if bool(periodic_mask.any()) else "diag"
        mcmc = NUTS(energy, mass=sampler_options.pop("mass", default_mass), **sampler_options)
    else:
        mcmc = HMC(energy, **sampler_options)
    result = mcmc.sample(initial, num_samples=draws, num_warmup=num_warmup, generator=generator)
    # interleave chains so that the first n states come from all chains
    states = result.samples[:, ::thin].transpose(0, 1).reshape(-1, dim)
    states = to_state(states)[:n]
    return torch.where(periodic_mask.to(states.device), _wrap_angle(states), states)
