"""Videos of the spring and the pendulum: a torch renderer and ``VideoDataModule``, the data of the video GAN.

Geometry (:class:`RenderSpec`, the one place it is defined; the read-off :func:`hnn.evaluation.read_states` uses
the same object). A frame is ``[1, S, S]`` grayscale in [−1, 1] (the range of a tanh generator), S = ``image_size``
a power of two ≥ 16. Positions are in pixel coordinates: ``(x, y)`` = (column, row) of pixel centres, 0-based,
x to the right and y downwards; the image centre is c = (S − 1)/2.

- pendulum: the pivot at (c, c), the bob at  (x, y) = (c + L sin q, c + L cos q)  (q from the downward vertical),
  arm length L = 0.3·S; no arm is drawn.
- spring: the blob at  (x, y) = (c + s q, c)  with s = 0.25·S pixels per unit of q.

The bob is an isotropic Gaussian blob of width σ = 1.25·S/32 px on a uniform background b = −0.5 (not black):

    frame[i, j] = b + A · exp(−((j − x)² + (i − y)²) / (2σ²)),   A = 1.3 (peak b + A = 0.8),

so the whole frame stays inside [b, b + A] ⊂ [−1, 1]. Every pendulum angle, and every spring state with |q| ≤ 1
(the data's range: the HNN paper's rings have radius ≤ 1), keeps at least 4σ between the blob's centre and the
outermost pixel centres (pendulum: 4.3σ at S = 16, 4.7σ at 32, 4.9σ at 64; the spring keeps 4σ up to |q| ≈ 1.25 at
S = 16 and 1.34 at S = 64, beyond which the border cuts the blob and a centroid read-off is biased inwards). No arm
is drawn: its pixels would pull an intensity centroid towards the pivot. At S = 16 the blob (σ = 0.625 px) is
undersampled and its sampled centroid is off by up to ~3e-3 px; from 32 px on, by < 2e-6 px.

:func:`render_frames` evaluates the two 1-D profiles exp(−(j − x)²/(2σ²)) and exp(−(i − y)²/(2σ²)) and their outer
product for all frames at once (no loop over frames); the cost is O(N·T·S²) multiply-adds, cheap next to a
discriminator's forward pass, which is why :class:`VideoDataModule` renders its batches on the fly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import pytorch_lightning as pl
import torch
from torch import Tensor

from hnn.data.datamodule import DeviceBatches
from hnn.data.trajectories import TRAJECTORY_SPLITS, TRAJECTORY_SYSTEMS, TrajectoryDataModule
from hnn.validate import check_choice, check_image_size, check_int, check_positive, check_real

__all__ = ["RenderSpec", "render_frames", "VideoDataModule", "VIDEO_SYSTEMS"]

VIDEO_SYSTEMS = tuple(sorted(TRAJECTORY_SYSTEMS))  # ("pendulum", "spring")
MARGIN_SIGMAS = 4.0  # blob centre to the outermost pixel centres, in σ, for every drawn state of the data's range
_PENDULUM_ARM = 0.3  # L / S
_SPRING_SCALE = 0.25  # s / S (pixels per unit of q, per pixel of image size)
_SIGMA = 1.25 / 32.0  # σ / S
_BACKGROUND = -0.5
_AMPLITUDE = 1.3


@dataclass(frozen=True)
class RenderSpec:
    """The drawing geometry of one system at one image size (module docstring); build it with :meth:`for_system`.

    Fields: ``system`` (``"pendulum"`` or ``"spring"``), ``image_size`` S, ``pivot`` (x, y) in pixels (the pendulum's
    pivot; the spring's rest position), ``scale`` (pendulum: arm length L in pixels; spring: pixels per unit of q),
    ``sigma`` σ in pixels, ``background`` b and ``amplitude`` A (the blob adds A at its centre). A custom geometry
    (``dataclasses.replace(spec, sigma=...)``) is checked again: b and b + A in [−1, 1], A ≠ 0, σ > 0, scale > 0,
    and at least ``MARGIN_SIGMAS``·σ between the blob and the outermost pixel centres over the data's range (every
    angle; |q| ≤ 1 for the spring), else ValueError.
    """

    system: str
    image_size: int
    pivot: tuple[float, float]
    scale: float
    sigma: float
    background: float
    amplitude: float

    def __post_init__(self) -> None:
        check_choice("system", self.system, VIDEO_SYSTEMS)
        check_image_size(self.image_size)
        if not isinstance(self.pivot, tuple) or len(self.pivot) != 2:
            raise TypeError(f"pivot must be an (x, y) tuple, got {self.pivot!r}")
        px, py = check_real("pivot[0]", self.pivot[0]), check_real("pivot[1]", self.pivot[1])
        scale, sigma = check_positive("scale", self.scale), check_positive("sigma", self.sigma)
        background, amplitude = check_real("background", self.background), check_real("amplitude", self.amplitude)
        if amplitude == 0.0:
            raise ValueError("amplitude must be non-zero (the blob would be invisible)")
        for name, value in (("background", background), ("background + amplitude", background + amplitude)):
            if not -1.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [-1, 1] (the frames' range), got {value:g}")
        reach_x, reach_y = (scale, scale) if self.system == "pendulum" else (scale, 0.0)
        room = min(px - reach_x, self.image_size - 1 - px - reach_x, py - reach_y, self.image_size - 1 - py - reach_y)
        if room < MARGIN_SIGMAS * sigma:
            raise ValueError(f"the blob leaves the frame: {room:g} px between its extreme position and the border, "
                             f"need {MARGIN_SIGMAS:g} sigma = {MARGIN_SIGMAS * sigma:g} px")

    @classmethod
    def for_system(cls, system: str, image_size: int = 32) -> RenderSpec:
        """The standard geometry of ``system`` at ``image_size`` (module docstring)."""
        system = check_choice("system", system, VIDEO_SYSTEMS)
        size = check_image_size(image_size)
        centre = 0.5 * (size - 1)
        scale = (_PENDULUM_ARM if system == "pendulum" else _SPRING_SCALE) * size
        return cls(system=system, image_size=size, pivot=(centre, centre), scale=scale, sigma=_SIGMA * size,
                   background=_BACKGROUND, amplitude=_AMPLITUDE)

    def position(self, states: Tensor) -> Tensor:
        """The blob's centre ``[..., 2]`` = (x, y) in pixels of states ``[..., 2]`` = [q, p] (p is not drawn).

        pendulum: (x, y) = pivot + L (sin q, cos q);  spring: (x, y) = pivot + (s q, 0).
        """
        q = _check_states(states)[..., 0]
        if self.system == "pendulum":
            dx, dy = self.scale * torch.sin(q), self.scale * torch.cos(q)
        else:
            dx, dy = self.scale * q, torch.zeros_like(q)
        return torch.stack([self.pivot[0] + dx, self.pivot[1] + dy], dim=-1)


def _check_states(states: Any) -> Tensor:
    if not isinstance(states, Tensor):
        raise TypeError(f"states must be a torch.Tensor, got {type(states).__name__}")
    if not torch.is_floating_point(states):
        raise TypeError(f"states must have a floating dtype, got {states.dtype}")
    if states.ndim == 0 or states.shape[-1] != 2:
        raise ValueError(f"states must have shape [..., 2] (layout [q, p]), got {tuple(states.shape)}")
    return states


def render_frames(states: Tensor, system: str, image_size: int = 32, *, spec: RenderSpec | None = None,
                  dtype: torch.dtype | None = None) -> Tensor:
    """Grayscale frames ``[..., 1, S, S]`` in [−1, 1] of states ``[..., 2]`` = [q, p] of ``system`` (module doc).

    Args:
        states: a floating tensor ``[..., 2]``, any leading shape and device (e.g. ``[B, T, 2]`` clips).
        system: ``"pendulum"`` or ``"spring"``.
        image_size: S, a power of two ≥ 16.
        spec: a custom geometry instead of ``RenderSpec.for_system(system, image_size)``; it must describe the same
            system and size.
        dtype: of the frames (default: that of ``states``). The blob's position and its two 1-D profiles are always
            evaluated in the states' dtype, only their outer product in ``dtype``.

    Frame k is  b + A · g_y[k] ⊗ g_x[k]  with the profiles over columns j and rows i
    g_x[k, j] = exp(−(j − x_k)²/(2σ²)),  g_y[k, i] = exp(−(i − y_k)²/(2σ²)).
    """
    system = check_choice("system", system, VIDEO_SYSTEMS)
    size = check_image_size(image_size)
    if spec is None:
        spec = RenderSpec.for_system(system, size)
    elif not isinstance(spec, RenderSpec):
        raise TypeError(f"spec must be a RenderSpec, got {type(spec).__name__}")
    elif (spec.system, spec.image_size) != (system, size):
        raise ValueError(f"spec describes {spec.system!r} at {spec.image_size} px, not {system!r} at {size} px")
    pos = spec.position(_check_states(states))
    dtype = states.dtype if dtype is None else dtype
    if not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    pixels = torch.arange(size, dtype=states.dtype, device=states.device)
    inv = -0.5 / (spec.sigma * spec.sigma)
    gx = torch.exp(inv * (pixels - pos[..., 0:1]).square()).to(dtype)  # [..., S] over columns
    gy = (spec.amplitude * torch.exp(inv * (pixels - pos[..., 1:2]).square())).to(dtype)  # [..., S] over rows
    frames = (gy.unsqueeze(-1) * gx.unsqueeze(-2)).add_(spec.background)  # [..., S, S]
    return frames.unsqueeze(-3)


class _RenderedBatches:
    """Re-iterable loader: each batch ``(x,)`` of trajectories from ``batches`` becomes ``(frames,)`` (float32)."""

    def __init__(self, batches: DeviceBatches, spec: RenderSpec) -> None:
        self.batches = batches
        self.spec = spec

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[Tensor]]:
        for (x,) in self.batches:
            yield (render_frames(x, self.spec.system, self.spec.image_size, spec=self.spec, dtype=torch.float32),)


class VideoDataModule(pl.LightningDataModule):
    """Noiseless videos ``[N, T, 1, S, S]`` of ``system``: :func:`render_frames` of a :class:`TrajectoryDataModule`.

    The trajectories are those of :class:`TrajectoryDataModule` with the same arguments (float64; the spring's exact
    flow, the pendulum's dopri5 reference at rtol = atol = 1e-12; the HNN paper's starts) in the same four disjoint
    splits ``train``, ``val`` (model selection), ``test`` and ``reference`` (real-vs-real floors). **The data is
    noiseless**: neither the states nor the pixels carry noise. Training and validation batches are ``(frames,)``
    with ``frames [B, T, 1, S, S]`` float32 in [−1, 1], rendered on the fly from the float64 trajectories kept on the
    trainer's device (rendering is cheap, O(B·T·S²), so no split of frames is stored; train is shuffled each epoch
    from a generator seeded with ``seed + 1``, val is in order). The evaluation reads whole splits with
    :meth:`trajectories` (the states) and :meth:`clips` (their frames).

    Args:
        system: ``"spring"`` or ``"pendulum"``.
        image_size: S, a power of two ≥ 16.
        steps: frames per clip T (≥ 3: the read-off of a momentum needs three frames).
        dt: time between frames.
        n_train, n_val, n_test, n_reference: clips per split (≥ 1; 2 000 each by default).
        batch_size: clips per training batch.
        seed: seeds the starts and the shuffling.
    """

    dim = 2  # the state [q, p] behind each frame: the size the training program gives the latent field

    def __init__(self, system: str = "spring", image_size: int = 32, steps: int = 32, dt: float = 0.1,
                 n_train: int = 2000, n_val: int = 2000, n_test: int = 2000, n_reference: int = 2000,
                 batch_size: int = 256, seed: int = 0) -> None:
        super().__init__()
        self.spec = RenderSpec.for_system(check_choice("system", system, VIDEO_SYSTEMS), image_size)
        self.trajectory_data = TrajectoryDataModule(system, steps=check_int("steps", steps, minimum=3), dt=dt,
                                                    n_train=n_train, n_val=n_val, n_test=n_test,
                                                    n_reference=n_reference, batch_size=batch_size, seed=seed,
                                                    dtype="float64")
        self.save_hyperparameters()
        self.system_name = system
        self.system = self.trajectory_data.system
        self.image_size = self.spec.image_size
        self.steps, self.dt = self.trajectory_data.steps, self.trajectory_data.dt
        self.sizes = dict(self.trajectory_data.sizes)
        self.batch_size, self.seed = self.trajectory_data.batch_size, self.trajectory_data.seed
        self.task = f"{system} videos ({steps} frames of {dt:g}, {self.image_size} px)"

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """``(1, S, S)``: channels, height, width of one frame."""
        return (1, self.image_size, self.image_size)

    @property
    def periodic(self) -> tuple[bool, ...]:
        """Per coordinate q of the underlying states: whether it is an angle."""
        return self.trajectory_data.periodic

    def times(self, dtype: torch.dtype = torch.float64) -> Tensor:
        """The frame times ``[T]``: 0, dt, …, (T − 1)·dt."""
        return self.trajectory_data.times(dtype)

    def trajectories(self, split: str = "test") -> Tensor:
        """The float64 states ``[N, T, 2]`` (layout [q, p]) behind the clips of a split (on the CPU)."""
        return self.trajectory_data.trajectories(split)

    def clips(self, split: str = "test", dtype: torch.dtype = torch.float32) -> Tensor:
        """The frames ``[N, T, 1, S, S]`` of a whole split (on the CPU), = ``render_frames(trajectories(split))``.

        Memory: N·T·S² values (2 000 clips of 32 frames at 32 px: 262 MB in float32).
        """
        return render_frames(self.trajectories(split), self.spec.system, self.image_size, spec=self.spec, dtype=dtype)

    def setup(self, stage: str | None = None) -> None:
        # the trajectory module serves the float64 states on the trainer's device; frames are rendered from them
        self.trajectory_data.trainer = self.trainer
        self.trajectory_data.setup(stage)

    def _loader(self, split: str, train: bool) -> _RenderedBatches:
        return _RenderedBatches(self.trajectory_data._loader(split, train), self.spec)

    def train_dataloader(self) -> Any:
        return self._loader("train", train=True)

    def val_dataloader(self) -> Any:
        return self._loader("val", train=False)

    def summary(self) -> str:
        return (f"{self.task}: " + ", ".join(f"{n} {self.sizes[n]}" for n in TRAJECTORY_SPLITS)
                + " clips, noiseless")
