"""EnergyModel: an energy-based model p_θ(x) ∝ exp(−E_θ(x)) trained by persistent contrastive
divergence with HMC negatives (Du & Mordatch 2019 style replay buffer).

E_θ(x) = F_θ(x) + ½·confinement·|x|², F_θ the injected field (the quadratic term keeps exp(−E) normalisable).
Loss per batch, with data x⁺ and negatives x⁻ from the replay buffer moved by ``sampler_steps``
HMC transitions (``hnn.sampling.HMC``) under the current E_θ:
    L = mean E_θ(x⁺) − mean E_θ(x⁻) + α·(mean E_θ(x⁺)² + mean E_θ(x⁻)²),
whose gradient is the contrastive-divergence estimate of the NLL gradient plus a magnitude
regulariser.  Buffer entries are re-initialised uniformly in the data box with probability
``reinit_prob``.  For 2-D data the validation/test metric is the exact NLL under the model,
log Z computed on a grid (``val_loss``, ``test_nll``). The density figure is drawn by
:class:`hnn.training.callbacks.DensityFigure` (or ``scripts/plot_ebm.py``), not here.
"""
from __future__ import annotations

import functools
import math

import torch
from torch import Tensor, nn

from hnn.models.base import LoadableModule
from hnn.models.dynamics import OptimizerFactory, describe_callable
from hnn.sampling import HMC
from hnn.validate import check_int, check_nonnegative, check_positive, check_real


