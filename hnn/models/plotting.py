"""Phase-portrait figure of learned rollouts (matplotlib, Agg backend, written atomically)."""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from hnn.io import atomic_save_figure

__all__ = ["BackgroundFigureWriter", "draw_phase_portrait", "phase_portrait_data"]


def phase_portrait_data(
    t: Tensor,
    pred: Tensor,
    truth: Tensor | None = None,
    energy: Callable[[Tensor], Tensor] | None = None,
    field: Callable[[Tensor], Tensor] | None = None,
    title: str = "",
    max_curves: int = 6,
) -> dict[str, Any]:
    """Everything :func:`draw_phase_portrait` needs, as float64 CPU tensors: the curves ``pred [T, K, dim]`` (model,
    solid) and ``truth`` (dashed), their energies E(x(t)), and the vector field on a 15×15 grid of (q₁, p₁) when
    ``field`` is given (2-d states). This is the part that calls the model; drawing needs no model."""
    pred = pred.detach().double().cpu()[:, :max_curves]
    truth = None if truth is None else truth.detach().double().cpu()[:, :max_curves]
    n = pred.shape[-1] // 2 if pred.shape[-1] >= 2 else 1
    data: dict[str, Any] = {"t": t.detach().double().cpu(), "pred": pred, "truth": truth, "n": n, "title": title,
                            "grid": None, "uv": None, "e_pred": None, "e_true": None, "has_energy": energy is not None}
    if field is not None:
        both = pred if truth is None else torch.cat([pred, truth], dim=1)
        lo, hi = both[..., 0].min().item(), both[..., 0].max().item()
        plo, phi = both[..., n].min().item(), both[..., n].max().item()
        pad_q, pad_p = 0.15 * (hi - lo + 1e-6), 0.15 * (phi - plo + 1e-6)
        qs = torch.linspace(lo - pad_q, hi + pad_q, 15, dtype=torch.float64)
        ps = torch.linspace(plo - pad_p, phi + pad_p, 15, dtype=torch.float64)
        grid = torch.stack(torch.meshgrid(qs, ps, indexing="xy"), dim=-1).reshape(-1, 2)
        with torch.no_grad():
            data["uv"] = field(grid.to(_energy_like(field, pred))).detach().double().cpu()
        data["grid"] = grid
    if energy is not None:
        with torch.no_grad():
            data["e_pred"] = energy(pred.to(_energy_like(energy, pred))).detach().double().cpu()
            if truth is not None:
                data["e_true"] = energy(truth.to(_energy_like(energy, truth))).detach().double().cpu()
    return data


def draw_phase_portrait(path: str, data: dict[str, Any]) -> str:
    """Draw and write (atomically) the figure described by :func:`phase_portrait_data`; returns ``path``.

    Uses only its arguments and matplotlib's object-oriented API, so it may run on a worker thread."""
    # the object-oriented API with the Agg canvas: no pyplot global state, no GUI backend, and cheaper per figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    import matplotlib

    t_cpu, pred, truth, n = data["t"], data["pred"], data["truth"], data["n"]
    ncols = 2 if data["has_energy"] else 1
    fig = Figure(figsize=(5.0 * ncols, 4.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.84, wspace=0.25)
    ax = axes[0, 0]
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    if data["grid"] is not None:
        grid, uv = data["grid"], data["uv"]
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
    if data["has_energy"]:
        ax = axes[0, 1]
        e_pred, e_true = data["e_pred"], data["e_true"]
        for k in range(pred.shape[1]):
            c = colors[k % len(colors)]
            if e_true is not None:
                ax.plot(t_cpu, e_true[:, k], "--", color=c, lw=1.0, alpha=0.7)
            ax.plot(t_cpu, e_pred[:, k], "-", color=c, lw=1.6)
        ax.set_xlabel("t")
        ax.set_ylabel("energy")
        ax.set_title("energy along the rollouts")
    if data["title"]:
        fig.suptitle(data["title"])
    atomic_save_figure(fig, path, dpi=80)
    return path


class BackgroundFigureWriter:
    """Runs figure-drawing jobs on one worker thread, so that training does not wait for matplotlib.

    ``submit(fn, *args, tag=...)`` queues ``fn(*args)``; :meth:`finished` returns ``(tag, result)`` of the jobs
    done so far (``wait=True``: after waiting for all), in submission order, and re-raises a job's exception.
    All drawing happens on the one worker thread; the caller computes the data (e.g. model calls) beforehand.
    The worker is not pickled (a model holding a writer can be copied or sent to other processes).
    """

    def __init__(self) -> None:
        self._executor: Any = None
        self._jobs: list[tuple[Any, Any]] = []

    def submit(self, fn: Callable[..., Any], *args: Any, tag: Any = None) -> None:
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hnn-figures")
        self._jobs.append((tag, self._executor.submit(fn, *args)))

    def finished(self, wait: bool = False) -> list[tuple[Any, Any]]:
        done = []
        while self._jobs and (wait or self._jobs[0][1].done()):
            tag, future = self._jobs.pop(0)
            done.append((tag, future.result()))  # re-raises the job's exception here, on the caller's thread
        return done

    def close(self) -> None:
        """Wait for every job, then stop the worker thread (a later submit starts a new one)."""
        try:
            self.finished(wait=True)
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def __getstate__(self) -> dict[str, Any]:
        return {"_executor": None, "_jobs": []}


def _energy_like(energy: Callable, fallback: Tensor) -> Tensor:
    """A tensor with the dtype/device the energy function expects (its module's parameters, if any)."""
    owner = getattr(energy, "__self__", None)
    if isinstance(owner, torch.nn.Module):
        param = next(owner.parameters(), None)
        if param is not None:
            return param
    return fallback
