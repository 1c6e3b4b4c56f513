"""The analytic state read-off of rendered videos (:mod:`hnn.data.video`): frames → blob position → (q, p).

A frame is ``[1, S, S]`` drawn with a :class:`hnn.data.RenderSpec` (background b, blob centre at a pixel position
(x, y) = (column, row), 0-based). The read-off uses the same spec:

- :func:`read_positions`: the intensity-weighted centroid of w = |frame − b|,
  x = Σ_ij w_ij j / Σ_ij w_ij,  y = Σ_ij w_ij i / Σ_ij w_ij  (sub-pixel; computed in float64). For a Gaussian blob of
  width σ sampled on the pixel grid the centroid is exact up to the aliasing term ∝ exp(−2π²σ²) (up to ~3e-3 px at
  σ = 0.625 px, S = 16; < 1e-11 px at σ ≥ 1.25 px) and the part of the blob cut off by the border (< 2e-6 px with the
  spec's ≥ 4σ of room over the data's range). Every pixel's deviation from b counts, so stray intensity away from the
  blob (a generator's errors) pulls the centroid towards it. An all-background frame has no centroid: NaN.
- :func:`read_states`: the centroid mapped back through the geometry — pendulum q = atan2(x − x_p, y − y_p) (from the
  downward vertical, the pivot (x_p, y_p)), unwrapped along time (each step's difference taken in (−π, π], so the
  motion must turn by less than π per frame); spring q = (x − x_p)/s — and the momentum from the time derivative,
  q̇_k ≈ (q_{k+1} − q_{k−1}) / (2 dt) inside, (−3q_0 + 4q_1 − q_2) / (2 dt) and (3q_{T−1} − 4q_{T−2} + q_{T−3}) / (2 dt)
  at the two ends (errors +dt² q⃛/6 inside and −dt² q⃛/3 at the ends, q⃛ at a point of the stencil: second order
  throughout, and T is kept). Both systems are separable with kinetic energy p²/(2a), so q̇ = ∂H/∂p = p/a and
  p = a q̇; a is read from the system (a = 1/∂H/∂p(1)): a = 1/2 for the HNN paper's H = 3(1 − cos q) + p² and
  H = q² + p² (q̇ = 2p, p = q̇/2). The finite-difference error is the read-off's floor: states read from real clips,
  not the clips' true states, are what states read from generated clips compare with.

The time scale of a motion, from states (read off frames or latent), for the video GAN's speed calibration:

- :func:`turning_rate`: the rate κ at which the phase-space velocity turns, at each interior time,
  κ_k = ‖v_k ∧ a_k‖ / ‖v_k‖² = √(‖v_k‖²‖a_k‖² − (v_k·a_k)²) / ‖v_k‖²  with the central differences
  v_k = (x_{k+1} − x_{k−1}) / (2 dt),  a_k = (x_{k+1} − 2x_k + x_{k−1}) / dt².
  It needs no centre and no scale: it is unchanged by rotations and uniform scalings of the coordinates and by a
  shift, and scales as c when time runs c times faster. On a circle at angular speed ω the differences give
  exactly κ = 2 tan(ω dt / 2) / dt = ω (1 + (ω dt)²/12 + …). Along a closed convex orbit the velocity turns by 2π per
  period P, so the time average of κ over whole periods is 2π/P in any linear coordinates.
- :func:`motion_frequency`: the mean of κ over all trajectories and interior times, ω̂ (rad per unit time); for
  clips that start at random phases of their orbits it estimates the mean of 2π/P (times where v = 0 are left out).

The period match and a pixel-space distance (the video metrics beside the part-1 metrics on read-off states):

- :func:`dominant_frequency`: per trajectory, the ω of the best least-squares fit q(t) ≈ a + b cos ωt + c sin ωt
  (a floating-mean sinusoid, i.e. the peak of the generalised Lomb–Scargle periodogram) over a grid of ω from
  π/(T·dt) (half a period in the clip) to the Nyquist π/dt, refined by a parabola through the best grid point and
  its neighbours. It resolves periods longer than the clip (noiseless q of a sinusoid: exact up to the refinement).
- :func:`energy_frequency`: the angular frequency 2π/P(E) the system's own dynamics give a clip of energy E; for
  the pendulum H = b(1 − cos q) + p²/(2a) (libration, E < 2b) P = 4 K(m)/ω₀, m = E/(2b), ω₀ = √(b/a), K the
  complete elliptic integral of the first kind (:meth:`hnn.systems.Pendulum.period_of`); for the spring P = 2π/ω₀.
- :func:`period_match`: per clip the ratio ω_dom / ω_E of the read-off q(t)'s dominant frequency to the frequency
  implied by the clip's mean read-off energy; reported as the median and mean of |ω_dom/ω_E − 1| over the clips
  that librate (E < 2b; rotating and non-finite clips are counted, not scored). 0 for the true motion up to the
  sinusoid fit's bias for anharmonic orbits and the read-off's finite-difference error.
- :func:`frame_mmd`: the RBF-kernel MMD² (:func:`hnn.evaluation.mmd`: unbiased, median bandwidth, permutation
  p-value) between frames drawn from two sets of clips, each frame a vector of S² pixels. FVD (a Fréchet distance
  on I3D features) needs pretrained weights that cannot be fetched at run time and is not computed.

Contract: ``frames`` is a floating torch tensor ``[..., 1, S, S]`` (S = ``spec.image_size``), ``spec`` a
:class:`hnn.data.RenderSpec`; a non-tensor, a non-floating dtype or a spec of another type is a ``TypeError``, a
wrong shape (or fewer than 3 frames for :func:`read_states`) a ``ValueError``. Results are float64.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from hnn.validate import check_positive

if TYPE_CHECKING:
    from hnn.data.video import RenderSpec

__all__ = ["read_positions", "read_states", "turning_rate", "velocity_turning_rate", "motion_frequency",
           "dominant_frequency", "energy_frequency", "period_match", "frame_mmd"]


def _check(frames: Any, spec: Any, time_axis: bool) -> Tensor:
    from hnn.data.video import RenderSpec  # lazily: hnn.data.video imports Lightning for its DataModule

    if not isinstance(spec, RenderSpec):
        raise TypeError(f"spec must be a hnn.data.RenderSpec, got {type(spec).__name__}")
    if not isinstance(frames, Tensor):
        raise TypeError(f"frames must be a torch.Tensor, got {type(frames).__name__}")
    if not torch.is_floating_point(frames):
        raise TypeError(f"frames must have a floating dtype, got {frames.dtype}")
    size = spec.image_size
    layout = f"[..., T, 1, {size}, {size}]" if time_axis else f"[..., 1, {size}, {size}]"
    if frames.ndim < (4 if time_axis else 3) or tuple(frames.shape[-3:]) != (1, size, size):
        raise ValueError(f"frames must have shape {layout} (the spec's image_size {size}), got {tuple(frames.shape)}")
    return frames


def read_positions(frames: Tensor, spec: RenderSpec) -> Tensor:
    """The blob centres ``[..., 2]`` = (x, y) in pixels (float64) of frames ``[..., 1, S, S]`` (module docstring)."""
    frames = _check(frames, spec, time_axis=False)
    w = (frames.squeeze(-3).to(torch.float64) - spec.background).abs()  # [..., S, S]
    pixels = torch.arange(spec.image_size, dtype=torch.float64, device=frames.device)
    mass = w.sum(dim=(-2, -1))
    x = (w.sum(dim=-2) * pixels).sum(dim=-1) / mass  # column marginal
    y = (w.sum(dim=-1) * pixels).sum(dim=-1) / mass  # row marginal
    return torch.stack([x, y], dim=-1)


def _momentum_per_velocity(system_name: str) -> float:
    """a in p = a q̇, from the system's separable kinetic energy p²/(2a): a = 1/∂H/∂p(1) (checked to be linear)."""
    from hnn.data.trajectories import TRAJECTORY_SYSTEMS
    from hnn.systems import get

    system = get(TRAJECTORY_SYSTEMS[system_name])
    one = torch.ones(1, dtype=torch.float64)
    rate = float(system.dH_dp(one))
    if not system.separable or float(system.dH_dp(2.0 * one)) != 2.0 * rate or rate <= 0.0:
        raise RuntimeError(f"{system_name}: p = a dq/dt needs a kinetic energy p^2/(2a)")  # not reached for these two
    return 1.0 / rate


