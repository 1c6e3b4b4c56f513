"""The parts of the Hamiltonian GAN that are plain networks: a sequence discriminator and the GRU motion model.

- :class:`SequenceDiscriminator` — D(y) for an observed sequence ``y [B, T, obs_dim]`` → a logit ``[B]``, for any
  T ≥ 1. ``kind="conv"``: a dilated temporal convolution (kernel 3, dilations 1, 2, 4, …: the receptive field
  1 + 2·Σ dilations = ``2^(layers + 1) − 1`` steps, 63 for 5 layers: a whole 32-step clip), LeakyReLU(0.2), then
  the mean and the max over time of the last features into a linear head. ``kind="gru"``: a GRU over the sequence,
  its last hidden state into a linear head. ``spectral_norm=True`` wraps every weight in
  ``torch.nn.utils.parametrizations.spectral_norm``. ``minibatch_std=True`` appends the minibatch standard
  deviation (Karras et al. 2018) to the pooled features before the head: within groups of G = 4 sequences (2 or 1
  when B is not a multiple of 4), the std over the group of each feature, averaged over features — one number
  per group that lets D see a batch's spread (a generator whose samples are too alike, or too spread, is
  visible in it). Each logit then depends on the other members of its group.
- :class:`GRUMotion` — the second, non-physical twin of the latent motion model: x_{k+1} = x_k + W h_{k+1},
  h_{k+1} = GRUCell(x_k, h_k), h_0 = tanh(A x_0): a discrete-time recurrent map with no notion of a time step
  (``rollout(x0, steps)``), where the Hamiltonian GAN and the MLP-field twin integrate a vector field with
  ``hnn.integrate``.

Both store their constructor arguments (``config()``), so ``hnn.load`` rebuilds them from a checkpoint.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from hnn.nn.config import Configurable
from hnn.nn.fields import FIELDS
from hnn.validate import check_bool, check_choice, check_int

__all__ = ["SequenceDiscriminator", "GRUMotion", "DISCRIMINATORS"]

DISCRIMINATORS = ("conv", "gru")


class SequenceDiscriminator(Configurable, nn.Module):
    """D(y) → logit ``[B]`` for sequences ``y [B, T, obs_dim]`` of any length T ≥ 1 (module docstring).

    Args:
        obs_dim: features per time step.
        width: channels (conv) or hidden size (gru).
        layers: dilated conv layers (dilation 2^k) or GRU layers.
        kind: ``"conv"`` or ``"gru"``.
        spectral_norm: spectral normalisation of every weight matrix.
        minibatch_std: append the group standard deviation of the pooled features (module docstring).
    """

    def __init__(self, obs_dim: int, width: int = 64, layers: int = 5, kind: Literal["conv", "gru"] = "conv",
                 spectral_norm: bool = False, minibatch_std: bool = False) -> None:
        super().__init__()
        self.obs_dim = check_int("obs_dim", obs_dim, minimum=1)
        self.width = check_int("width", width, minimum=1)
        self.layers = check_int("layers", layers, minimum=1)
        self.kind = check_choice("kind", kind, DISCRIMINATORS)
        self.spectral_norm = check_bool("spectral_norm", spectral_norm)
        self.minibatch_std = check_bool("minibatch_std", minibatch_std)
        extra = 1 if minibatch_std else 0
        wrap = _spectral_norm if spectral_norm else (lambda module: module)
        if kind == "conv":
            self.convs = nn.ModuleList(
                wrap(nn.Conv1d(obs_dim if k == 0 else width, width, kernel_size=3, dilation=2 ** k,
                               padding=2 ** k)) for k in range(layers))
            self.head = wrap(nn.Linear(2 * width + extra, 1))
        else:
            self.gru = nn.GRU(obs_dim, width, num_layers=layers, batch_first=True)
            if spectral_norm:
                for name in [n for n, _ in self.gru.named_parameters() if n.startswith("weight")]:
                    _spectral_norm(self.gru, name)
            self.head = wrap(nn.Linear(width + extra, 1))

    def forward(self, y: Tensor) -> Tensor:
        if not isinstance(y, Tensor) or y.ndim != 3 or y.shape[-1] != self.obs_dim or y.shape[1] < 1:
            raise ValueError(f"SequenceDiscriminator takes sequences [batch, T >= 1, {self.obs_dim}], got "
                             f"{tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__}")
        if self.kind == "gru":
            features = self.gru(y)[0][:, -1]
        else:
            h = y.transpose(1, 2)  # [B, obs_dim, T]
            for conv in self.convs:
                h = F.leaky_relu(conv(h), 0.2)
            features = torch.cat([h.mean(-1), h.amax(-1)], dim=-1)
        if self.minibatch_std:
            features = torch.cat([features, _group_std(features)], dim=-1)
        return self.head(features).squeeze(-1)


def _group_std(features: Tensor) -> Tensor:
    """``[B, F]`` → ``[B, 1]``: per group of G consecutive rows (G = 4, 2 or 1, the largest dividing B), the
    population std over the group of each feature (ε = 1e-8 inside the square root), averaged over features."""
    b = features.shape[0]
    g = next(size for size in (4, 2, 1) if b % size == 0)
    grouped = features.view(b // g, g, -1)
    std = (grouped.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=-1)  # [B / G]
    return std.repeat_interleave(g).unsqueeze(-1)


class GRUMotion(Configurable, nn.Module):
    """x_{k+1} = x_k + W h_{k+1}, h_{k+1} = GRUCell(x_k, h_k), h_0 = tanh(A x_0) — a recurrent motion model.

    Args:
        dim: state size.
        hidden_dim: GRU hidden size.
    """

    def __init__(self, dim: int, hidden_dim: int = 64) -> None:
        super().__init__()
        self.dim = check_int("dim", dim, minimum=1)
        self.hidden_dim = check_int("hidden_dim", hidden_dim, minimum=1)
        self.start = nn.Linear(dim, hidden_dim)
        self.cell = nn.GRUCell(dim, hidden_dim)
        self.out = nn.Linear(hidden_dim, dim)

    def rollout(self, x0: Tensor, steps: int) -> Tensor:
        """States ``[steps, *batch, dim]`` starting with ``x0 [*batch, dim]`` (steps ≥ 1)."""
        check_int("steps", steps, minimum=1)
        if not isinstance(x0, Tensor) or x0.shape[-1] != self.dim:
            raise ValueError(f"GRUMotion was built for dim={self.dim}, got x0 of shape {tuple(x0.shape)}")
        batch = x0.shape[:-1]
        x = x0.reshape(-1, self.dim)
        h = torch.tanh(self.start(x))
        states = [x]
        for _ in range(steps - 1):
            h = self.cell(x, h)
            x = x + self.out(h)
            states.append(x)
        return torch.stack(states).reshape(steps, *batch, self.dim)


FIELDS.update({cls.__name__: cls for cls in (SequenceDiscriminator, GRUMotion)})  # hnn.load rebuilds them
