"""The field / Hamiltonian interface every integrator speaks.

A state is a tensor ``x [..., 2n]`` laid out ``[q, p]`` on the last axis; batch dimensions lead.
Hamilton's equations: dx/dt = J ∇H(x) with J = [[0, I], [-I, 0]], i.e. dq/dt = ∂H/∂p, dp/dt = −∂H/∂q.

``Dynamics`` turns whatever the user hands to :func:`hnn.integrate` into one small interface:

- a vector-field callable ``f(x)`` or ``f(t, x)``;
- an object with ``vector_field(x, u=None)`` (hnn's learned fields, ``hnn.nn``); a controlled field receives the
  zero-order-hold input ``u`` that :func:`hnn.integrate` holds constant over each step (``Dynamics.input``);
- an object with ``hamiltonian(x) -> [...]`` (a ground-truth system, a learned model, a user's class), optionally
  with a closed-form ``vector_field(x)``, ``separable = True`` plus closed-form ``dH_dq(q)`` / ``dH_dp(p)``, and
  ``dissipative = True`` when its ``vector_field`` is not J∇H (then only field-based methods apply).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import torch
from torch import Tensor

Hamiltonian = Callable[[Tensor], Tensor]


def _keep_graph(create_graph: bool | None) -> bool:
    return torch.is_grad_enabled() if create_graph is None else bool(create_graph)


def _check_energy(H: Tensor, x: Tensor) -> None:
    if not isinstance(H, Tensor):
        raise TypeError(f"hamiltonian(x) must return a tensor, got {type(H).__name__}")
    if H.shape != x.shape[:-1]:
        raise ValueError(
            f"hamiltonian(x) must return one scalar per state: expected shape {tuple(x.shape[:-1])}, "
            f"got {tuple(H.shape)}"
        )


def hamiltonian_gradient(hamiltonian: Hamiltonian, x: Tensor, create_graph: bool | None = None) -> Tensor:
    """∇H(x) by autograd, same shape as ``x``.

    ``create_graph=None`` keeps the graph iff grad mode is enabled (training through a rollout). Otherwise, if
    ``hamiltonian`` has ``input_gradient(x)`` (hnn's energy networks: explicit backpropagation, see
    :meth:`hnn.nn.MLP.input_gradient`) and it returns a tensor, that is ∇H; else the gradient is taken on a
    detached clone inside ``inference_mode(False)`` + ``enable_grad``. Either way it is returned without a graph,
    so this works under ``torch.no_grad()`` and ``torch.inference_mode()`` alike.
    """
    if _keep_graph(create_graph):
        xg = x if x.requires_grad else x.detach().requires_grad_(True)
        H = hamiltonian(xg)
        _check_energy(H, x)
        (g,) = torch.autograd.grad(H.sum(), xg, create_graph=True, allow_unused=True)
        return torch.zeros_like(x) if g is None else g
    input_gradient = getattr(hamiltonian, "input_gradient", None)
    if callable(input_gradient):
        g = input_gradient(x.detach())
        if g is not None:
            return g
    with torch.inference_mode(False), torch.enable_grad():
        xg = x.detach().clone().requires_grad_(True)
        H = hamiltonian(xg)
        _check_energy(H, x)
        (g,) = torch.autograd.grad(H.sum(), xg, allow_unused=True)
    return torch.zeros_like(x) if g is None else g.detach()


def symplectic_gradient(grad: Tensor) -> Tensor:
    """J∇H from ∇H: [∂H/∂p, −∂H/∂q]."""
    n = grad.shape[-1] // 2
    return torch.cat([grad[..., n:], -grad[..., :n]], dim=-1)


def hamiltonian_vector_field(hamiltonian: Hamiltonian, x: Tensor, create_graph: bool | None = None) -> Tensor:
    """dx/dt = J∇H(x) = [∂H/∂p, −∂H/∂q] (see :func:`hamiltonian_gradient` for graph handling)."""
    return symplectic_gradient(hamiltonian_gradient(hamiltonian, x, create_graph))


def _positional_arity(fn: Callable) -> int | None:
    target = fn.forward if isinstance(fn, torch.nn.Module) else fn
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in params if p.kind in kinds and p.default is inspect.Parameter.empty]
    return len(required)


class Dynamics:
    """Uniform view of user dynamics: ``field(t, x)``, and for separable Hamiltonians ``dH_dq`` / ``dH_dp``."""

    def __init__(self, obj: Any):
        self.obj = obj
        # the zero-order-hold input of the current step (set by hnn.integrate); None for autonomous dynamics
        self.input: Tensor | None = None
        hamiltonian = getattr(obj, "hamiltonian", None)
        self.has_hamiltonian = callable(hamiltonian)
        self.dissipative = bool(getattr(obj, "dissipative", False))
        self.dim: int | None = getattr(obj, "dim", None) if isinstance(getattr(obj, "dim", None), int) else None
        vector_field = getattr(obj, "vector_field", None)
        self.accepts_input = callable(vector_field)
        if callable(vector_field):
            self._field = lambda t, x: vector_field(x) if self.input is None else vector_field(x, self.input)
        elif self.has_hamiltonian:
            self._field = lambda t, x: hamiltonian_vector_field(hamiltonian, x)
        elif callable(obj):
            arity = _positional_arity(obj)
            if arity == 1:
                self._field = lambda t, x: obj(x)
            elif arity == 2:
                self._field = obj
            else:
                raise TypeError(
                    "dynamics must be a vector field f(x) or f(t, x) (one or two required positional arguments), "
                    f"or an object with hamiltonian(x); got a callable with {arity} required arguments"
                )
        else:
            raise TypeError(
                "dynamics must be a vector field f(x) / f(t, x) or an object with a hamiltonian(x) method, "
                f"got {type(obj).__name__}"
            )
        has_closed_form = callable(getattr(obj, "dH_dq", None)) and callable(getattr(obj, "dH_dp", None))
        self.separable = bool(getattr(obj, "separable", False)) and (self.has_hamiltonian or has_closed_form)
        self._closed_form = has_closed_form

    @property
    def requires_hamiltonian_state(self) -> bool:
        """True when the state must be [q, p] (even dimension)."""
        return self.has_hamiltonian or self.separable

    def field(self, t: float, x: Tensor) -> Tensor:
        return self._field(t, x)

    def input_force(self) -> Tensor:
        """The generalised force G u on the momenta of the current input (``dynamics.input_force(u)``), for the
        splitting methods: their kick becomes p ← p − h (∂V/∂q − G u)."""
        input_force = getattr(self.obj, "input_force", None)
        if not callable(input_force):
            raise ValueError(f"a splitting method with an input u needs the dynamics to define input_force(u) (the "
                             f"force the input puts on p); {type(self.obj).__name__} does not. Use a field-based "
                             "method (rk4, implicit_midpoint, torchdiffeq:dopri5) instead")
        return input_force(self.input)

    def dH_dq(self, q: Tensor) -> Tensor:
        """∂H/∂q for a separable H (closed form, or the q-half of ∇H at p = 0 — exact since ∂H/∂q ignores p)."""
        if self._closed_form:
            return self.obj.dH_dq(q)
        g = hamiltonian_gradient(self.obj.hamiltonian, torch.cat([q, torch.zeros_like(q)], dim=-1))
        return g[..., : q.shape[-1]]

    def dH_dp(self, p: Tensor) -> Tensor:
        """∂H/∂p for a separable H (closed form, or the p-half of ∇H at q = 0)."""
        if self._closed_form:
            return self.obj.dH_dp(p)
        g = hamiltonian_gradient(self.obj.hamiltonian, torch.cat([torch.zeros_like(p), p], dim=-1))
        return g[..., p.shape[-1]:]

    def has_trainable_parameters(self) -> bool:
        for candidate in (self.obj, getattr(self.obj, "__self__", None)):
            if isinstance(candidate, torch.nn.Module):
                return any(p.requires_grad for p in candidate.parameters())
        return False