def read_states(frames: Tensor, spec: RenderSpec, dt: float) -> Tensor:
    """The states ``[..., T, 2]`` = [q, p] (float64) of clips ``[..., T, 1, S, S]`` taken every ``dt`` (T ≥ 3).

    q from the centroid (pendulum: an unwrapped angle, continuous along time, starting in (−π, π]; spring: the inverse
    of the horizontal scale), p = a q̇ with q̇ from second-order finite differences (module docstring).
    """
    frames = _check(frames, spec, time_axis=True)
    dt = check_positive("dt", dt)
    steps = frames.shape[-4]
    if steps < 3:
        raise ValueError(f"read_states needs at least 3 frames per clip (second-order differences), got T = {steps}")
    x, y = read_positions(frames, spec).unbind(-1)  # [..., T]
    dx, dy = x - spec.pivot[0], y - spec.pivot[1]
    if spec.system == "pendulum":
        q = torch.atan2(dx, dy)
        step = torch.diff(q, dim=-1)
        step = torch.atan2(torch.sin(step), torch.cos(step))  # each frame-to-frame turn in (−π, π]
        q = torch.cat([q[..., :1], q[..., :1] + torch.cumsum(step, dim=-1)], dim=-1)
    else:
        q = dx / spec.scale
    inner = (q[..., 2:] - q[..., :-2]) / (2.0 * dt)
    first = (-3.0 * q[..., :1] + 4.0 * q[..., 1:2] - q[..., 2:3]) / (2.0 * dt)
    last = (3.0 * q[..., -1:] - 4.0 * q[..., -2:-1] + q[..., -3:-2]) / (2.0 * dt)
    qdot = torch.cat([first, inner, last], dim=-1)
    return torch.stack([q, _momentum_per_velocity(spec.system) * qdot], dim=-1)


