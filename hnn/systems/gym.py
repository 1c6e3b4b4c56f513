"""The physics of four gymnasium classic-control envs, as batched torch functions (no gymnasium import, no learning).

Each :class:`GymSystem` is an exact batched copy of one env's update rule in the env's own state layout
(``env.unwrapped.state``), plus what learning from it needs: the map to a canonical layout ``s = [q, q̇]``
(coordinates then velocities), which coordinates are angles, the map from the env's action to the physical input
``u`` (a torque or force), the continuous field ``ṡ = f(s, u)`` the env discretises, and the *post-step* — the
clips, walls and wraps the env applies after its integration step, which no smooth field can represent.

====================================  ======================================================================
env (dt)                              update rule, and what it means for a learned model
====================================  ======================================================================
Pendulum-v1 (0.05)                    θ̇' = θ̇ + dt(3g/2l · sin θ + 3/(ml²) · u), θ̇' clipped to ±8, θ' = θ + dt θ̇'
                                      with u = clip(a, ±2): a velocity kick then a drift — ``symplectic_euler``
                                      of H = p²/2 − (3g/2l) cos θ (unit mass in these units) with input 3u on p.
                                      The state is not wrapped (observations use cos θ, sin θ).
Acrobot-v1 (0.2)                      one RK4 step of Sutton & Barto's two-link equations (``book`` variant)
                                      with torque a − 1 ∈ {−1, 0, 1} on the second joint; then both angles
                                      wrapped to [−π, π] and the velocities clipped to ±4π and ±9π.
CartPole-v1 (0.02)                    explicit Euler of the cart-pole equations with force ±10 N (a = 1: +10);
                                      no clip; the episode terminates at |x| > 2.4 or |θ| > 12°.
MountainCarContinuous-v0 (1.0)        v' = v + 0.0015 u − 0.0025 cos 3x, v' clipped to ±0.07, x' = x + v',
                                      x' clipped to [−1.2, 0.6] and v' = 0 at the left wall when v' < 0, with
                                      u = clip(a, ±1); the state is stored in float32 — symplectic Euler (dt 1) of
                                      H = v²/2 + (0.0025/3) sin 3x plus the constant force 0.0015 u.
====================================  ======================================================================

``constrain(raw) -> (state, acted)`` applies the post-step to the result of the free integration step and reports
where a clip or a wall changed a value (wraps are exact symmetries of the dynamics and are not counted). Data
collection uses it to drop the transitions a smooth field cannot fit; the learned envs apply it after each
learned step, exactly as the real env does.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

__all__ = ["GymSystem", "PendulumSystem", "AcrobotSystem", "CartPoleSystem", "MountainCarContinuousSystem",
           "GYM_SYSTEMS", "gym_system"]


def wrap_angle(x: Tensor) -> Tensor:
    """x wrapped to [−π, π) (Acrobot's ``wrap``, up to the measure-zero endpoint)."""
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


class GymSystem:
    """One env's physics. Subclasses set the class attributes and the four layout/physics methods.

    Attributes:
        env_id: the gymnasium id.  dt: the env's step.  n_q: coordinates (the canonical state has 2·n_q entries).
        n_u: physical inputs.  angles: one flag per coordinate, True for an angle (to be compared on the circle and
        fed to nets as (cos, sin)).  state_dim: entries of ``env.unwrapped.state``.  obs_dim: observation entries.
        n_actions: number of discrete actions, or None for a Box action space.  action_low/high: Box bounds.
        max_episode_steps: the registered time limit.
    """

    env_id: str
    dt: float
    n_q: int
    n_u: int = 1
    angles: tuple[bool, ...]
    state_dim: int
    obs_dim: int
    n_actions: int | None = None
    action_low: float | None = None
    action_high: float | None = None
    max_episode_steps: int

    # ------------------------------------------------------------------ layouts
    def to_canonical(self, state: Tensor) -> Tensor:
        """Env layout ``[..., state_dim]`` → canonical ``s = [q, q̇]`` ``[..., 2·n_q]``."""
        return state

    def from_canonical(self, s: Tensor) -> Tensor:
        """Canonical ``[q, q̇]`` → env layout."""
        return s

    def action_to_input(self, action: Tensor) -> Tensor:
        """The env's action (``[..., 1]`` floats for Box spaces, integer ``[...]`` for Discrete) → ``u [..., n_u]``,
        the physical torque/force its dynamics apply (after the env's own clipping)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ physics
    def field(self, s: Tensor, u: Tensor) -> Tensor:
        """The continuous dynamics ṡ = f(s, u) in the canonical layout."""
        raise NotImplementedError

    def free_step(self, state: Tensor, u: Tensor) -> Tensor:
        """The env's integration step in its own layout, before any clip, wall or wrap."""
        raise NotImplementedError

    def constrain(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        """The post-step applied to ``free_step``'s result: ``(state, acted)``, ``acted [...]`` True where a clip or
        wall changed the state."""
        return raw, torch.zeros(raw.shape[:-1], dtype=torch.bool, device=raw.device)

    def step(self, state: Tensor, action: Tensor) -> Tensor:
        """Exactly the env's ``step`` on ``env.unwrapped.state`` (batched): constrain(free_step(state, u(action)))."""
        return self.constrain(self.free_step(state, self.action_to_input(action)))[0]

    def step_model(self, transition: Callable[[Tensor, Tensor, float], Tensor], state: Tensor,
                   action: Tensor) -> Tensor:
        """One step of a *model* of this env, the way the env steps itself: the model's free step in the canonical
        layout, then the env's own post-step,

            state' = constrain(from_canonical(transition(to_canonical(state), u(action), dt))),

        ``transition(s, u, dt) -> s'`` (e.g. :meth:`hnn.models.DynamicsModule.transition`). The one learned step
        of the learned envs and the open-loop evaluation.
        """
        u = self.action_to_input(action).to(state.dtype)
        s_next = transition(self.to_canonical(state), u, self.dt)
        if not isinstance(s_next, Tensor) or s_next.shape != state.shape[:-1] + (2 * self.n_q,):
            raise RuntimeError(f"the model's transition returned {getattr(s_next, 'shape', type(s_next))} for a "
                               f"state of shape {tuple(state.shape)}; it must return the next state, same shape")
        return self.constrain(self.from_canonical(s_next.to(state.dtype)))[0]

    def observation(self, state: Tensor) -> Tensor:
        """The env's observation of ``state`` (same dtype as ``state``; the env returns float32)."""
        return state

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id!r})"


