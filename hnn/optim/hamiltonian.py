"""Hamiltonian-inspired optimisation (Marín): an optimizer (Algorithm 1) and a regularised loss (Algorithm 2).

Algorithm 1, for every parameter tensor θ with gradient g = ∇_θ L:

    v ← β v + (1 − β) g                  (momentum, an exponential moving average of g; v₀ = 0)
    K = ½ ‖v‖²                           ("kinetic energy" of the momentum)
    V = ½ ‖g‖²                           ("potential energy" of the gradient)
    H = K + V
    θ ← θ − η v / (√H + ε)

Because √H = ‖(v, g)‖ / √2, the update has length η·√2·‖v‖ / ‖(v, g)‖ ≤ √2·η whatever the scale of the gradient,
and ≈ η once v has caught up with a slowly varying g. It is a normalised-momentum method: the learning rate is
a step *length*, so with a constant η it cannot settle closer to a minimum than about η; decay η (e.g. with
:class:`hnn.optim.InverseSqrtLR`, η_t = η₀/√t) to converge.

Algorithm 2: loss = base loss + λ · ½ Σ_i ‖θ_i‖² (see :func:`hamiltonian_loss`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

__all__ = ["HamiltonianOptimizer", "hamiltonian_loss"]

_SQRT_HALF = math.sqrt(0.5)


def _as_float(value: Any, name: str) -> float:
    """Return ``value`` as a Python float for validation, or raise TypeError naming the hyperparameter."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got bool {value!r}")
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.is_complex():
            raise TypeError(f"{name} must be a real scalar, got a tensor of shape {tuple(value.shape)}")
        return float(value.item())
    if isinstance(value, (int, float)):
        return float(value)
    raise TypeError(f"{name} must be a real number, got {type(value).__name__}")


def _validate_hyperparameters(lr: Any, beta: Any, eps: Any) -> None:
    """Raise ValueError/TypeError unless lr ≥ 0, 0 ≤ β < 1 and ε > 0 (all finite)."""
    lr_value = _as_float(lr, "lr")
    if not math.isfinite(lr_value) or lr_value < 0.0:
        raise ValueError(f"invalid learning rate lr={lr_value}: must be a finite number >= 0")
    beta_value = _as_float(beta, "beta")
    if not (0.0 <= beta_value < 1.0):  # also rejects NaN
        raise ValueError(f"invalid momentum coefficient beta={beta_value}: must satisfy 0 <= beta < 1")
    eps_value = _as_float(eps, "eps")
    if not math.isfinite(eps_value) or eps_value <= 0.0:
        raise ValueError(f"invalid eps={eps_value}: must be a finite number > 0")


class HamiltonianOptimizer(Optimizer):
    r"""Marín's Hamiltonian-inspired optimizer (Algorithm 1), per parameter tensor θ with gradient g:

    .. math::
        v \leftarrow \beta v + (1-\beta) g,\quad K = \tfrac12\|v\|^2,\quad V = \tfrac12\|g\|^2,\quad
        H = K + V,\quad \theta \leftarrow \theta - \eta\, \frac{v}{\sqrt{H} + \varepsilon}.

    **K and V are per tensor**, not global: every parameter tensor (each weight matrix, each bias vector) has its
    own H. That is what the pseudocode says ("per parameter"), and it is the useful choice: the update of each
    tensor has length ≈ η regardless of its gradient's scale, so a layer whose gradients are orders of magnitude
    smaller than another's still moves (the layer-wise normalisation of LARS/LAMB). A single global H would let
    the tensor with the largest gradient set the step for all and freeze the rest. The price is that the total
    step over k tensors is ≈ η·√k, and that splitting one tensor in two changes the dynamics.

    Properties worth knowing: the update length is at most √2·η (equality when g = 0) and ≈ η when v ≈ g, whatever
    the gradient's size; so with a constant η the iterates stall at a distance ~η from a minimum (use a decaying
    schedule such as :class:`hnn.optim.InverseSqrtLR`). No bias correction is applied (v₀ = 0 as in the
    pseudocode), so the first steps are shorter: step 1 has length η(1−β)√2/√((1−β)²+1) ≈ 0.14η for β = 0.9.
    √H is computed as hypot(‖v‖, ‖g‖)/√2, which does not overflow for huge gradients in float32.

    Args:
        params: parameters or parameter groups (dicts), as for any ``torch.optim.Optimizer``.
        lr: step length η ≥ 0 (a float or a scalar tensor).
        beta: momentum coefficient β in [0, 1); β = 0 gives normalised gradient descent θ ← θ − η g/(‖g‖ + ε).
        eps: ε > 0 added to √H (guards a zero gradient).
        foreach: use the vectorised ``torch._foreach_*`` implementation (one kernel per operation for all tensors
            of a device/dtype) instead of a loop over tensors. ``None`` (default) picks foreach when a group holds
            more than one tensor. Both give the same result up to rounding.

    Sparse gradients are not supported (TypeError). ``step`` accepts a closure that re-evaluates the loss, like
    other torch optimizers (Lightning passes one).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float | Tensor = 1e-3,
        beta: float = 0.9,
        eps: float = 1e-8,
        *,
        foreach: bool | None = None,
    ) -> None:
        _validate_hyperparameters(lr, beta, eps)
        if foreach is not None and not isinstance(foreach, bool):
            raise TypeError(f"foreach must be True, False or None, got {foreach!r}")
        defaults = {"lr": lr, "beta": beta, "eps": eps, "foreach": foreach}
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group; its own lr / beta / eps (if given) are validated like the defaults."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        _validate_hyperparameters(group["lr"], group["beta"], group["eps"])

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)

    def _collect(self, group: dict[str, Any]) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """Parameters with a gradient, their gradients and momentum buffers (created as zeros on first use)."""
        params: list[Tensor] = []
        grads: list[Tensor] = []
        momenta: list[Tensor] = []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise TypeError(
                    "HamiltonianOptimizer does not support sparse gradients (it needs ‖g‖ of the dense gradient); "
                    "use dense gradients, e.g. nn.Embedding(..., sparse=False)"
                )
            state = self.state[p]
            if "momentum" not in state:
                state["momentum"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            params.append(p)
            grads.append(p.grad)
            momenta.append(state["momentum"])
        return params, grads, momenta

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:  # type: ignore[override]
        """Apply one update to every parameter that has a gradient; returns the closure's loss if one is given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, momenta = self._collect(group)
            if not params:
                continue
            use_foreach = group["foreach"] if group["foreach"] is not None else len(params) > 1
            update = _foreach_update if use_foreach else _single_tensor_update
            update(params, grads, momenta, lr=group["lr"], beta=group["beta"], eps=group["eps"])
        return loss


