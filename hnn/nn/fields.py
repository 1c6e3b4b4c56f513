"""Learned vector fields: the dynamics a :class:`hnn.models.DynamicsModule` trains, as plain ``nn.Module``s.

Every field maps a state ``x [..., dim]`` (laid out ``[q, p]``) to its time derivative,
``vector_field(x, u=None) -> dx/dt [..., dim]``, and is rolled out by ``hnn.integrate(field, x0, t, method=...)``.

- :class:`HamiltonianField` (Greydanus et al. 2019): a learned scalar H_θ(x) and Hamilton's equations

      dx/dt = J ∇H_θ(x),   J = [[0, I], [−I, 0]],   i.e.  dq/dt = ∂H_θ/∂p,  dp/dt = −∂H_θ/∂q.

  ``structure="separable"`` learns H_θ(q, p) = T_θ(p) + V_θ(q); then ``dH_dq``/``dH_dp`` are exposed and the explicit
  symplectic splitting methods (leapfrog, forest_ruth, yoshida6) apply.
- :class:`DissipativeField` (Sosanya & Greydanus 2022): dx/dt = J ∇H_θ(x) − ∇D_θ(x) with a learned dissipation D_θ.
- :class:`BaselineField`: dx/dt = MLP_θ(x) (the paper's baseline, no physics prior).

Two facts are kept apart: ``structure`` is how the *energy net* is built (``"general"`` or ``"separable"``), while
the attribute ``separable`` (what ``hnn.integrate`` reads) says whether the *flow* is a separable Hamiltonian flow —
false for every dissipative field, whatever its energy net, so the splitting methods refuse it.

A field's constructor arguments are stored as attributes of the same name; ``config()`` returns
``{"class_path", "init_args"}`` (plain types), which is what checkpoints record so ``hnn.load`` can rebuild the field
from the file alone, and what a LightningCLI config injects (``model.init_args.field``).
"""
from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor, nn

from hnn.integrators.fields import hamiltonian_gradient, hamiltonian_vector_field
from hnn.nn.config import Configurable
from hnn.nn.energy import EnergyNet, RayleighDissipation, SeparableEnergyNet
from hnn.nn.mlp import MLP
from hnn.validate import check_choice, check_int

__all__ = ["VectorField", "HamiltonianField", "DissipativeField", "BaselineField", "STRUCTURES", "DISSIPATIONS"]

STRUCTURES = ("general", "separable")
DISSIPATIONS = ("rayleigh", "mlp")


class VectorField(Configurable, nn.Module):
    """Base of hnn's learned fields: ``dim``, ``vector_field(x, u=None)``, ``config()``.

    Class attributes read by ``hnn.integrate``: ``separable`` (the flow is a separable Hamiltonian flow) and
    ``dissipative`` (the field is not J∇H). Fields without a control input take ``u=None`` only.
    """

    separable: bool = False
    dissipative: bool = False

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = check_int("dim", dim, minimum=1)

    def vector_field(self, x: Tensor, u: Tensor | None = None) -> Tensor:
        """dx/dt at ``x [..., dim]`` (and input ``u [..., m]`` for controlled fields)."""
        raise NotImplementedError

    def forward(self, x: Tensor, u: Tensor | None = None) -> Tensor:
        """Same as :meth:`vector_field`."""
        return self.vector_field(x, u)

    def check_state(self, x: Tensor, u: Tensor | None = None) -> Tensor:
        """``x`` unchanged; TypeError/ValueError naming the problem unless it is a float tensor ``[..., dim]``."""
        if not isinstance(x, Tensor):
            raise TypeError(f"the state must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(f"the state must be a floating-point tensor, got dtype {x.dtype}")
        if x.ndim == 0 or x.shape[-1] != self.dim:
            raise ValueError(f"{type(self).__name__} was built for state dimension {self.dim}, but the state has "
                             f"shape {tuple(x.shape)}")
        if u is not None:
            raise ValueError(f"{type(self).__name__} has no control input; call it with u=None")
        return x

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config()["init_args"].items())


class HamiltonianField(VectorField):
    """dx/dt = J∇H_θ(x) = [∂H_θ/∂p, −∂H_θ/∂q], H_θ an MLP with a scalar head (Greydanus et al. 2019).

    Args:
        dim: state dimension 2n (x = [q, p]).
        hidden_dim, depth, activation, init: the energy MLP (the paper: 200, 2, tanh, orthogonal; see :class:`MLP`).
        structure: ``"general"`` (one MLP H_θ(x)) or ``"separable"`` (H_θ = T_θ(p) + V_θ(q), two MLPs).
    """

    def __init__(self, dim: int, hidden_dim: int = 200, depth: int = 2, activation: str = "tanh",
                 structure: Literal["general", "separable"] = "general", init: str = "orthogonal") -> None:
        super().__init__(dim)
        if dim % 2 != 0:
            raise ValueError(f"a Hamiltonian state is [q, p] and needs an even dim, got dim={dim}")
        self.hidden_dim, self.depth, self.activation, self.init = hidden_dim, depth, activation, init
        self.structure = check_choice("structure", structure, STRUCTURES)
        net = SeparableEnergyNet if structure == "separable" else EnergyNet
        self.energy_net = net(dim, width=hidden_dim, depth=depth, activation=activation, init=init)

    @property
    def separable(self) -> bool:  # type: ignore[override]
        """The flow is a separable Hamiltonian flow: a separable energy net and no dissipation."""
        return self.structure == "separable" and not self.dissipative

    def hamiltonian(self, x: Tensor) -> Tensor:
        """H_θ(x): ``[..., dim] -> [...]``."""
        return self.energy_net(self.check_state(x))

    def dH_dq(self, q: Tensor) -> Tensor:
        """∂H/∂q = ∇V_θ(q) (separable structure only)."""
        return hamiltonian_gradient(self._separable_net("dH_dq").potential, q)

    def dH_dp(self, p: Tensor) -> Tensor:
        """∂H/∂p = ∇T_θ(p) (separable structure only)."""
        return hamiltonian_gradient(self._separable_net("dH_dp").kinetic, p)

    def _separable_net(self, what: str) -> SeparableEnergyNet:
        if self.structure != "separable":
            raise ValueError(f"{what} needs a separable energy (H = T(p) + V(q)); build the field with "
                             "structure='separable'")
        return self.energy_net  # type: ignore[return-value]

    def conservative_field(self, x: Tensor) -> Tensor:
        """J∇H_θ(x)."""
        self.check_state(x)
        if self.structure == "separable":
            n = self.dim // 2
            return torch.cat([self.dH_dp(x[..., n:]), -self.dH_dq(x[..., :n])], dim=-1)
        return hamiltonian_vector_field(self.energy_net, x)

    def vector_field(self, x: Tensor, u: Tensor | None = None) -> Tensor:
        """dx/dt = J∇H_θ(x)."""
        self.check_state(x, u)
        return self.conservative_field(x)


