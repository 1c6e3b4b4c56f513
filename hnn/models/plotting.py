"""Phase-portrait figure of learned rollouts (matplotlib, Agg backend, written atomically)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from hnn.io import atomic_save_figure

__all__ = ["phase_portrait", "save_figure"]


def save_figure(fig, path: str, dpi: int = 100) -> str:
    """Write ``fig`` to ``path`` as PNG atomically (see :func:`hnn.io.atomic_save_figure`); returns the path."""
    return str(atomic_save_figure(fig, path, dpi=dpi))


def phase_portrait(
    path: str,
    t: Tensor,
    pred: Tensor,
    truth: Tensor | None = None,
    energy: Callable[[Tensor], Tensor] | None = None,
    field: Callable[[Tensor], Tensor] | None = None,
    title: str = "",
    max_curves: int = 6,
) -> str:
    """Left: (q₁, p₁) of the model's rollouts ``pred [T, K, dim]`` (solid) and the true trajectories (dashed),
    over the learned vector field when ``field`` is given (2-d states). Right: energy E(x(t)) along both.
    Returns ``path``."""
    # the object-oriented API with the Agg canvas: no pyplot global state, no GUI backend, and cheaper per figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    import matplotlib

    pred = pred.detach().double().cpu()[:, :max_curves]
    truth = None if truth is None else truth.detach().double().cpu()[:, :max_curves]
    t_cpu = t.detach().double().cpu()
    n = pred.shape[-1] // 2 if pred.shape[-1] >= 2 else 1
    ncols = 2 if energy is not None else 1
    fig = Figure(figsize=(5.0 * ncols, 4.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.84, wspace=0.25)
    ax = axes[0, 0]
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    if field is not None:
        both = pred if truth is None else torch.cat([pred, truth], dim=1)
        lo, hi = both[..., 0].min().item(), both[..., 0].max().item()
        plo, phi = both[..., n].min().item(), both[..., n].max().item()
        pad_q, pad_p = 0.15 * (hi - lo + 1e-6), 0.15 * (phi - plo + 1e-6)
        qs = torch.linspace(lo - pad_q, hi + pad_q, 15, dtype=torch.float64)
        ps = torch.linspace(plo - pad_p, phi + pad_p, 15, dtype=torch.float64)
        grid = torch.stack(torch.meshgrid(qs, ps, indexing="xy"), dim=-1).reshape(-1, 2)
        with torch.no_grad():
            uv = field(grid.to(_energy_like(field, pred))).double().cpu()
        ax.quiver(grid[:, 0], grid[:, 1], uv[:, 0], uv[:, 1], color="0.75", angles="xy", width=0.003)
    for k in range(pred.shape[1]):
        c = colors[k % len(colors)]
        if truth is not None:
            ax.plot(truth[:, k, 0], truth[:, k, n], "--", color=c, lw=1.0, alpha=0.7)
        ax.plot(pred[:, k, 0], pred[:, k, n], "-", color=c, lw=1.6)
        ax.plot(pred[0, k, 0], pred[0, k, n], "o", color=c, ms=3)
    ax.set_xlabel("q₁")
    ax.set_ylabel("p₁")
    ax.set_title("rollouts (solid: model, dashed: truth)" if truth is not None else "model rollouts")
    if energy is not None:
        ax = axes[0, 1]
        with torch.no_grad():
            e_pred = energy(pred.to(_energy_like(energy, pred))).double().cpu()
            e_true = None if truth is None else energy(truth.to(_energy_like(energy, truth))).double().cpu()
        for k in range(pred.shape[1]):
            c = colors[k % len(colors)]
            if e_true is not None:
                ax.plot(t_cpu, e_true[:, k], "--", color=c, lw=1.0, alpha=0.7)
            ax.plot(t_cpu, e_pred[:, k], "-", color=c, lw=1.6)
        ax.set_xlabel("t")
        ax.set_ylabel("energy")
        ax.set_title("energy along the rollouts")
    if title:
        fig.suptitle(title)
    save_figure(fig, path, dpi=80)
    return path


def _energy_like(energy: Callable, fallback: Tensor) -> Tensor:
    """A tensor with the dtype/device the energy function expects (its module's parameters, if any)."""
    owner = getattr(energy, "__self__", None)
    if isinstance(owner, torch.nn.Module):
        param = next(owner.parameters(), None)
        if param is not None:
            return param
    return fallback