class PendulumSystem(GymSystem):
    env_id, dt, n_q, angles, state_dim, obs_dim = "Pendulum-v1", 0.05, 1, (True,), 2, 3
    action_low, action_high, max_episode_steps = -2.0, 2.0, 200
    g, m, l, max_speed = 10.0, 1.0, 1.0, 8.0

    def action_to_input(self, action: Tensor) -> Tensor:
        return torch.clamp(action, self.action_low, self.action_high)

    def field(self, s: Tensor, u: Tensor) -> Tensor:
        th, thdot = s[..., :1], s[..., 1:]
        return torch.cat([thdot, 3 * self.g / (2 * self.l) * torch.sin(th) + 3.0 / (self.m * self.l ** 2) * u], -1)

    def free_step(self, state: Tensor, u: Tensor) -> Tensor:
        th, thdot = state[..., :1], state[..., 1:]
        # the env multiplies its float32 action by 3/(ml²) in float32 (NumPy 2 scalar rules): copied exactly
        torque = (3.0 / (self.m * self.l ** 2) * u.to(torch.float32)).to(state.dtype)
        newthdot = thdot + (3 * self.g / (2 * self.l) * torch.sin(th) + torque) * self.dt
        return torch.cat([th + newthdot * self.dt, newthdot], -1)

    def constrain(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        # the env clips θ̇' before the drift: redo the drift with the clipped velocity
        thdot_raw = raw[..., 1:]
        thdot = torch.clamp(thdot_raw, -self.max_speed, self.max_speed)
        th = raw[..., :1] - (thdot_raw - thdot) * self.dt
        return torch.cat([th, thdot], -1), (thdot != thdot_raw)[..., 0]

    def observation(self, state: Tensor) -> Tensor:
        th = state[..., :1]
        return torch.cat([torch.cos(th), torch.sin(th), state[..., 1:]], -1)


class AcrobotSystem(GymSystem):
    env_id, dt, n_q, angles, state_dim, obs_dim = "Acrobot-v1", 0.2, 2, (True, True), 4, 6
    n_actions, max_episode_steps = 3, 500
    m1 = m2 = l1 = 1.0
    lc1 = lc2 = 0.5
    moi = 1.0
    g = 9.8
    max_vel_1, max_vel_2 = 4 * math.pi, 9 * math.pi

    def action_to_input(self, action: Tensor) -> Tensor:
        return (action.to(torch.get_default_dtype() if not action.is_floating_point() else action.dtype) - 1.0)[..., None]

    def field(self, s: Tensor, u: Tensor) -> Tensor:
        m1, m2, l1, lc1, lc2, i1, i2, g = self.m1, self.m2, self.l1, self.lc1, self.lc2, self.moi, self.moi, self.g
        theta1, theta2, dtheta1, dtheta2 = s.unbind(-1)
        a = u[..., 0]
        d1 = m1 * lc1 ** 2 + m2 * (l1 ** 2 + lc2 ** 2 + 2 * l1 * lc2 * torch.cos(theta2)) + i1 + i2
        d2 = m2 * (lc2 ** 2 + l1 * lc2 * torch.cos(theta2)) + i2
        phi2 = m2 * lc2 * g * torch.cos(theta1 + theta2 - math.pi / 2.0)
        phi1 = (-m2 * l1 * lc2 * dtheta2 ** 2 * torch.sin(theta2)
                - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * torch.sin(theta2)
                + (m1 * lc1 + m2 * l1) * g * torch.cos(theta1 - math.pi / 2) + phi2)
        ddtheta2 = ((a + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1 ** 2 * torch.sin(theta2) - phi2)
                    / (m2 * lc2 ** 2 + i2 - d2 ** 2 / d1))
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return torch.stack([dtheta1, dtheta2, ddtheta1, ddtheta2], -1)

    def free_step(self, state: Tensor, u: Tensor) -> Tensor:
        h = self.dt
        k1 = self.field(state, u)
        k2 = self.field(state + h / 2 * k1, u)
        k3 = self.field(state + h / 2 * k2, u)
        k4 = self.field(state + h * k3, u)
        return state + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)

    def constrain(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        v1 = torch.clamp(raw[..., 2], -self.max_vel_1, self.max_vel_1)
        v2 = torch.clamp(raw[..., 3], -self.max_vel_2, self.max_vel_2)
        state = torch.stack([wrap_angle(raw[..., 0]), wrap_angle(raw[..., 1]), v1, v2], -1)
        return state, (v1 != raw[..., 2]) | (v2 != raw[..., 3])

    def observation(self, state: Tensor) -> Tensor:
        t1, t2 = state[..., :1], state[..., 1:2]
        return torch.cat([torch.cos(t1), torch.sin(t1), torch.cos(t2), torch.sin(t2), state[..., 2:]], -1)


class CartPoleSystem(GymSystem):
    env_id, dt, n_q, angles, state_dim, obs_dim = "CartPole-v1", 0.02, 2, (False, True), 4, 4
    n_actions, max_episode_steps = 2, 500
    gravity, masscart, masspole, length, force_mag = 9.8, 1.0, 0.1, 0.5, 10.0
    x_threshold, theta_threshold = 2.4, 12 * 2 * math.pi / 360

    def to_canonical(self, state: Tensor) -> Tensor:
        return state[..., [0, 2, 1, 3]]  # [x, ẋ, θ, θ̇] -> [x, θ, ẋ, θ̇]

    def from_canonical(self, s: Tensor) -> Tensor:
        return s[..., [0, 2, 1, 3]]

    def action_to_input(self, action: Tensor) -> Tensor:
        a = action.to(torch.get_default_dtype() if not action.is_floating_point() else action.dtype)
        return (self.force_mag * (2.0 * a - 1.0))[..., None]

    def _accelerations(self, theta: Tensor, theta_dot: Tensor, force: Tensor) -> tuple[Tensor, Tensor]:
        total_mass = self.masspole + self.masscart
        polemass_length = self.masspole * self.length
        costheta, sintheta = torch.cos(theta), torch.sin(theta)
        temp = (force + polemass_length * theta_dot ** 2 * sintheta) / total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta ** 2 / total_mass))
        xacc = temp - polemass_length * thetaacc * costheta / total_mass
        return xacc, thetaacc

    def field(self, s: Tensor, u: Tensor) -> Tensor:
        xacc, thetaacc = self._accelerations(s[..., 1], s[..., 3], u[..., 0])
        return torch.stack([s[..., 2], s[..., 3], xacc, thetaacc], -1)

    def free_step(self, state: Tensor, u: Tensor) -> Tensor:
        x, x_dot, theta, theta_dot = state.unbind(-1)
        xacc, thetaacc = self._accelerations(theta, theta_dot, u[..., 0])
        return torch.stack([x + self.dt * x_dot, x_dot + self.dt * xacc, theta + self.dt * theta_dot,
                            theta_dot + self.dt * thetaacc], -1)


