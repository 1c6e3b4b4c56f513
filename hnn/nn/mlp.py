"""The one multilayer perceptron of hnn, and the activation registry it uses.

``MLP(in_features, out_features, width, depth, activation)`` computes

    h_0 = x,   h_k = σ(W_k h_{k-1} + b_k)  for k = 1..depth,   y = W_out h_depth (+ b_out)

with orthogonal weight initialisation and zero biases (as in Greydanus et al. 2019). Energy heads (a scalar
H, V, T or D) are built with ``bias_out=False``: an additive constant never changes ∇H, so its bias would get no
gradient at all, which also trips DDP's unused-parameter check.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

__all__ = ["MLP", "ACTIVATIONS", "INITS", "make_activation"]

# name -> module factory. Smooth activations are preferred for HNNs: the loss of an HNN contains ∇H, so training
# differentiates twice and ReLU's second derivative is zero almost everywhere.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "relu": nn.ReLU,
    "sin": lambda: _Sine(),
}

INITS = ("orthogonal", "default")


class _Sine(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return torch.sin(x)


def make_activation(name: str) -> nn.Module:
    """Activation module by name; unknown names raise ValueError listing the choices."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


class MLP(nn.Module):
    """Fully connected network ``in_features -> [width] * depth -> out_features``.

    Args:
        in_features: input size (the state dimension for every model in hnn).
        out_features: output size (1 for an energy head, ``dim`` for a baseline vector field).
        width: hidden units per layer (the paper uses 200).
        depth: number of hidden layers (the paper uses 2).
        activation: name from :data:`ACTIVATIONS` (default ``"tanh"``, the paper's choice).
        bias_out: whether the output layer has a bias (``False`` for energy heads, see the module docstring).
        init: ``"orthogonal"`` (orthogonal weights, zero biases) or ``"default"`` (PyTorch's default).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        width: int = 200,
        depth: int = 2,
        activation: str = "tanh",
        bias_out: bool = True,
        init: str = "orthogonal",
    ) -> None:
        super().__init__()
        _check_positive_int("in_features", in_features)
        _check_positive_int("out_features", out_features)
        _check_positive_int("width", width)
        _check_positive_int("depth", depth, minimum=0)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {list(INITS)}")
        make_activation(activation)  # validate the name before building anything
        self.in_features, self.out_features = in_features, out_features
        layers: list[nn.Module] = []
        size = in_features
        for _ in range(depth):
            layers += [nn.Linear(size, width), make_activation(activation)]
            size = width
        layers.append(nn.Linear(size, out_features, bias=bias_out))
        self.layers = nn.Sequential(*layers)
        if init == "orthogonal":
            for module in self.layers:
                if isinstance(module, nn.Linear):
                    nn.init.orthogonal_(module.weight)
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        """``x [..., in_features] -> [..., out_features]``."""
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"MLP expects inputs with last dimension {self.in_features}, got shape {tuple(x.shape)}"
            )
        return self.layers(x)