class EnergyModel(LoadableModule):
    """Energy-based model trained by persistent contrastive divergence with HMC negatives.

    ``field``: the injected scalar network E(x) (``hnn.nn.EnergyNet(2, width=128, depth=3, activation="silu")`` in
    the shipped config); ``optimizer``: an injected ``params -> Optimizer`` (default Adam, lr 3e-3); the other
    arguments are in the module docstring's loss (regularization α, confinement, buffer, HMC sampler settings, grid
    for the NLL).
    """

    def __init__(
        self,
        field: nn.Module,
        optimizer: OptimizerFactory = functools.partial(torch.optim.Adam, lr=3e-3),
        regularization: float = 0.01,
        confinement: float = 0.01,
        buffer_size: int = 10000,
        reinit_prob: float = 0.05,
        sampler_steps: int = 5,
        step_size: float = 0.15,
        num_leapfrog: int = 5,
        box: float = 4.0,
        grid_size: int = 200,
    ) -> None:
        super().__init__()
        if not isinstance(field, nn.Module) or not isinstance(getattr(field, "dim", None), int):
            raise TypeError(f"field must be an nn.Module E(x) with an int dim (e.g. hnn.nn.EnergyNet), got "
                            f"{type(field).__name__}")
        for name, value in (("buffer_size", buffer_size), ("sampler_steps", sampler_steps),
                            ("num_leapfrog", num_leapfrog), ("grid_size", grid_size)):
            check_int(name, value, minimum=1)
        if not callable(optimizer):
            raise TypeError(f"optimizer must be a callable params -> Optimizer, got {type(optimizer).__name__}")
        for name, value in (("step_size", step_size), ("box", box)):
            check_positive(name, value)
        if not 0.0 <= check_real("reinit_prob", reinit_prob) <= 1.0:
            raise ValueError(f"reinit_prob must lie in [0, 1], got {reinit_prob!r}")
        for name, value in (("regularization", regularization), ("confinement", confinement)):
            check_nonnegative(name, value)
        self.field = field
        self.optimizer_factory = optimizer
        self.save_hyperparameters(ignore=["field", "optimizer"])
        config = getattr(field, "config", None)
        self.hparams["field"] = config() if callable(config) else None
        self.hparams["dim"] = field.dim
        self.hparams["optimizer"] = describe_callable(optimizer)
        self.register_buffer("replay", (torch.rand(buffer_size, field.dim) * 2 - 1) * box)

    # ------------------------------------------------------------------ the energy
    def energy(self, x: Tensor) -> Tensor:
        """E_θ(x) = field(x) + ½·confinement·|x|², shape x.shape[:-1]."""
        return self.field(x) + 0.5 * self.hparams.confinement * (x * x).sum(-1)

    def forward(self, x: Tensor) -> Tensor:
        return self.energy(x)

    def sample(self, initial: Tensor, steps: int | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Move ``initial`` (n, dim) by HMC transitions under exp(−E_θ); gradients w.r.t. x only."""
        hp = self.hparams
        sampler = HMC(self.energy, step_size=hp.step_size, num_steps=hp.num_leapfrog, adapt_step_size=False)
        # a few HMC transitions as the negatives' kernel, not an inference run: no end-of-run checks, no progress bar
        result = sampler.sample(initial.detach(), num_samples=steps or hp.sampler_steps, num_warmup=0, generator=generator,
                                progress=False, warn=False)
        self._last_accept = float(result.accept_prob.mean())
        return result.samples[:, -1]

    # ------------------------------------------------------------------ training
    def _negatives(self, n: int) -> tuple[Tensor, Tensor]:
        hp = self.hparams
        idx = torch.randint(0, hp.buffer_size, (n,), device=self.replay.device)
        start = self.replay[idx]
        fresh = torch.rand(n, 1, device=start.device) < hp.reinit_prob
        start = torch.where(fresh, (torch.rand_like(start) * 2 - 1) * hp.box, start)
        return idx, self.sample(start)

    def training_step(self, batch, batch_idx: int) -> Tensor:
        (x_pos,) = batch
        idx, x_neg = self._negatives(x_pos.shape[0])
        self.replay[idx] = x_neg.detach()
        e_pos, e_neg = self.energy(x_pos), self.energy(x_neg.detach())
        cd = e_pos.mean() - e_neg.mean()
        loss = cd + self.hparams.regularization * (e_pos.pow(2).mean() + e_neg.pow(2).mean())
        self.log("train_loss", loss, prog_bar=True)
        self.log("cd_gap", cd)
        self.log("hmc_accept", self._last_accept)
        return loss

    def _grid(self, extent: float, size: int, like: Tensor) -> tuple[Tensor, Tensor, Tensor, float]:
        """(xs, ys, points [size², 2], cell area) of a size×size grid over [−extent, extent]²."""
        lin = torch.linspace(-extent, extent, size, device=like.device, dtype=like.dtype)
        xs, ys = torch.meshgrid(lin, lin, indexing="xy")
        return xs, ys, torch.stack([xs, ys], -1).reshape(-1, 2), (2 * extent / (size - 1)) ** 2

    def grid_log_density(self, extent: float | None = None, size: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(xs, ys, log p(x)) on a size×size grid over [−extent, extent]² (2-D only), normalised numerically."""
        if self.hparams.dim != 2:
            raise ValueError("grid_log_density needs dim == 2")
        size = size or self.hparams.grid_size
        xs, ys, pts, cell = self._grid(extent or self.hparams.box, size, self.replay)
        with torch.no_grad():
            log_unnorm = -self.energy(pts).reshape(size, size)
        log_z = torch.logsumexp(log_unnorm.flatten(), 0) + math.log(cell)
        return xs, ys, log_unnorm - log_z

    def nll(self, x: Tensor) -> Tensor:
        """−mean log p_θ(x) of points ``x [N, 2]``, log Z by a Riemann sum on the grid over the box (2-D)."""
        _, _, pts, cell = self._grid(self.hparams.box, self.hparams.grid_size, x)
        log_z = torch.logsumexp(-self.energy(pts), 0) + math.log(cell)
        return self.energy(x).mean() + log_z

    def validation_step(self, batch, batch_idx: int) -> None:
        (x,) = batch
        metric = self.nll(x) if self.hparams.dim == 2 else self.energy(x).mean()
        self.log("val_loss", metric, prog_bar=True)

    def test_step(self, batch, batch_idx: int) -> None:
        (x,) = batch
        metric = self.nll(x) if self.hparams.dim == 2 else self.energy(x).mean()
        self.log("test_nll", metric)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.parameters())
