"""Controlled vector fields: dynamics driven by an input ``u``, learned from environment transitions.

- :class:`PortHamiltonianField` (after SymODEN, Zhong et al. 2020, and its dissipative variant): a port-Hamiltonian
  system in canonical coordinates x = [q, p],

      dx/dt = (J − R(q)) ∇H(x) + G(q) u,   J = [[0, I], [−I, 0]],   R = [[0, 0], [0, R_p(q)]],   G = [[0], [B(q)]],

      H(q, p) = ½ pᵀ M⁻¹(q) p + V(q),

  i.e. dq/dt = M⁻¹(q) p,  dp/dt = −∂H/∂q − R_p(q) M⁻¹(q) p + B(q) u. Inputs and friction act on the momenta only.
  Along any solution dH/dt = −∇Hᵀ R ∇H + ∇Hᵀ G u = −q̇ᵀ R_p q̇ + q̇ᵀ B u: friction only removes energy, and with
  u = 0 and R = 0 the flow conserves H exactly.
- :class:`ControlledBaselineField`: ds/dt = MLP([emb(q), q̇, u]) on the observed state s = [q, q̇]; no physics prior.

Environments observe velocities, not momenta. The port-Hamiltonian field therefore maps the observed state
s = [q, q̇] to its own x = [q, p] with the learned mass matrix, ``encode(s) = [q, M(q) q̇]``, and back,
``decode(x) = [q, M⁻¹(q) p]``; :meth:`hnn.models.DynamicsModule.predict_window` integrates in x and compares in s.

Coordinates flagged in ``angles`` enter every net as (cos q, sin q), so the learned dynamics is 2π-periodic in them;
the other coordinates enter as they are. The learned parts are small MLPs of emb(q):

- M⁻¹(q) = L(q) L(q)ᵀ + ε I with L lower triangular, L_ii = softplus(·) > 0, and ε = ``eps``: positive definite by
  construction, with every eigenvalue ≥ ε (so M ⪯ I/ε) even where L is nearly singular in floating point; M(q) by a
  Cholesky solve (``mass="constant"``: one learned L);
- V(q): a scalar MLP;  B(q) [n_q × n_u]: an MLP (``input_matrix="constant"``: one learned matrix);
- R_p(q) = D(q) D(q)ᵀ ⪰ 0 (only with ``dissipation=True``).

∇H is computed in closed form: ∂H/∂p = M⁻¹(q) p, and ∂H/∂q by explicit backpropagation through the V and L nets,
written with ordinary differentiable tensor operations. The field therefore needs no autograd call of its own: it
is the same computation under ``torch.no_grad()``, ``torch.inference_mode()`` and in training (where autograd
differentiates it once more, for the parameters).

With ``mass="constant"``, ``input_matrix="constant"`` and no dissipation, H = T(p) + V(q) is separable and the force
B u does not depend on q: :attr:`PortHamiltonianField.separable` is then True and ``dH_dq``, ``dH_dp`` and
``input_force`` let the splitting methods of :func:`hnn.integrate` run it (``symplectic_euler`` is exactly the
update rule of Pendulum-v1 and MountainCarContinuous-v0). Otherwise roll it out with ``implicit_midpoint``
(symplectic for any H) or ``rk4``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Callable, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hnn.nn.fields import FIELDS, VectorField
from hnn.nn.mlp import MLP
from hnn.validate import check_bool, check_choice, check_int, check_positive

__all__ = ["PortHamiltonianField", "ControlledBaselineField", "MASS_MODELS", "INPUT_MATRIX_MODELS"]

MASS_MODELS = ("learned", "constant")
INPUT_MATRIX_MODELS = ("learned", "constant")

_SOFTPLUS_OF_ZERO_IS_ONE = math.log(math.e - 1.0)  # softplus(z + this) = 1 at z = 0: L starts near the identity
_SMALL_START = 0.1  # output layers of the mass and friction nets start scaled by this: M⁻¹ ≈ const, R ≈ 0
# tanh layers of at least this many rows go through sigmoid (faster elementwise work, a few more small weight ops)
_FOLD_TANH_FROM_ROWS = 256


def _sigmoid_slope(a: Tensor, h: Tensor) -> Tensor:
    return h * (1.0 - h)


def _softplus_slope(a: Tensor, h: Tensor) -> Tensor:  # nn.Softplus's defaults: beta 1, linear above 20
    return torch.where(a > 20.0, torch.ones_like(a), torch.sigmoid(a))


def _silu_slope(a: Tensor, h: Tensor) -> Tensor:
    s = torch.sigmoid(a)
    return s * (1.0 + a * (1.0 - s))


def _gelu_slope(a: Tensor, h: Tensor) -> Tensor:  # exact (erf) GELU, nn.GELU's default
    return 0.5 * (1.0 + torch.erf(a * (1.0 / math.sqrt(2.0)))) + a * torch.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)


# σ'(a) from the pre-activation a and h = σ(a), for the activations of hnn.nn.ACTIVATIONS other than tanh (which
# has its own routines in _forward_and_pullback)
_SLOPES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "sigmoid": _sigmoid_slope,
    "softplus": _softplus_slope,
    "silu": _silu_slope,
    "gelu": _gelu_slope,
    "elu": lambda a, h: torch.where(a > 0, torch.ones_like(a), h + 1.0),  # alpha 1: elu = eᵃ − 1 for a ≤ 0
    "relu": lambda a, h: (a > 0).to(a.dtype),
    "sin": lambda a, h: torch.cos(a),
}


def _forward_and_pullback(mlp: MLP, x: Tensor, cotangent: Callable[[Tensor], Tensor] | None = None
                          ) -> tuple[Tensor, Tensor | None]:
    """``(y, cᵀ ∂y/∂x)`` for ``y = mlp(x)`` and the cotangent ``c = cotangent(y)``, by explicit backpropagation
    (``(y, None)`` without a cotangent: the forward pass only).

    With a_k = W_k h_{k-1} + b_k, h_k = σ(a_k):  gᵀ = cᵀ W_out,  then g ← (g ⊙ σ'(a_k)) W_k for k = depth..1.
    Plain differentiable operations: autograd can differentiate the result (for the parameters) like any output.
    """
    linears = [m for m in mlp.layers if isinstance(m, nn.Linear)]
    if mlp.activation == "tanh":
        if x.numel() >= _FOLD_TANH_FROM_ROWS * x.shape[-1]:
            return _tanh_forward_and_pullback(linears, x, cotangent)
        slope_product = torch.ops.aten.tanh_backward  # g ⊙ (1 − h²), one fused (differentiable) kernel
        h, saved = x, []
        for linear in linears[:-1]:
            h = torch.tanh(F.linear(h, linear.weight, linear.bias))
            saved.append((linear.weight, h))
        out = linears[-1]
        y = F.linear(h, out.weight, out.bias)
        if cotangent is None:
            return y, None
        g = cotangent(y) @ out.weight
        for weight, h in reversed(saved):
            g = slope_product(g, h) @ weight
        return y, g
    activations = [m for m in mlp.layers if not isinstance(m, nn.Linear)]
    slope = _SLOPES[mlp.activation]
    h, saved = x, []
    for linear, activation in zip(linears[:-1], activations):
        a = F.linear(h, linear.weight, linear.bias)
        h = activation(a)
        saved.append((linear.weight, a, h))
    out = linears[-1]
    y = F.linear(h, out.weight, out.bias)
    if cotangent is None:
        return y, None
    g = cotangent(y) @ out.weight
    for weight, a, h in reversed(saved):
        g = (g * slope(a, h)) @ weight
    return y, g


def _tanh_forward_and_pullback(linears: list[nn.Linear], x: Tensor, cotangent: Callable[[Tensor], Tensor] | None
                               ) -> tuple[Tensor, Tensor | None]:
    """:func:`_forward_and_pullback` for tanh layers, with tanh(a) = 2s − 1, s = sigmoid(2a), folded into the weights.

    u_1 = 2W_1 x + 2b_1, u_k = 4W_k s_{k-1} + 2(b_k − W_k 1) (k ≥ 2), s_k = σ(u_k), y = 2W_out s_L + b_out − W_out 1;
    backward: g ← σ'-product(g, s_k) U_k with U_k the scaled weights (the algebra of
    :func:`hnn.nn.mlp._tanh_input_gradient`, here differentiable). One sigmoid and one fused backward kernel per
    layer: torch.sigmoid is several times faster than torch.tanh on the CPU. The same function as tanh layers up to
    round-off; used from :data:`_FOLD_TANH_FROM_ROWS` rows on, where the elementwise work outweighs the weight ops.
    """
    if len(linears) == 1:
        out = linears[0]
        y = F.linear(x, out.weight, out.bias)
        return y, (None if cotangent is None else cotangent(y) @ out.weight)
    s, saved = x, []
    for k, linear in enumerate(linears[:-1]):
        weight, bias = linear.weight, linear.bias
        if k == 0:
            scaled, shift = 2.0 * weight, (None if bias is None else 2.0 * bias)
        else:
            scaled, shift = 4.0 * weight, -2.0 * weight.sum(1) + (0.0 if bias is None else 2.0 * bias)
        s = torch.sigmoid(F.linear(s, scaled, shift))
        saved.append((scaled, s))
    out = linears[-1]
    shift = -out.weight.sum(1) + (0.0 if out.bias is None else out.bias)
    y = F.linear(s, 2.0 * out.weight, shift)
    if cotangent is None:
        return y, None
    g = cotangent(y) @ (2.0 * out.weight)
    for scaled, s in reversed(saved):
        g = torch.ops.aten.sigmoid_backward(g, s) @ scaled
    return y, g


def _forward(mlp: MLP, x: Tensor) -> Tensor:
    """``mlp(x)``, the same function as :func:`_forward_and_pullback` computes (tanh through sigmoid)."""
    return _forward_and_pullback(mlp, x)[0]


def _matvec(A: Tensor, v: Tensor, rows: int, cols: int) -> Tensor:
    """A v for A flattened row-major ``[..., rows·cols]`` and ``v [..., cols]`` -> ``[..., rows]``."""
    if cols == 1:
        return A * v
    if rows == 1:
        return (A * v).sum(-1, keepdim=True)
    return (A.unflatten(-1, (rows, cols)) @ v.unsqueeze(-1)).squeeze(-1)


def _rmatvec(A: Tensor, v: Tensor, rows: int, cols: int) -> Tensor:
    """Aᵀ v for A flattened row-major ``[..., rows·cols]`` and ``v [..., rows]`` -> ``[..., cols]``."""
    if rows == 1:
        return A * v
    if cols == 1:
        return (A * v).sum(-1, keepdim=True)
    return (v.unsqueeze(-2) @ A.unflatten(-1, (rows, cols))).squeeze(-2)


def _check_angles(angles: Any, n_q: int) -> list[bool]:
    if angles is None:
        return [False] * n_q
    if isinstance(angles, (str, bytes)) or not isinstance(angles, Sequence):
        raise TypeError(f"angles must be a list of {n_q} bools (one per coordinate q) or None, got "
                        f"{type(angles).__name__} ({angles!r})")
    if len(angles) != n_q:
        raise ValueError(f"angles must have one flag per coordinate q: n_q={n_q}, got {len(angles)} "
                         f"({list(angles)!r})")
    return [check_bool(f"angles[{i}]", a) for i, a in enumerate(angles)]


def _broadcastable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether two shapes broadcast (plain Python: torch.broadcast_shapes costs more than a small field)."""
    return all(m == n or m == 1 or n == 1 for m, n in zip(reversed(a), reversed(b)))