class DissipativeField(HamiltonianField):
    """dx/dt = J∇H_θ(x) − ∇D_θ(x): a learned energy H_θ and a learned dissipation D_θ.

    ``dissipation="rayleigh"`` (default): D = ½ pᵀ R p with a learned R = L Lᵀ ⪰ 0, so −∇D = [0, −R p] is friction on
    the momenta: it only removes energy (dim²/4 parameters). ``dissipation="mlp"``: D_θ(x) a free scalar MLP as in
    Sosanya & Greydanus 2022; J∇H − ∇D can then represent any 2-d field (Helmholtz), as unconstrained as the baseline.
    ``hamiltonian(x)`` is the conservative part H_θ. Not a Hamiltonian flow: roll it out with rk4 or dopri5.
    """

    dissipative = True

    def __init__(self, dim: int, hidden_dim: int = 200, depth: int = 2, activation: str = "tanh",
                 structure: Literal["general", "separable"] = "general",
                 dissipation: Literal["rayleigh", "mlp"] = "rayleigh", init: str = "orthogonal") -> None:
        super().__init__(dim, hidden_dim, depth, activation, structure, init)
        self.dissipation = check_choice("dissipation", dissipation, DISSIPATIONS)
        if dissipation == "rayleigh":
            self.dissipation_net: nn.Module = RayleighDissipation(dim)
        else:
            self.dissipation_net = EnergyNet(dim, width=hidden_dim, depth=depth, activation=activation, init=init)

    def dissipation_function(self, x: Tensor) -> Tensor:
        """D_θ(x): ``[..., dim] -> [...]``."""
        return self.dissipation_net(self.check_state(x))

    def dissipation_gradient(self, x: Tensor) -> Tensor:
        """∇D_θ(x) (closed form for the Rayleigh form, autograd for the MLP)."""
        if isinstance(self.dissipation_net, RayleighDissipation):
            return self.dissipation_net.gradient(x)
        return hamiltonian_gradient(self.dissipation_net, x)

    def vector_field(self, x: Tensor, u: Tensor | None = None) -> Tensor:
        """dx/dt = J∇H_θ(x) − ∇D_θ(x)."""
        self.check_state(x, u)
        return self.conservative_field(x) - self.dissipation_gradient(x)


class BaselineField(VectorField):
    """dx/dt = MLP_θ(x), an MLP ``dim -> dim`` (the paper's baseline; no physics prior)."""

    def __init__(self, dim: int, hidden_dim: int = 200, depth: int = 2, activation: str = "tanh",
                 init: str = "orthogonal") -> None:
        super().__init__(dim)
        self.hidden_dim, self.depth, self.activation, self.init = hidden_dim, depth, activation, init
        self.net = MLP(dim, dim, width=hidden_dim, depth=depth, activation=activation, init=init)

    def vector_field(self, x: Tensor, u: Tensor | None = None) -> Tensor:
        """dx/dt = MLP_θ(x)."""
        return self.net(self.check_state(x, u))


# name -> class of every module build_field rebuilds; hnn.nn.controlled and hnn.nn.gan add theirs (importing hnn.nn
# imports both, so the registry is complete whenever build_field can be called)
FIELDS: dict[str, type[nn.Module]] = {
    cls.__name__: cls for cls in (HamiltonianField, DissipativeField, BaselineField, EnergyNet)
}


def build_field(config: Any) -> nn.Module:
    """Rebuild a field (or an :class:`EnergyNet`) from its ``config()`` record; only hnn.nn classes are accepted.

    Raises ValueError naming the problem for a malformed record or a class that is not an hnn field.
    """
    if not isinstance(config, dict) or not isinstance(config.get("class_path"), str) \
            or not isinstance(config.get("init_args", {}), dict):
        raise ValueError(f"a field record is {{'class_path': 'hnn.nn.<Field>', 'init_args': {{...}}}}, got {config!r}")
    module, _, name = config["class_path"].rpartition(".")
    if module not in ("hnn.nn", "hnn.nn.fields", "hnn.nn.controlled", "hnn.nn.gan") or name not in FIELDS:
        raise ValueError(f"unknown field class {config['class_path']!r}; hnn rebuilds only {sorted(FIELDS)} "
                         "from hnn.nn")
    try:
        return FIELDS[name](**config.get("init_args", {}))
    except TypeError as err:
        raise ValueError(f"cannot rebuild {name} from {config.get('init_args')!r}: {err}") from None
