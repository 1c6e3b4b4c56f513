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

__all__ = ["read_positions", "read_states", "turning_rate", "motion_frequency"]


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
    vv, aa, va = v.square().sum(-1), a.square().sum(-1), (v * a).sum(-1)
    cross = (vv * aa - va.square()).clamp_min(0.0).sqrt()
    return torch.where(vv > 0, cross / torch.where(vv > 0, vv, torch.ones_like(vv)), torch.full_like(vv, math.nan))


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