def _check_states(name: str, states: Any) -> Tensor:
    if not isinstance(states, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(states).__name__}")
    if not torch.is_floating_point(states):
        raise TypeError(f"{name} must have a floating dtype, got {states.dtype}")
    if states.ndim < 2 or states.shape[-2] < 3 or states.shape[-1] < 2:
        raise ValueError(f"{name} must have shape [..., T >= 3, d >= 2] (a velocity turns in a plane), got "
                         f"{tuple(states.shape)}")
    return states.detach().to(torch.float64)


def turning_rate(states: Tensor, dt: float) -> Tensor:
    """κ ``[..., T − 2]`` (float64) of trajectories ``states [..., T, d]`` sampled every ``dt`` (module docstring):
    the turning rate of the velocity at each interior time; NaN where the central velocity is 0."""
    x = _check_states("states", states)
    dt = check_positive("dt", dt)
    v = (x[..., 2:, :] - x[..., :-2, :]) / (2.0 * dt)
    a = (x[..., 2:, :] - 2.0 * x[..., 1:-1, :] + x[..., :-2, :]) / (dt * dt)
    return velocity_turning_rate(v, a)


def velocity_turning_rate(v: Tensor, a: Tensor, valid: Tensor | None = None) -> Tensor:
    """κ = ‖v ∧ a‖ / ‖v‖² = √(‖v‖²‖a‖² − (v·a)²) / ‖v‖² ``[...]`` of velocities and accelerations ``[..., d]``;
    NaN where v = 0 or ``valid`` (a boolean mask ``[...]``) is False."""
    vv, aa, va = v.square().sum(-1), a.square().sum(-1), (v * a).sum(-1)
    cross = (vv * aa - va.square()).clamp_min(0.0).sqrt()
    ok = vv > 0 if valid is None else valid & (vv > 0)
    return torch.where(ok, cross / torch.where(ok, vv, torch.ones_like(vv)), torch.full_like(vv, math.nan))


