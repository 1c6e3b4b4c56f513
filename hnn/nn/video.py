"""The networks of the video Hamiltonian GAN: a per-frame decoder and two discriminators over clips.

Frames are ``[C, S, S]`` with S a power of two ≥ 16 and values in [−1, 1]; clips are ``[B, T, C, S, S]`` for any
T ≥ 1.

- :class:`FrameDecoder` — DCGAN-style (Radford et al. 2016) per-frame decoder, latent ``[..., latent_dim]`` →
  frame ``[..., C, S, S]``: a linear map to ``[width·2^(L−1), 4, 4]``, then L = log2(S/4) transposed convolutions
  (kernel 4, stride 2, padding 1) each doubling the size and halving the channels, LeakyReLU(0.2) between them,
  tanh at the end. No batch norm: every frame is decoded on its own, so a clip's frames do not depend on the
  other clips of the batch.
- :class:`BroadcastDecoder` — spatial broadcast decoder (Watters et al. 2019), latent ``[..., latent_dim]`` →
  frame ``[..., C, S, S]``: every pixel gets the latent z beside its own coordinates (u, v) ∈ [−1, 1]², and one MLP
  shared by all pixels maps them to the pixel's value, frame(u, v) = tanh(g_θ(z, u, v)). An object's position is a
  function of the latent that a transposed-convolution stack learns poorly (Liu et al. 2018, CoordConv: such
  stacks fail even at painting one pixel at given coordinates); here the position enters every pixel directly.
- :class:`KeypointDecoder` — a keypoint bottleneck (Jakab et al. 2018; Minderer et al. 2019), latent
  ``[..., latent_dim]`` → frame ``[..., C, S, S]``: an MLP maps z to K keypoints (x_k, y_k) = tanh(·) ∈ (−1, 1)² and
  amplitudes a_k, each drawn as a Gaussian map  m_k(u, v) = a_k exp(−((u − x_k)² + (v − y_k)²) / (2s²))  (s the
  map width in the normalised coordinates), and a convolutional head (3×3 convolutions at full resolution,
  LeakyReLU(0.2), tanh at the end) turns the K maps and the two coordinate channels (u, v) into the frame. The
  head learns the look (background, blob shape, intensity); where things are comes from the keypoints.
- :class:`FrameEncoder` — the mirror image, frame → features ``[..., features]``: L convolutions (kernel 4,
  stride 2, padding 1) from S down to 4, LeakyReLU(0.2), then a linear map of the flattened ``[·, 4, 4]``.
- :class:`FrameDiscriminator` — a frame encoder with a linear head: one logit per frame, ``[B, T]``.
- :class:`ClipDiscriminator` — each frame encoded by a frame encoder, then the
  :class:`~hnn.nn.SequenceDiscriminator` (dilated temporal convolution) over the sequence of features: one
  logit per clip, ``[B]``, for any T.

All store their constructor arguments (``config()``), so ``hnn.load`` rebuilds them from a checkpoint.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from hnn.nn.config import Configurable
from hnn.nn.fields import FIELDS
from hnn.nn.gan import SequenceDiscriminator
from hnn.nn.mlp import MLP
from hnn.validate import check_bool, check_image_size, check_int, check_positive

__all__ = ["FrameDecoder", "BroadcastDecoder", "KeypointDecoder", "FrameEncoder", "FrameDiscriminator",
           "ClipDiscriminator"]


def _levels(image_size: int) -> int:
    return int(math.log2(image_size // 4))


def _pixel_centres(image_size: int) -> Tensor:
    """The S pixel centres along one axis in the normalised coordinates [−1, 1] (S pixels span 2)."""
    return (torch.arange(image_size, dtype=torch.float32) + 0.5) / image_size * 2 - 1


def _check_frames(name: str, frames: Tensor, channels: int, size: int, ndim: int) -> None:
    if not isinstance(frames, Tensor) or frames.ndim != ndim or tuple(frames.shape[-3:]) != (channels, size, size):
        shape = tuple(frames.shape) if isinstance(frames, Tensor) else type(frames).__name__
        lead = "[B, T, " if ndim == 5 else "[..., "
        raise ValueError(f"{name} takes {lead}{channels}, {size}, {size}] frames, got {shape}")


def _check_latents(name: str, z: Tensor, latent_dim: int) -> None:
    if not isinstance(z, Tensor) or z.ndim < 1 or z.shape[-1] != latent_dim:
        shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
        raise ValueError(f"{name} takes latents [..., {latent_dim}], got {shape}")

class FrameDecoder(Configurable, nn.Module):
    """Latent ``[..., latent_dim]`` → frame ``[..., channels, S, S]`` in (−1, 1) (module docstring).

    Args:
        latent_dim: input size (the latent state [q, p], plus a content code if one is used).
        image_size: S, a power of two ≥ 16.
        channels: C (1: grayscale).
        width: channels of the last hidden layer; the first has ``width·2^(L−1)``.
    """

    def __init__(self, latent_dim: int, image_size: int = 32, channels: int = 1, width: int = 32) -> None:
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=1)
        self.image_size = check_image_size(image_size)
        self.channels = check_int("channels", channels, minimum=1)
        self.width = check_int("width", width, minimum=1)
        levels = _levels(self.image_size)
        self._start_channels = width * 2 ** (levels - 1)
        self.start = nn.Linear(latent_dim, self._start_channels * 16)
        ups = []
        size = self._start_channels
        for k in range(levels):
            out = channels if k == levels - 1 else size // 2
            ups.append(nn.ConvTranspose2d(size, out, kernel_size=4, stride=2, padding=1))
            size = out
        self.ups = nn.ModuleList(ups)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def forward(self, z: Tensor) -> Tensor:
        _check_latents("FrameDecoder", z, self.latent_dim)
        lead = z.shape[:-1]
        h = F.leaky_relu(self.start(z.reshape(-1, self.latent_dim)), 0.2).view(-1, self._start_channels, 4, 4)
        for k, up in enumerate(self.ups):
            h = up(h)
            h = h.tanh() if k == len(self.ups) - 1 else F.leaky_relu(h, 0.2)
        return h.reshape(*lead, *self.frame_shape)


class BroadcastDecoder(Configurable, nn.Module):
    """Latent ``[..., latent_dim]`` → frame ``[..., channels, S, S]`` in (−1, 1) by a spatial broadcast (module
    docstring): frame(u, v) = tanh(g_θ(z, u, v)) with g_θ an MLP of ``depth`` hidden layers of ``width`` SiLU
    units, the same for every pixel (u, v) ∈ [−1, 1]² (pixel centres). The first layer is split as
    A·z + B·(u, v) + b, so the latent part is computed once per frame.

    Args:
        latent_dim: input size (the latent state [q, p], plus a content code if one is used).
        image_size: S, a power of two ≥ 16.
        channels: C (1: grayscale).
        width, depth: the per-pixel MLP.
    """

    def __init__(self, latent_dim: int, image_size: int = 32, channels: int = 1, width: int = 32,
                 depth: int = 3) -> None:
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=1)
        self.image_size = check_image_size(image_size)
        self.channels = check_int("channels", channels, minimum=1)
        self.width = check_int("width", width, minimum=1)
        self.depth = check_int("depth", depth, minimum=1)
        self.latent_in = nn.Linear(latent_dim, width)
        self.position_in = nn.Linear(2, width, bias=False)
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
        self.out = nn.Linear(width, channels)
        centres = _pixel_centres(image_size)
        v, u = torch.meshgrid(centres, centres, indexing="ij")  # v: row (down), u: column (right)
        self.register_buffer("grid", torch.stack([u, v], dim=-1).reshape(-1, 2), persistent=False)  # [S², 2]

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def forward(self, z: Tensor) -> Tensor:
        _check_latents("BroadcastDecoder", z, self.latent_dim)
        lead = z.shape[:-1]
        grid = self.grid.to(dtype=z.dtype)
        h = self.latent_in(z.reshape(-1, self.latent_dim)).unsqueeze(1) + self.position_in(grid)  # [N, S², width]
        h = F.silu(h)
        for layer in self.hidden:
            h = F.silu(layer(h))
        frames = self.out(h).tanh()  # [N, S², C]
        s = self.image_size
        return frames.transpose(1, 2).reshape(*lead, self.channels, s, s)


class KeypointDecoder(Configurable, nn.Module):
    """Latent ``[..., latent_dim]`` → frame ``[..., channels, S, S]`` in (−1, 1) through K Gaussian keypoint maps
    (module docstring).

    Args:
        latent_dim: input size (the latent state [q, p], plus a content code if one is used).
        image_size: S, a power of two ≥ 16.
        channels: C (1: grayscale).
        keypoints: K.
        hidden: width of the MLP's two SiLU hidden layers (latent → keypoints).
        width: channels of the convolutional head's hidden layers.
        depth: hidden 3×3 convolutions of the head (≥ 1), each followed by LeakyReLU(0.2).
        sigma: width of a keypoint map in pixels.
    """

    def __init__(self, latent_dim: int, image_size: int = 32, channels: int = 1, keypoints: int = 4,
                 hidden: int = 64, width: int = 16, depth: int = 2, sigma: float = 1.5) -> None:
        super().__init__()
        self.latent_dim = check_int("latent_dim", latent_dim, minimum=1)
        self.image_size = check_image_size(image_size)
        self.channels = check_int("channels", channels, minimum=1)
        self.keypoints = check_int("keypoints", keypoints, minimum=1)
        self.hidden = check_int("hidden", hidden, minimum=1)
        self.width = check_int("width", width, minimum=1)
        self.depth = check_int("depth", depth, minimum=1)
        self.sigma = check_positive("sigma", sigma)
        self.mlp = MLP(latent_dim, 3 * keypoints, width=hidden, depth=2, activation="silu", init="default")
        convs, size = [], keypoints + 2
        for _ in range(depth):
            convs.append(nn.Conv2d(size, width, kernel_size=3, padding=1))
            size = width
        self.convs = nn.ModuleList(convs)
        self.out = nn.Conv2d(size, channels, kernel_size=3, padding=1)
        self.register_buffer("centres", _pixel_centres(image_size), persistent=False)

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def forward(self, z: Tensor) -> Tensor:
        _check_latents("KeypointDecoder", z, self.latent_dim)
        lead, s = z.shape[:-1], self.image_size
        out = self.mlp(z.reshape(-1, self.latent_dim)).view(-1, self.keypoints, 3)
        xy, amplitude = out[..., :2].tanh(), out[..., 2:]  # [N, K, 2], [N, K, 1]
        g = self.centres.to(dtype=z.dtype)
        width = 2.0 * self.sigma / s  # sigma in the normalised coordinates (S pixels span 2)
        inv = -0.5 / (width * width)
        gx = torch.exp(inv * (g - xy[..., 0:1]) ** 2)  # [N, K, S] over columns u
        gy = torch.exp(inv * (g - xy[..., 1:2]) ** 2)  # [N, K, S] over rows v
        maps = (gy * amplitude).unsqueeze(-1) * gx.unsqueeze(-2)  # [N, K, S, S]
        v, u = torch.meshgrid(g, g, indexing="ij")
        coords = torch.stack([u, v]).expand(maps.shape[0], 2, s, s)
        h = torch.cat([maps, coords], dim=1)
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
        return self.out(h).tanh().reshape(*lead, *self.frame_shape)


class FrameEncoder(Configurable, nn.Module):
    """Frame ``[..., channels, S, S]`` → features ``[..., features]`` (module docstring).

    Args:
        image_size: S, a power of two ≥ 16.
        channels: C.
        width: channels of the first convolution (doubled at each halving of the size).
        features: output size.
        spectral_norm: spectral normalisation of every weight.
    """

    def __init__(self, image_size: int = 32, channels: int = 1, width: int = 16, features: int = 64,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        self.image_size = check_image_size(image_size)
        self.channels = check_int("channels", channels, minimum=1)
        self.width = check_int("width", width, minimum=1)
        self.features = check_int("features", features, minimum=1)
        self.spectral_norm = check_bool("spectral_norm", spectral_norm)
        wrap = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda module: module)
        convs, size = [], channels
        for k in range(_levels(self.image_size)):
            out = width * 2 ** k
            convs.append(wrap(nn.Conv2d(size, out, kernel_size=4, stride=2, padding=1)))
            size = out
        self.convs = nn.ModuleList(convs)
        self.out = wrap(nn.Linear(size * 16, features))

    def forward(self, frames: Tensor) -> Tensor:
        if not isinstance(frames, Tensor) or frames.ndim < 3 or \
                tuple(frames.shape[-3:]) != (self.channels, self.image_size, self.image_size):
            _check_frames("FrameEncoder", frames, self.channels, self.image_size, 4)
        lead = frames.shape[:-3]
        h = frames.reshape(-1, self.channels, self.image_size, self.image_size)
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
        return self.out(h.flatten(1)).reshape(*lead, self.features)


class FrameDiscriminator(Configurable, nn.Module):
    """Clips ``[B, T, channels, S, S]`` → per-frame logits ``[B, T]`` (module docstring).

    Args: as :class:`FrameEncoder` (``features``: the encoder's output, before the linear head).
    """

    def __init__(self, image_size: int = 32, channels: int = 1, width: int = 16, features: int = 64,
                 spectral_norm: bool = False) -> None:
        super().__init__()
        self.image_size, self.channels, self.width = image_size, channels, width
        self.features, self.spectral_norm = features, spectral_norm
        self.encoder = FrameEncoder(image_size, channels, width, features, spectral_norm)
        self.head = nn.Linear(features, 1)

    def forward(self, clips: Tensor) -> Tensor:
        _check_frames("FrameDiscriminator", clips, self.channels, self.image_size, 5)
        return self.head(F.leaky_relu(self.encoder(clips), 0.2)).squeeze(-1)


class ClipDiscriminator(Configurable, nn.Module):
    """Clips ``[B, T, channels, S, S]`` → one logit per clip ``[B]``, any T (module docstring).

    Args:
        image_size, channels, width, features, spectral_norm: the per-frame :class:`FrameEncoder`.
        temporal_width, temporal_layers: the :class:`~hnn.nn.SequenceDiscriminator` over the frame features
            (dilations 1 … 2^(layers−1): receptive field 2^(layers+1) − 1 frames).
        minibatch_std: the sequence discriminator's minibatch-std feature.
    """

    def __init__(self, image_size: int = 32, channels: int = 1, width: int = 16, features: int = 32,
                 temporal_width: int = 32, temporal_layers: int = 4, spectral_norm: bool = False,
                 minibatch_std: bool = False) -> None:
        super().__init__()
        self.image_size, self.channels, self.width, self.features = image_size, channels, width, features
        self.temporal_width, self.temporal_layers = temporal_width, temporal_layers
        self.spectral_norm, self.minibatch_std = spectral_norm, minibatch_std
        self.encoder = FrameEncoder(image_size, channels, width, features, spectral_norm)
        self.temporal = SequenceDiscriminator(features, width=temporal_width, layers=temporal_layers,
                                              spectral_norm=spectral_norm, minibatch_std=minibatch_std)

    def forward(self, clips: Tensor) -> Tensor:
        _check_frames("ClipDiscriminator", clips, self.channels, self.image_size, 5)
        return self.temporal(F.leaky_relu(self.encoder(clips), 0.2))


FIELDS.update({cls.__name__: cls for cls in (FrameDecoder, BroadcastDecoder, KeypointDecoder, FrameEncoder,
                                              FrameDiscriminator, ClipDiscriminator)})
