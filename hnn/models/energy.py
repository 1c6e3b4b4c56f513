"""EnergyModel: an energy-based model p_θ(x) ∝ exp(−E_θ(x)) trained by persistent contrastive
divergence with HMC negatives (Du & Mordatch 2019 style replay buffer).

E_θ(x) = MLP_θ(x) + ½·confinement·|x|² (the quadratic term keeps exp(−E) normalisable).
Loss per batch, with data x⁺ and negatives x⁻ from the replay buffer moved by ``sampler_steps``
HMC transitions (``hnn.sampling.HMC``) under the current E_θ:
    L = mean E_θ(x⁺) − mean E_θ(x⁻) + α·(mean E_θ(x⁺)² + mean E_θ(x⁻)²),
whose gradient is the contrastive-divergence estimate of the NLL gradient plus a magnitude
regulariser.  Buffer entries are re-initialised uniformly in the data box with probability
``reinit_prob``.  For 2-D data the validation/test metric is the exact NLL under the model,
log Z computed on a grid (``val_loss``).
"""
from __future__ import annotations

import math
import os

import pytorch_lightning as pl
import torch
from torch import Tensor

from hnn.io import atomic_save_figure
from hnn.nn import MLP
from hnn.sampling import HMC


class EnergyModel(pl.LightningModule):
    """Energy-based model trained by persistent contrastive divergence with HMC negatives."""

    def __init__(
        self,
        dim: int = 2,
        hidden_dim: int = 128,
        depth: int = 3,
        activation: str = "silu",
        lr: float = 3e-3,
        weight_decay: float = 0.0,
        regularization: float = 0.01,
        confinement: float = 0.01,
        buffer_size: int = 10000,
        reinit_prob: float = 0.05,
        sampler_steps: int = 5,
        step_size: float = 0.15,
        num_leapfrog: int = 5,
        box: float = 4.0,
        grid_size: int = 200,
        plot: bool = True,
    ) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("buffer_size", buffer_size), ("sampler_steps", sampler_steps),
                            ("num_leapfrog", num_leapfrog), ("grid_size", grid_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name, value in (("lr", lr), ("step_size", step_size), ("box", box)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not 0.0 <= reinit_prob <= 1.0:
            raise ValueError(f"reinit_prob must lie in [0, 1], got {reinit_prob!r}")
        if regularization < 0 or confinement < 0:
            raise ValueError("regularization and confinement must be >= 0")
        self.save_hyperparameters()
        self.net = MLP(dim, 1, width=hidden_dim, depth=depth, activation=activation, bias_out=False)
        self.register_buffer("replay", (torch.rand(buffer_size, dim) * 2 - 1) * box)

    # ------------------------------------------------------------------ the energy
    def energy(self, x: Tensor) -> Tensor:
        """E_θ(x) = MLP_θ(x) + ½·confinement·|x|², shape x.shape[:-1]."""
        return self.net(x).squeeze(-1) + 0.5 * self.hparams.confinement * (x * x).sum(-1)

    def forward(self, x: Tensor) -> Tensor:
        return self.energy(x)

    def sample(self, initial: Tensor, steps: int | None = None, generator: torch.Generator | None = None) -> Tensor:
        """Move ``initial`` (n, dim) by HMC transitions under exp(−E_θ); gradients w.r.t. x only."""
        hp = self.hparams
        sampler = HMC(self.energy, step_size=hp.step_size, num_steps=hp.num_leapfrog, adapt_step_size=False)
        result = sampler.sample(initial.detach(), num_samples=steps or hp.sampler_steps, num_warmup=0, generator=generator)
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

    def grid_log_density(self, extent: float | None = None, size: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(xs, ys, log p(x)) on a size×size grid over [−extent, extent]² (2-D only), normalised numerically."""
        if self.hparams.dim != 2:
            raise ValueError("grid_log_density needs dim == 2")
        extent = extent or self.hparams.box
        size = size or self.hparams.grid_size
        lin = torch.linspace(-extent, extent, size, device=self.device)
        xs, ys = torch.meshgrid(lin, lin, indexing="xy")
        pts = torch.stack([xs, ys], -1).reshape(-1, 2)
        with torch.no_grad():
            log_unnorm = -self.energy(pts).reshape(size, size)
        cell = (2 * extent / (size - 1)) ** 2
        log_z = torch.logsumexp(log_unnorm.flatten(), 0) + math.log(cell)
        return xs, ys, log_unnorm - log_z

    def _nll(self, x: Tensor) -> Tensor:
        """−mean log p_θ(x) with log Z by a Riemann sum on the grid (2-D)."""
        extent = self.hparams.box
        size = self.hparams.grid_size
        lin = torch.linspace(-extent, extent, size, device=x.device)
        xs, ys = torch.meshgrid(lin, lin, indexing="xy")
        pts = torch.stack([xs, ys], -1).reshape(-1, 2).to(x.dtype)
        cell = (2 * extent / (size - 1)) ** 2
        log_z = torch.logsumexp(-self.energy(pts), 0) + math.log(cell)
        return self.energy(x).mean() + log_z

    def validation_step(self, batch, batch_idx: int) -> None:
        (x,) = batch
        metric = self._nll(x) if self.hparams.dim == 2 else self.energy(x).mean()
        self.log("val_loss", metric, prog_bar=True)

    def test_step(self, batch, batch_idx: int) -> None:
        (x,) = batch
        metric = self._nll(x) if self.hparams.dim == 2 else self.energy(x).mean()
        self.log("test_nll", metric)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def on_train_end(self) -> None:
        if not self.hparams.plot or self.hparams.dim != 2 or self.trainer is None or not self.trainer.is_global_zero:
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        data = getattr(datamodule, "val_x", None)
        folder = self.trainer.log_dir or self.trainer.default_root_dir
        if data is None or folder is None:
            return
        path = os.path.join(folder, "ebm_density.png")
        plot_energy_model(self, data, path, title=getattr(datamodule, "density", ""))
        print(f"learned density plot: {path}")


def plot_energy_model(model: EnergyModel, data: Tensor, path: str, title: str = "", num_samples: int = 2000) -> str:
    """PNG with three panels: data histogram, learned density exp(−E)/Z on a grid, HMC samples."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = model.eval()
    extent = model.hparams.box
    xs, ys, log_p = model.grid_log_density()
    gen = torch.Generator().manual_seed(0)
    start = (torch.rand(num_samples, 2, generator=gen) * 2 - 1) * extent
    samples = model.sample(start.to(model.device), steps=200, generator=gen).cpu()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.4))
    data = data.detach().cpu()
    rng = [[-extent, extent], [-extent, extent]]
    axes[0].hist2d(data[:, 0].numpy(), data[:, 1].numpy(), bins=120, range=rng, cmap="viridis")
    axes[0].set_title(f"data ({len(data)} points)")
    axes[1].pcolormesh(xs.cpu().numpy(), ys.cpu().numpy(), log_p.exp().cpu().numpy(), shading="auto", cmap="viridis")
    axes[1].set_title("learned density exp(−E)/Z")
    axes[2].hist2d(samples[:, 0].numpy(), samples[:, 1].numpy(), bins=120, range=rng, cmap="viridis")
    axes[2].set_title(f"HMC samples from the model ({num_samples}, 200 steps)")
    for ax in axes:
        ax.set_aspect("equal")
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
    fig.suptitle(f"EnergyModel on {title}" if title else "EnergyModel")
    fig.tight_layout()
    try:
        atomic_save_figure(fig, path, dpi=110)
    finally:
        plt.close(fig)
    return path