def motion_frequency(states: Tensor, dt: float) -> float:
    """ω̂ = the mean turning rate of ``states [..., T, d]`` over every trajectory and interior time (module
    docstring); ValueError when no time has a non-zero velocity or the result is not finite."""
    kappa = turning_rate(states, dt)
    valid = ~torch.isnan(kappa)
    if not bool(valid.any()):
        raise ValueError("motion_frequency: the states never move (zero velocity at every time)")
    value = float(kappa[valid].mean())
    if not math.isfinite(value):
        raise ValueError(f"motion_frequency: the mean turning rate is {value} (states with non-finite values?)")
    return value


def dominant_frequency(q: Tensor, dt: float, grid: int = 2048) -> Tensor:
    """ω ``[...]`` (float64, rad per unit time) of the best floating-mean sinusoid fit of each series ``q [..., T]``
    (T ≥ 4) sampled every ``dt`` (module docstring), over ``grid`` frequencies from π/(T·dt) to π/dt."""
    if not isinstance(q, Tensor):
        raise TypeError(f"q must be a torch.Tensor, got {type(q).__name__}")
    if not torch.is_floating_point(q):
        raise TypeError(f"q must have a floating dtype, got {q.dtype}")
    if q.ndim < 1 or q.shape[-1] < 4:
        raise ValueError(f"q must have shape [..., T >= 4] (a sinusoid with a mean has 4 free numbers), got "
                         f"{tuple(q.shape)}")
    dt = check_positive("dt", dt)
    grid = int(grid)
    if grid < 3:
        raise ValueError(f"grid must be at least 3 frequencies, got {grid}")
    x = q.detach().to(torch.float64)
    steps = x.shape[-1]
    lead = x.shape[:-1]
    x = x.reshape(-1, steps)
    x = x - x.mean(-1, keepdim=True)
    t = torch.arange(steps, dtype=torch.float64, device=x.device) * dt
    omegas = torch.linspace(math.pi / (steps * dt), math.pi / dt, grid, dtype=torch.float64, device=x.device)
    design = torch.stack([torch.ones_like(omegas)[:, None].expand(-1, steps),
                          torch.cos(omegas[:, None] * t), torch.sin(omegas[:, None] * t)], dim=-1)  # [G, T, 3]
    basis, _ = torch.linalg.qr(design)  # orthonormal columns spanning {1, cos ωt, sin ωt}
    explained = torch.einsum("gtk,nt->ngk", basis, x).square().sum(-1)  # ‖Qᵀx‖² [N, G]
    best = explained.argmax(-1).clamp(1, grid - 2)
    rows = torch.arange(x.shape[0], device=x.device)
    y0, y1, y2 = explained[rows, best - 1], explained[rows, best], explained[rows, best + 1]
    curvature = y0 - 2.0 * y1 + y2
    shift = torch.where(curvature < 0, 0.5 * (y0 - y2) / torch.where(curvature < 0, curvature, -torch.ones_like(
        curvature)), torch.zeros_like(curvature)).clamp(-1.0, 1.0)
    step = omegas[1] - omegas[0]
    return (omegas[best] + shift * step).reshape(lead)