def _single_tensor_update(
    params: list[Tensor], grads: list[Tensor], momenta: list[Tensor], *, lr: float | Tensor, beta: float, eps: float
) -> None:
    """Algorithm 1, one tensor at a time."""
    for param, grad, momentum in zip(params, grads, momenta):
        momentum.mul_(beta).add_(grad, alpha=1.0 - beta)
        # √H = √(½‖v‖² + ½‖g‖²) = hypot(‖v‖, ‖g‖)/√2 (no overflow of the squares).
        sqrt_h = torch.hypot(torch.linalg.vector_norm(momentum), torch.linalg.vector_norm(grad)) * _SQRT_HALF
        scale = lr / (sqrt_h + eps)
        param.addcmul_(momentum, scale.to(param.dtype), value=-1.0)


def _foreach_update(
    params: list[Tensor], grads: list[Tensor], momenta: list[Tensor], *, lr: float | Tensor, beta: float, eps: float
) -> None:
    """Algorithm 1 for all tensors at once, grouped by (device, dtype) so the per-tensor norms can be stacked."""
    buckets: dict[tuple[torch.device, torch.dtype], tuple[list[Tensor], list[Tensor], list[Tensor]]] = {}
    for param, grad, momentum in zip(params, grads, momenta):
        bucket = buckets.setdefault((param.device, param.dtype), ([], [], []))
        bucket[0].append(param)
        bucket[1].append(grad)
        bucket[2].append(momentum)
    for (_, dtype), (bucket_params, bucket_grads, bucket_momenta) in buckets.items():
        torch._foreach_mul_(bucket_momenta, beta)
        torch._foreach_add_(bucket_momenta, bucket_grads, alpha=1.0 - beta)
        momentum_norms = torch.stack(torch._foreach_norm(bucket_momenta))
        grad_norms = torch.stack(torch._foreach_norm(bucket_grads))
        sqrt_h = torch.hypot(momentum_norms, grad_norms) * _SQRT_HALF  # one √H per tensor
        scales = (lr / (sqrt_h + eps)).to(dtype)
        torch._foreach_addcmul_(bucket_params, bucket_momenta, list(scales.unbind()), value=-1.0)


def hamiltonian_loss(base_loss: Tensor, parameters: Iterable[Tensor], reg_strength: float = 1e-4) -> Tensor:
    r"""Marín's Algorithm 2: :math:`R = \mathcal{L}_\text{base} + \lambda\cdot\tfrac12\sum_i \|\theta_i\|^2`.

    The regulariser is the "potential energy" ½λ‖θ‖² of the parameters; its gradient is λθ (L2 weight decay
    with coefficient λ). The paper's pseudocode initialises R with Σ‖θ_i‖² and then adds it again inside the
    loop; we count it **once**, because that is the equation the text states and the only reading in which λ
    means what it says: counting it twice equals using 2λ, a silent rescaling of the hyperparameter.

    Args:
        base_loss: the unregularised loss, a scalar tensor.
        parameters: the tensors θ_i to penalise (e.g. ``model.parameters()``); must not be empty.
        reg_strength: λ ≥ 0.

    Returns:
        the regularised scalar loss (differentiable with respect to ``base_loss`` and the parameters).
    """
    if not isinstance(base_loss, Tensor):
        raise TypeError(f"base_loss must be a torch.Tensor, got {type(base_loss).__name__}")
    if base_loss.ndim != 0:
        raise ValueError(f"base_loss must be a scalar (0-dim) tensor, got shape {tuple(base_loss.shape)}")
    strength = _as_float(reg_strength, "reg_strength")
    if not math.isfinite(strength) or strength < 0.0:
        raise ValueError(f"invalid reg_strength={strength}: must be a finite number >= 0")
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    squared_norms = []
    for index, theta in enumerate(parameters):
        if not isinstance(theta, Tensor):
            raise TypeError(
                f"parameters must be tensors (e.g. model.parameters()), item {index} is {type(theta).__name__}"
            )
        real = torch.view_as_real(theta) if theta.is_complex() else theta
        squared_norms.append(real.pow(2).sum())
    if not squared_norms:
        raise ValueError("parameters is empty (was a model.parameters() generator already consumed?)")
    penalty = squared_norms[0]
    for squared_norm in squared_norms[1:]:
        penalty = penalty + squared_norm
    return base_loss + (0.5 * strength) * penalty