class _ControlledField(VectorField):
    """Shared parts: ``n_q``, ``n_u``, ``angles``, the periodic embedding of q, and the state/input checks."""

    def __init__(self, n_q: int, n_u: int, angles: Sequence[bool] | None) -> None:
        n_q = check_int("n_q", n_q, minimum=1)
        super().__init__(2 * n_q)
        self.n_q = n_q
        self.n_u = check_int("n_u", n_u, minimum=1)
        self.angles = _check_angles(angles, n_q)
        angle_index = [i for i, a in enumerate(self.angles) if a]
        other_index = [i for i, a in enumerate(self.angles) if not a]
        self._n_angles = len(angle_index)
        self.embedding_dim = n_q + self._n_angles
        eye = torch.eye(n_q)
        for name, index in (("angle", angle_index), ("other", other_index)):
            self.register_buffer(f"_{name}_index", torch.tensor(index, dtype=torch.long), persistent=False)
            self.register_buffer(f"_{name}_placement", eye[index], persistent=False)  # [len(index), n_q]

    def embed(self, q: Tensor) -> Tensor:
        """emb(q) ``[..., n_q] -> [..., n_q + #angles]``: [cos q_a, sin q_a] for the angles a, then the other q."""
        if self._n_angles == 0:
            return q
        if self._n_angles == self.n_q:
            return torch.cat([torch.cos(q), torch.sin(q)], dim=-1)
        qa = q.index_select(-1, self._angle_index)
        return torch.cat([torch.cos(qa), torch.sin(qa), q.index_select(-1, self._other_index)], dim=-1)

    def _pull_back_embedding(self, e: Tensor, g: Tensor) -> Tensor:
        """gᵀ ∂emb/∂q for ``g [..., embedding_dim]`` at ``e = emb(q)``: cos q_a g_sin − sin q_a g_cos on the angles, g
        on the others."""
        n_a = self._n_angles
        if n_a == 0:
            return g
        on_angles = e[..., :n_a] * g[..., n_a:2 * n_a] - e[..., n_a:2 * n_a] * g[..., :n_a]
        if n_a == self.n_q:
            return on_angles
        # back to coordinate order with the 0/1 placement matrices (differentiable, no in-place writes)
        return on_angles @ self._angle_placement.to(g.dtype) + g[..., 2 * n_a:] @ self._other_placement.to(g.dtype)

    def _check(self, x: Tensor, u: Tensor | None) -> None:
        super().check_state(x)
        name = type(self).__name__
        if u is None:
            raise ValueError(f"{name} is a controlled field: vector_field(x, u) needs the input u [..., {self.n_u}] "
                             "(pass zeros for the unforced dynamics), got u=None")
        self._check_input(u, x.shape[:-1])

    def _check_input(self, u: Tensor, batch: tuple[int, ...] | torch.Size | None = None) -> None:
        name = type(self).__name__
        if not isinstance(u, Tensor):
            raise TypeError(f"the input u must be a torch.Tensor, got {type(u).__name__}")
        if not u.is_floating_point():
            raise TypeError(f"the input u must be a floating-point tensor, got dtype {u.dtype}")
        if u.ndim == 0 or u.shape[-1] != self.n_u:
            raise ValueError(f"{name} was built for n_u={self.n_u} inputs, but u has shape {tuple(u.shape)} "
                             f"(expected [..., {self.n_u}])")
        if batch is not None and not _broadcastable(tuple(u.shape[:-1]), tuple(batch)):
            raise ValueError(f"the batch dimensions of u {tuple(u.shape[:-1])} do not broadcast with those of "
                             f"the state {tuple(batch)}")