class MountainCarContinuousSystem(GymSystem):
    env_id, dt, n_q, angles, state_dim, obs_dim = "MountainCarContinuous-v0", 1.0, 1, (False,), 2, 2
    action_low, action_high, max_episode_steps = -1.0, 1.0, 999
    power, max_speed, min_position, max_position = 0.0015, 0.07, -1.2, 0.6
    goal_position, goal_velocity = 0.45, 0.0

    def action_to_input(self, action: Tensor) -> Tensor:
        return torch.clamp(action, self.action_low, self.action_high)

    def field(self, s: Tensor, u: Tensor) -> Tensor:
        return torch.cat([s[..., 1:], self.power * u - 0.0025 * torch.cos(3 * s[..., :1])], -1)

    def free_step(self, state: Tensor, u: Tensor) -> Tensor:
        velocity = state[..., 1:] + u * self.power - 0.0025 * torch.cos(3 * state[..., :1])
        return torch.cat([state[..., :1] + velocity, velocity], -1)

    def constrain(self, raw: Tensor) -> tuple[Tensor, Tensor]:
        # the env clips v' before the drift, then clips x' and stops the car at the left wall; state is float32
        v_raw = raw[..., 1]
        v = torch.clamp(v_raw, -self.max_speed, self.max_speed)
        x_unclipped = raw[..., 0] - (v_raw - v)
        x = torch.clamp(x_unclipped, self.min_position, self.max_position)
        v_wall = torch.where((x == self.min_position) & (v < 0), torch.zeros_like(v), v)
        state = torch.stack([x, v_wall], -1).to(torch.float32).to(raw.dtype)
        return state, (v != v_raw) | (x != x_unclipped) | (v_wall != v)


GYM_SYSTEMS: dict[str, GymSystem] = {
    system.env_id: system
    for system in (PendulumSystem(), AcrobotSystem(), CartPoleSystem(), MountainCarContinuousSystem())
}


def gym_system(env_id: str) -> GymSystem:
    """The :class:`GymSystem` of ``env_id``; ValueError listing the supported ids otherwise."""
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a str, got {type(env_id).__name__}")
    try:
        return GYM_SYSTEMS[env_id]
    except KeyError:
        raise ValueError(f"unsupported env {env_id!r}; hnn knows the physics of {', '.join(GYM_SYSTEMS)}") from None
