"""hnn.nn: plain ``torch.nn`` building blocks (no Lightning here).

- :class:`MLP` -- the one multilayer perceptron (width, depth, activation; tanh and orthogonal init by default).
- :class:`EnergyNet` -- a scalar energy E_θ(x) (bias-free head).
- :class:`SeparableEnergyNet` -- H_θ(q, p) = T_θ(p) + V_θ(q).
- :class:`RayleighDissipation` -- D(q, p) = ½ pᵀ L Lᵀ p (learned friction for dissipative HNNs).
"""
from hnn.nn.energy import EnergyNet, RayleighDissipation, SeparableEnergyNet
from hnn.nn.mlp import ACTIVATIONS, INITS, MLP, make_activation

__all__ = ["MLP", "EnergyNet", "SeparableEnergyNet", "RayleighDissipation", "ACTIVATIONS", "INITS", "make_activation"]