def energy_frequency(system: Any, energy: Tensor) -> Tensor:
    """2π/P(E) ``[...]`` (float64) of the system's motion at energies ``energy [...]`` (module docstring): the
    pendulum's exact amplitude-dependent period (rotation: the time of one full turn; inf at the separatrix gives
    0), the spring's 2π/ω₀ at every energy. TypeError for a system with neither."""
    if not isinstance(energy, Tensor):
        raise TypeError(f"energy must be a torch.Tensor, got {type(energy).__name__}")
    e = energy.detach().to(torch.float64)
    period_of = getattr(system, "period_of", None)
    if callable(period_of) and hasattr(system, "inertia"):
        # a state of energy E at the bottom: q = 0, p = √(2aE) (H = p²/(2a) there)
        p = torch.sqrt(2.0 * float(system.inertia) * e.clamp_min(0.0))
        period = period_of(torch.stack([torch.zeros_like(p), p], dim=-1))
    elif getattr(system, "omega0", None) is not None and getattr(system, "name", "") == "spring":
        period = torch.full_like(e, 2.0 * math.pi / float(system.omega0))
    else:
        raise TypeError(f"energy_frequency knows the pendulum's and the spring's periods, not "
                        f"{type(system).__name__}'s")
    return 2.0 * math.pi / period


def period_match(states: Tensor, system: Any, dt: float) -> dict[str, float]:
    """The period match of read-off states ``[N, T, 2]`` (module docstring): ``period_error_median`` and
    ``period_error_mean`` of |ω_dom/ω_E − 1| over the ``n_scored`` librating clips, ``n_unscored`` the others."""
    x = _check_states("states", states)
    if x.ndim != 3 or x.shape[-1] != 2:
        raise ValueError(f"states must have shape [N, T, 2] (layout [q, p]), got {tuple(x.shape)}")
    if x.shape[1] < 4:
        raise ValueError(f"period_match needs T >= 4 frames, got {x.shape[1]}")
    with torch.no_grad():
        energy = system.hamiltonian(x).to(torch.float64).mean(-1)
    omega_e = energy_frequency(system, energy)
    omega = dominant_frequency(x[..., 0], dt)
    librating = torch.isfinite(omega_e) & (omega_e > 0) & torch.isfinite(omega)
    if hasattr(system, "torque"):
        librating &= energy < 2.0 * float(system.torque)
    error = (omega / omega_e - 1.0).abs()[librating]
    scored = int(librating.sum())
    return {"period_error_median": float(error.median()) if scored else math.nan,
            "period_error_mean": float(error.mean()) if scored else math.nan,
            "n_scored": scored, "n_unscored": int(x.shape[0]) - scored}


def frame_mmd(a: Tensor, b: Tensor, n_frames: int = 1000, permutations: int = 200,
              generator: torch.Generator | None = None) -> Any:
    """:func:`hnn.evaluation.mmd` of ``n_frames`` frames drawn (without replacement, from ``generator``) from each of
    two clip sets ``[N, T, C, S, S]`` and ``[M, T', C, S, S]`` (fewer if a set has fewer frames); returns its
    :class:`~hnn.evaluation.MMDResult`."""
    from hnn.evaluation.gan import mmd

    for name, clips in (("a", a), ("b", b)):
        if not isinstance(clips, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of clips, got {type(clips).__name__}")
        if clips.ndim != 5:
            raise ValueError(f"{name} must have shape [N, T, C, S, S] (clips), got {tuple(clips.shape)}")
    if a.shape[2:] != b.shape[2:]:
        raise ValueError(f"a and b must have frames of one shape, got {tuple(a.shape[2:])} and {tuple(b.shape[2:])}")
    n_frames = int(n_frames)
    if n_frames < 2:
        raise ValueError(f"n_frames must be at least 2, got {n_frames}")

    def draw(clips: Tensor) -> Tensor:
        frames = clips.reshape(-1, *clips.shape[2:])
        index = torch.randperm(frames.shape[0], generator=generator)[:n_frames]
        return frames[index.to(frames.device)]

    return mmd(draw(a), draw(b), permutations=permutations, generator=generator)
