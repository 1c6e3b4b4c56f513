"""2-D toy densities for energy-based models, and a LightningDataModule serving them.

- ``eight_gaussians``: 8 Gaussians (σ = 0.2) evenly spaced on a circle of radius 2.
- ``two_moons``: two interleaved half circles (radius 1, offset (1, −0.5)) plus N(0, 0.1²) noise, scaled ×1.5.
- ``rings``: 3 concentric rings (radii 1, 2, 3 ×0.8) with radial N(0, 0.08²) noise.
- ``checkerboard``: uniform on the dark squares of a 4×4 board over [−2, 2]².
"""
from __future__ import annotations

import math
from typing import Callable

import pytorch_lightning as pl
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from hnn.validate import check_choice, check_int


def eight_gaussians(n: int, generator: torch.Generator | None = None) -> Tensor:
    k = torch.randint(0, 8, (n,), generator=generator)
    angle = k.double() * (2 * math.pi / 8)
    centers = 2.0 * torch.stack([angle.cos(), angle.sin()], -1)
    return centers + 0.2 * torch.randn(n, 2, generator=generator, dtype=torch.float64)


def two_moons(n: int, generator: torch.Generator | None = None) -> Tensor:
    upper = torch.rand(n, generator=generator) < 0.5
    t = torch.rand(n, generator=generator, dtype=torch.float64) * math.pi
    x = torch.where(upper, t.cos(), 1.0 - t.cos())
    y = torch.where(upper, t.sin(), 0.5 - t.sin())
    pts = torch.stack([x - 0.5, y - 0.25], -1) + 0.1 * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return 1.5 * pts


def rings(n: int, generator: torch.Generator | None = None) -> Tensor:
    radius = 0.8 * (torch.randint(1, 4, (n,), generator=generator).double())
    radius = radius + 0.08 * torch.randn(n, generator=generator, dtype=torch.float64)
    angle = torch.rand(n, generator=generator, dtype=torch.float64) * 2 * math.pi
    return torch.stack([radius * angle.cos(), radius * angle.sin()], -1)


def checkerboard(n: int, generator: torch.Generator | None = None) -> Tensor:
    x = torch.rand(n, generator=generator, dtype=torch.float64) * 4 - 2
    row = torch.randint(0, 2, (n,), generator=generator).double()
    y = torch.rand(n, generator=generator, dtype=torch.float64) + row * 2 - 2 + (torch.floor(x) % 2)
    return torch.stack([x, y], -1)


DENSITIES: dict[str, Callable[..., Tensor]] = {
    "eight_gaussians": eight_gaussians,
    "two_moons": two_moons,
    "rings": rings,
    "checkerboard": checkerboard,
}


def sample_toy2d(name: str, n: int, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """``n`` points (n, 2) from the named toy density."""
    check_choice("toy density", name, DENSITIES)
    check_int("n", n, minimum=1)
    return DENSITIES[name](n, generator).to(dtype)


class Toy2DDataModule(pl.LightningDataModule):
    """Train / validation / test sets of a 2-D toy density (``dim = 2``), fixed by ``seed``."""

    dim = 2

    def __init__(
        self,
        density: str = "eight_gaussians",
        num_train: int = 20000,
        num_val: int = 2000,
        num_test: int = 2000,
        batch_size: int = 256,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_choice("toy density", density, DENSITIES)
        for name, value in (("num_train", num_train), ("num_val", num_val), ("num_test", num_test), ("batch_size", batch_size)):
            check_int(name, value, minimum=1)
        self.save_hyperparameters()
        self.density = density
        self.task = density
        self.batch_size = batch_size
        g = torch.Generator().manual_seed(seed)
        self.train_x = sample_toy2d(density, num_train, g)
        self.val_x = sample_toy2d(density, num_val, g)
        self.test_x = sample_toy2d(density, num_test, g)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.train_x), batch_size=self.batch_size, shuffle=True, drop_last=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.val_x), batch_size=len(self.val_x))

    def test_dataloader(self) -> DataLoader:
        return DataLoader(TensorDataset(self.test_x), batch_size=len(self.test_x))