class PortHamiltonianField(_ControlledField):
    """dx/dt = (J − R(q))∇H(x) + [0; B(q) u] with H = ½ pᵀM⁻¹(q)p + V(q), x = [q, p] (module docstring).

    Args:
        n_q: number of coordinates q (the state has dim = 2·n_q entries).
        n_u: number of inputs u.
        angles: one bool per coordinate, True for an angle (fed to the nets as (cos, sin); compared on the circle
            by :class:`hnn.models.DynamicsModule`); default all False.
        hidden_dim, depth, activation, init: every net's MLP (see :class:`hnn.nn.MLP`).
        mass: ``"learned"`` M⁻¹(q) = L(q)L(q)ᵀ + eps·I, or ``"constant"``: one learned L.
        input_matrix: ``"learned"`` B(q), or ``"constant"`` B.
        dissipation: learn the friction R_p(q) = D(q)D(q)ᵀ on the momenta (False: R = 0).
        eps: the floor of M⁻¹ = LLᵀ + eps·I: every eigenvalue of M⁻¹ is ≥ eps (M ⪯ I/eps).

    ``vector_field(x, u)`` needs ``u [..., n_u]``; ``encode``/``decode`` map observed [q, q̇] to [q, p] and back.
    The constructor arguments are attributes of the same name (``config()``); ``dim = 2·n_q``.
    """

    def __init__(self, n_q: int, n_u: int = 1, angles: list[bool] | None = None, hidden_dim: int = 64,
                 depth: int = 2, activation: str = "tanh", mass: Literal["learned", "constant"] = "learned",
                 input_matrix: Literal["learned", "constant"] = "learned", dissipation: bool = False,
                 eps: float = 1e-3, init: str = "orthogonal") -> None:
        super().__init__(n_q, n_u, angles)
        self.hidden_dim, self.depth, self.activation, self.init = hidden_dim, depth, activation, init
        self.mass = check_choice("mass", mass, MASS_MODELS)
        self.input_matrix = check_choice("input_matrix", input_matrix, INPUT_MATRIX_MODELS)
        self.dissipation = check_bool("dissipation", dissipation)
        self.eps = check_positive("eps", eps)
        n, e = self.n_q, self.embedding_dim
        k = n * (n + 1) // 2

        def mlp(out: int, bias_out: bool = True) -> MLP:
            return MLP(e, out, width=hidden_dim, depth=depth, activation=activation, bias_out=bias_out, init=init)

        self.potential_net = mlp(1, bias_out=False)  # an additive constant in V changes nothing
        # L's free entries, row by row of the lower triangle; diagonal entries go through softplus(· + shift)
        rows, cols = torch.tril_indices(n, n)
        placement = torch.zeros(k, n * n)
        placement[torch.arange(k), rows * n + cols] = 1.0
        self.register_buffer("_placement", placement, persistent=False)  # raw [k] @ placement -> L flattened
        self.register_buffer("_diagonal", rows == cols, persistent=False)
        if self.mass == "learned":
            self.mass_net: MLP | None = mlp(k)
            self._scale_output(self.mass_net)
            self.mass_entries = None
        else:
            self.mass_net = None
            self.mass_entries = nn.Parameter(torch.zeros(k))
        if self.input_matrix == "learned":
            self.input_net: MLP | None = mlp(n * self.n_u)
            self.input_weight = None
        else:
            self.input_net = None
            self.input_weight = nn.Parameter(torch.eye(n, self.n_u))
        if self.dissipation:
            self.dissipation_net: MLP | None = mlp(n * n)
            self._scale_output(self.dissipation_net)
        else:
            self.dissipation_net = None

    @staticmethod
    def _scale_output(net: MLP) -> None:
        with torch.no_grad():
            net.layers[-1].weight.mul_(_SMALL_START)
            if net.layers[-1].bias is not None:
                net.layers[-1].bias.mul_(_SMALL_START)

    # ------------------------------------------------------------------ flags read by hnn.integrate
    @property
    def separable(self) -> bool:  # type: ignore[override]
        """H = T(p) + V(q) with a q-independent force B u and no friction: constant mass, constant B, R = 0."""
        return self.mass == "constant" and self.input_matrix == "constant" and not self.dissipation

    @property
    def dissipative(self) -> bool:  # type: ignore[override]
        """The field has the friction term −R∇H."""
        return self.dissipation

    # ------------------------------------------------------------------ the parts (matrices kept flat, row-major)
    def _factor(self, e: Tensor | None, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """(raw, L): L's free entries ``[..., k]`` and L flattened ``[..., n_q²]`` (``[k]``, ``[n_q²]`` if constant),
        M⁻¹ = LLᵀ + eps·I."""
        raw = self.mass_entries.to(dtype) if self.mass_net is None else _forward(self.mass_net, e)
        diag = F.softplus(raw + _SOFTPLUS_OF_ZERO_IS_ONE)
        if self.n_q == 1:
            return raw, diag
        return raw, torch.where(self._diagonal, diag, raw) @ self._placement.to(raw.dtype)

    def _input_gain(self, e: Tensor, dtype: torch.dtype) -> Tensor:
        """B flattened ``[..., n_q·n_u]``."""
        if self.input_net is None:
            return self.input_weight.to(dtype).flatten()
        return _forward(self.input_net, e)

    def inverse_mass(self, q: Tensor) -> Tensor:
        """M⁻¹(q) = L(q)L(q)ᵀ + eps·I ``[..., n_q, n_q]`` (``[n_q, n_q]`` for a constant mass), symmetric, with every
        eigenvalue ≥ eps."""
        L = self._factor(self.embed(self._check_q(q)), q.dtype)[1].unflatten(-1, (self.n_q, self.n_q))
        return L @ L.transpose(-1, -2) + self.eps * torch.eye(self.n_q, dtype=L.dtype, device=L.device)

    def mass_matrix(self, q: Tensor) -> Tensor:
        """M(q) = (M⁻¹(q))⁻¹ ``[..., n_q, n_q]``, from the Cholesky factor of M⁻¹ (no general inverse)."""
        return torch.cholesky_inverse(torch.linalg.cholesky(self.inverse_mass(q)))

    def potential(self, q: Tensor) -> Tensor:
        """V(q) ``[..., n_q] -> [...]``."""
        return _forward(self.potential_net, self.embed(self._check_q(q))).squeeze(-1)

    def input_gain(self, q: Tensor) -> Tensor:
        """B(q) ``[..., n_q, n_u]`` (``[n_q, n_u]`` for a constant B): the input enters as dp/dt += B(q) u."""
        return self._input_gain(self.embed(self._check_q(q)), q.dtype).unflatten(-1, (self.n_q, self.n_u))

    def friction_matrix(self, q: Tensor) -> Tensor:
        """R_p(q) = D(q)D(q)ᵀ ``[..., n_q, n_q]`` ⪰ 0, the friction on the momenta (zeros without dissipation)."""
        self._check_q(q)
        if self.dissipation_net is None:
            return q.new_zeros(*q.shape[:-1], self.n_q, self.n_q)
        D = _forward(self.dissipation_net, self.embed(q)).unflatten(-1, (self.n_q, self.n_q))
        return D @ D.transpose(-1, -2)

    def dissipation_matrix(self, x: Tensor) -> Tensor:
        """R(x) = [[0, 0], [0, R_p(q)]] ``[..., dim, dim]``, the R of dx/dt = (J − R)∇H + G u."""
        self.check_state(x)
        R = x.new_zeros(*x.shape[:-1], self.dim, self.dim)
        R[..., self.n_q:, self.n_q:] = self.friction_matrix(x[..., :self.n_q])
        return R

    def port_matrix(self, x: Tensor) -> Tensor:
        """G(q) = [0; B(q)] ``[..., dim, n_u]``, the G of dx/dt = (J − R)∇H + G u."""
        self.check_state(x)
        G = x.new_zeros(*x.shape[:-1], self.dim, self.n_u)
        G[..., self.n_q:, :] = self.input_gain(x[..., :self.n_q])
        return G

    def _check_q(self, q: Tensor) -> Tensor:
        if not isinstance(q, Tensor) or not q.is_floating_point():
            raise TypeError(f"q must be a floating-point torch.Tensor, got {type(q).__name__}")
        if q.ndim == 0 or q.shape[-1] != self.n_q:
            raise ValueError(f"{type(self).__name__} was built for n_q={self.n_q} coordinates, got q of shape "
                             f"{tuple(q.shape)}")
        return q

    # ------------------------------------------------------------------ energy and its gradient
    def hamiltonian(self, x: Tensor) -> Tensor:
        """H(x) = ½ pᵀM⁻¹(q)p + V(q) ``[..., dim] -> [...]``."""
        self.check_state(x)
        n = self.n_q
        q, p = x[..., :n], x[..., n:]
        e = self.embed(q)
        w = _rmatvec(self._factor(e, x.dtype)[1], p, n, n)  # Lᵀp: ½ pᵀ(LLᵀ + εI)p = ½(|Lᵀp|² + ε|p|²)
        return 0.5 * ((w * w).sum(-1) + self.eps * (p * p).sum(-1)) + _forward(self.potential_net, e).squeeze(-1)

    def _gradient(self, p: Tensor, e: Tensor) -> tuple[Tensor, Tensor]:
        """(∂H/∂q, ∂H/∂p) at ``e = emb(q)`` by explicit backpropagation (module docstring)."""
        n = self.n_q
        _, g = _forward_and_pullback(self.potential_net, e, torch.ones_like)  # ∂V/∂y = 1 for the scalar head
        if self.mass_net is None:
            L = self._factor(e, p.dtype)[1]
            return self._pull_back_embedding(e, g), _matvec(L, _rmatvec(L, p, n, n), n, n) + self.eps * p
        saved: dict[str, Tensor] = {}

        def kinetic_cotangent(raw: Tensor) -> Tensor:
            # T = ½|w|² + ½ε|p|², w = Lᵀp: ∂T/∂L_ij = p_i w_j on the lower triangle, times softplus' on the diagonal
            diag = F.softplus(raw + _SOFTPLUS_OF_ZERO_IS_ONE)
            slope = torch.sigmoid(raw + _SOFTPLUS_OF_ZERO_IS_ONE)
            if n == 1:
                w = diag * p
                saved["L"], saved["w"] = diag, w
                return p * w * slope
            L = torch.where(self._diagonal, diag, raw) @ self._placement.to(raw.dtype)
            w = _rmatvec(L, p, n, n)
            saved["L"], saved["w"] = L, w
            d_values = (p.unsqueeze(-1) * w.unsqueeze(-2)).flatten(-2) @ self._placement.to(raw.dtype).T
            return torch.where(self._diagonal, d_values * slope, d_values)

        _, g_mass = _forward_and_pullback(self.mass_net, e, kinetic_cotangent)
        dH_dp = _matvec(saved["L"], saved["w"], n, n) + self.eps * p
        return self._pull_back_embedding(e, g + g_mass), dH_dp

    def hamiltonian_gradient(self, x: Tensor) -> Tensor:
        """∇H(x) = [∂H/∂q, ∂H/∂p] ``[..., dim]``, with ∂H/∂p = M⁻¹(q)p (the velocity q̇)."""
        self.check_state(x)
        dH_dq, dH_dp = self._gradient(x[..., self.n_q:], self.embed(x[..., :self.n_q]))
        return torch.cat([dH_dq, dH_dp], dim=-1)

    # ------------------------------------------------------------------ the field
    def _terms(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor, Tensor | None, Tensor]:
        """(∂H/∂q, ∂H/∂p, R_p ∂H/∂p or None without friction, B u)."""
        n = self.n_q
        e = self.embed(x[..., :n])
        dH_dq, dH_dp = self._gradient(x[..., n:], e)
        u = u.to(x.dtype)
        if self.input_net is None:
            force = u @ self.input_weight.to(x.dtype).T
        else:
            force = _matvec(_forward(self.input_net, e), u, n, self.n_u)
        friction = None
        if self.dissipation_net is not None:
            D = _forward(self.dissipation_net, e)
            friction = _matvec(D, _rmatvec(D, dH_dp, n, n), n, n)  # D Dᵀ ∂H/∂p
        return dH_dq, dH_dp, friction, force

    def vector_field(self, x: Tensor, u: Tensor | None = None) -> Tensor:
        """dx/dt = [M⁻¹(q)p, −∂H/∂q − R_p(q)M⁻¹(q)p + B(q)u] for ``x [..., dim]``, ``u [..., n_u]`` (required)."""
        self._check(x, u)
        dH_dq, dH_dp, friction, force = self._terms(x, u)
        pdot = force - dH_dq if friction is None else force - dH_dq - friction
        if pdot.shape != dH_dp.shape:  # u with more batch dimensions than x
            dH_dp, pdot = torch.broadcast_tensors(dH_dp, pdot)
        return torch.cat([dH_dp, pdot], dim=-1)

    def power_balance(self, x: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
        """The two terms of dH/dt = −∇HᵀR∇H + ∇HᵀGu at ``x``: ``(−q̇ᵀR_p q̇, q̇ᵀB u)``, each ``[...]`` (q̇ = ∂H/∂p).

        Their sum is ∇H(x)ᵀ vector_field(x, u): the rate of change of H along the flow."""
        self._check(x, u)
        _, dH_dp, friction, force = self._terms(x, u)
        dissipated = torch.zeros_like(dH_dp[..., 0]) if friction is None else -(dH_dp * friction).sum(-1)
        return dissipated, (dH_dp * force).sum(-1)

    # ------------------------------------------------------------------ observed layout [q, q̇] <-> [q, p]
    def encode(self, s: Tensor) -> Tensor:
        """[q, q̇] -> [q, p] with p = M(q) q̇, a Cholesky solve with M⁻¹(q) = LLᵀ + eps·I."""
        self.check_state(s)
        n = self.n_q
        q, qdot = s[..., :n], s[..., n:]
        L = self._factor(self.embed(q), s.dtype)[1]
        if n == 1:
            return torch.cat([q, qdot / (L * L + self.eps)], dim=-1)
        L = L.unflatten(-1, (n, n))
        inverse_mass = L @ L.transpose(-1, -2) + self.eps * torch.eye(n, dtype=L.dtype, device=L.device)
        factor = torch.linalg.cholesky(inverse_mass).expand(*qdot.shape[:-1], n, n)
        return torch.cat([q, torch.cholesky_solve(qdot.unsqueeze(-1), factor).squeeze(-1)], dim=-1)

    def decode(self, x: Tensor) -> Tensor:
        """[q, p] -> [q, q̇] with q̇ = M⁻¹(q) p = LLᵀp + eps·p (= ∂H/∂p)."""
        self.check_state(x)
        n = self.n_q
        q, p = x[..., :n], x[..., n:]
        L = self._factor(self.embed(q), x.dtype)[1]
        return torch.cat([q, _matvec(L, _rmatvec(L, p, n, n), n, n) + self.eps * p], dim=-1)

    # ------------------------------------------------------------------ the separable case (splitting methods)
    def _require_separable(self, what: str) -> None:
        if not self.separable:
            raise ValueError(f"{what} needs a separable field (H = T(p) + V(q) with a q-independent force): build "
                             "PortHamiltonianField with mass='constant', input_matrix='constant', dissipation=False, "
                             "or integrate with 'implicit_midpoint' or 'rk4'")

    def dH_dq(self, q: Tensor) -> Tensor:
        """∂H/∂q = ∇V(q) ``[..., n_q]`` (separable field only)."""
        self._require_separable("dH_dq")
        e = self.embed(self._check_q(q))
        return self._pull_back_embedding(e, _forward_and_pullback(self.potential_net, e, torch.ones_like)[1])

    def dH_dp(self, p: Tensor) -> Tensor:
        """∂H/∂p = M⁻¹ p = LLᵀp + eps·p ``[..., n_q]`` (separable field only: constant mass)."""
        self._require_separable("dH_dp")
        n = self.n_q
        L = self._factor(None, p.dtype)[1]
        return _matvec(L, _rmatvec(L, p, n, n), n, n) + self.eps * p

    def input_force(self, u: Tensor) -> Tensor:
        """B u ``[..., n_q]``, the force of the input on the momenta (separable field only: constant B)."""
        self._require_separable("input_force")
        self._check_input(u)
        return u @ self.input_weight.to(u.dtype).T


class ControlledBaselineField(_ControlledField):
    """ds/dt = MLP_θ([emb(q), q̇, u]) on the observed state s = [q, q̇] ``[..., 2·n_q]`` (no physics prior).

    Args:
        n_q, n_u, angles: as for :class:`PortHamiltonianField` (angles enter as (cos, sin)).
        hidden_dim, depth, activation, init: the MLP (see :class:`hnn.nn.MLP`).

    Integrated in the observed layout itself (no ``encode``/``decode``); ``vector_field(s, u)`` needs ``u``.
    """

    def __init__(self, n_q: int, n_u: int = 1, angles: list[bool] | None = None, hidden_dim: int = 64,
                 depth: int = 2, activation: str = "tanh", init: str = "orthogonal") -> None:
        super().__init__(n_q, n_u, angles)
        self.hidden_dim, self.depth, self.activation, self.init = hidden_dim, depth, activation, init
        self.net = MLP(self.embedding_dim + self.n_q + self.n_u, self.dim, width=hidden_dim, depth=depth,
                       activation=activation, init=init)

    def vector_field(self, x: Tensor, u: Tensor | None = None) -> Tensor:
        """ds/dt = MLP([emb(q), q̇, u]) for ``s [..., dim]``, ``u [..., n_u]`` (required)."""
        self._check(x, u)
        if x.shape[:-1] != u.shape[:-1]:
            batch = torch.broadcast_shapes(x.shape[:-1], u.shape[:-1])
            x, u = x.expand(*batch, self.dim), u.expand(*batch, self.n_u)
        u = u.to(x.dtype)
        return self.net(torch.cat([self.embed(x[..., :self.n_q]), x[..., self.n_q:], u], dim=-1))


FIELDS.update({cls.__name__: cls for cls in (PortHamiltonianField, ControlledBaselineField)})
