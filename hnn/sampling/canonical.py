"""States drawn from the canonical ensemble ρ(x) ∝ exp(−H(x)/T) of a Hamiltonian.

exp(−H/T) must be normalisable on the state space.  A periodic coordinate θ (``periodic`` flags of
an ``hnn.systems`` object, or given) lives on the circle: it is sampled through a point
u = (a, b) ∈ ℝ² with θ = atan2(b, a) ∈ (−π, π] and an extra factor exp(−|u|²/2) (Stan's
unit-vector trick).  In polar coordinates du = r dr dθ, so the θ-marginal of
exp(−H(θ, ·)/T − r²/2) is exactly exp(−H/T) on the circle, while the sampler sees a proper,
U-turning density (on the line a periodic H would make NUTS trajectories run to max depth).
Every other coordinate needs a finite box ``domain`` (sampled through the smooth bijection
x = lo + (hi − lo)·σ(v), adding −log|dx/dv| to the energy), unless the density is known to be
normalisable: pass ``normalizable=True``, or use a ``hnn.systems`` system whose ensemble is known
to be proper (oscillators: Gaussian; pendulums: periodic angles, quadratic momenta).  Anything
else raises ``ValueError`` before sampling.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from hnn.sampling.hmc import HMC
from hnn.sampling.nuts import NUTS
from hnn.sampling.tempering import ParallelTempering
from hnn.systems.base import wrap_angle

# hnn.systems whose exp(−H/T) is normalisable once periodic angles are wrapped (quadratic or
# bounded potential in the non-periodic q, positive-definite quadratic kinetic energy).
NORMALIZABLE_SYSTEMS = frozenset(
    {"spring", "mass_spring", "damped_mass_spring", "pendulum", "ideal_pendulum", "damped_pendulum", "double_pendulum"}
)
SAMPLERS = ("nuts", "hmc", "tempering")


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
    ``sampler``: ``"nuts"``, ``"hmc"`` or ``"tempering"`` (:class:`ParallelTempering`: replica exchange, for an
    H with wells that one chain does not cross at T); ``sampler_options`` go to its constructor.
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
    use_box = bool((boxed & ~periodic_mask).any())
    scale = 1.0 / float(temperature)
    kw = {"dtype": dtype}
    if device is not None:
        kw["device"] = device
    target_device = torch.device(kw.get("device", "cpu"))
    box = (boxed & ~periodic_mask).to(target_device)
    if use_box:
        low_t, high_t = low.to(**kw), high.to(**kw)
        width = torch.where(box, high_t - low_t, torch.ones_like(low_t))
        base = torch.where(box, low_t, torch.zeros_like(low_t))
    periodic_index = torch.nonzero(periodic_mask).flatten().to(target_device)
    n_periodic = int(periodic_index.numel())

    def to_state(u: Tensor) -> Tensor:
        """Sampler coordinates (…, dim + n_periodic) -> states (…, dim)."""
        x = u[..., :dim]
        if use_box:
            x = torch.where(box, base + width * torch.sigmoid(x), x)
        if n_periodic:
            angle = wrap_angle(torch.atan2(u[..., dim:], x[..., periodic_index]))  # atan2 may give −π
            x = x.index_copy(-1, periodic_index, angle)
        return x

    def energy(u: Tensor) -> Tensor:
        value = energy_fn(to_state(u)) * scale
        v = u[..., :dim]
        if use_box:  # −log|dx/dv| = −Σ log(w σ(v)(1 − σ(v)))
            log_jac = torch.log(width) + torch.nn.functional.logsigmoid(v) + torch.nn.functional.logsigmoid(-v)
            value = value - (log_jac * box).sum(-1)
        if n_periodic:  # radial factor exp(−|u|²/2) of each circle point
            value = value + 0.5 * (v[..., periodic_index].square() + u[..., dim:].square()).sum(-1)
        return value

    if initial is None:
        if not use_box and hasattr(hamiltonian, "sample_initial"):
            initial = hamiltonian.sample_initial(chains, generator=generator, **kw)
        else:
            initial = torch.zeros(chains, dim, **kw)
    else:
        initial = initial.to(**kw)
    if initial.dim() != 2 or initial.shape[1] != dim:
        raise ValueError(f"initial must have shape (chains, {dim}), got {tuple(initial.shape)}")
    if not bool(torch.isfinite(initial).all()):
        raise ValueError("initial contains non-finite values")
    start = initial
    if use_box:
        frac = ((initial - base) / width).clamp(1e-6, 1 - 1e-6)
        start = torch.where(box, torch.logit(frac), start)
    if n_periodic:  # the angle θ as the unit-circle point (cos θ, sin θ)
        theta = initial[:, periodic_index]
        start = torch.cat([start.index_copy(-1, periodic_index, theta.cos()), theta.sin()], -1)
    draws = math.ceil(n / initial.shape[0]) * thin
    if sampler == "nuts":
        mcmc = NUTS(energy, mass=sampler_options.pop("mass", "diag"), **sampler_options)
    elif sampler == "tempering":  # replica exchange between exp(−H/(T·T_k)), for energies with several wells
        mcmc = ParallelTempering(energy, **sampler_options)
    else:
        mcmc = HMC(energy, **sampler_options)
    result = mcmc.sample(start, num_samples=draws, num_warmup=num_warmup, generator=generator)
    # interleave chains so that the first n states come from all chains
    states = result.samples[:, ::thin].transpose(0, 1).reshape(-1, start.shape[-1])
    return to_state(states)[:n]
