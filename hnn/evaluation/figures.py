"""Figures of learned models (matplotlib's object-oriented API on the Agg canvas, written atomically as PNG).

- :func:`phase_portrait_data` + :func:`draw_phase_portrait`: rollouts in the (q₁, p₁) plane against the reference,
  the field as arrows (2-d states) and the energy along the rollouts. The data step calls the model; the drawing
  step does not, so it may run on a worker thread.
- :func:`draw_energy_model`: an energy-based model's learned density exp(−E)/Z beside the data and HMC samples.
- :func:`draw_canonical_prior`: the true energy of a Hamiltonian GAN's motion against the temperature of its
  energy-based prior (:func:`hnn.evaluation.canonical_prior_report`).
- :func:`write_clips_gif` and :func:`draw_clip_strips`: videos (real / Hamiltonian GAN / twins) side by side as an
  animated GIF (Pillow), and as a PNG of frame strips with the read-off energy plotted under each.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from hnn.io import atomic_save_figure, atomic_write

__all__ = ["draw_phase_portrait", "phase_portrait_data", "draw_energy_model", "draw_trajectory_panels",
           "write_clips_gif", "draw_clip_strips", "draw_canonical_prior"]


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


def _energy_like(energy: Callable, fallback: Tensor) -> Tensor:
    """A tensor with the dtype/device the energy function expects (its module's parameters, if any)."""
    owner = getattr(energy, "__self__", None)
    if isinstance(owner, torch.nn.Module):
        param = next(owner.parameters(), None)
        if param is not None:
            return param
    return fallback


def draw_energy_model(model: Any, data: Tensor, path: str, title: str = "", num_samples: int = 2000,
                      sampler_steps: int = 200, seed: int = 0, data_label: str = "data") -> str:
    """PNG with three panels: data histogram, the learned density exp(−E)/Z on a grid, HMC samples from the model.

    ``model`` is a 2-d :class:`hnn.models.EnergyModel`; the samples start uniform in its box and take
    ``sampler_steps`` HMC transitions (generator seeded with ``seed``). ``data_label`` names the split shown.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    was_training = model.training
    model.eval()
    try:
        extent = model.hparams.box
        xs, ys, log_p = model.grid_log_density()
        gen = torch.Generator().manual_seed(seed)
        start = (torch.rand(num_samples, 2, generator=gen) * 2 - 1) * extent
        samples = model.sample(start.to(model.device), steps=sampler_steps, generator=gen).cpu()
    finally:
        model.train(was_training)
    fig = Figure(figsize=(13, 4.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    data = data.detach().cpu()
    rng = [[-extent, extent], [-extent, extent]]
    axes[0].hist2d(data[:, 0].numpy(), data[:, 1].numpy(), bins=120, range=rng, cmap="viridis")
    axes[0].set_title(f"{data_label} ({len(data)} points)")
    axes[1].pcolormesh(xs.cpu().numpy(), ys.cpu().numpy(), log_p.exp().cpu().numpy(), shading="auto", cmap="viridis")
    axes[1].set_title("learned density exp(−E)/Z")
    axes[2].hist2d(samples[:, 0].numpy(), samples[:, 1].numpy(), bins=120, range=rng, cmap="viridis")
    axes[2].set_title(f"HMC samples from the model ({num_samples}, {sampler_steps} steps)")
    for ax in axes:
        ax.set_aspect("equal")
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
    fig.suptitle(f"EnergyModel on {title}" if title else "EnergyModel")
    fig.tight_layout(rect=(0, 0, 1, 0.94))  # room for the suptitle above the panel titles
    atomic_save_figure(fig, path, dpi=110)
    return path


def draw_trajectory_panels(path: str, panels: dict[str, Tensor], energies: dict[str, Tensor], t: Tensor,
                           title: str = "", n_show: int = 8) -> str:
    """Sets of phase-space trajectories side by side, one column each (e.g. real / Hamiltonian GAN / twins): the
    (q, p) orbits of ``n_show`` of them on top, their true energy against time below. The first panel is the
    reference: every column shares its axes, 1.6× the reference's extent in (q, p) and [0, 2·max] in energy, so a
    diverging model is visibly clipped instead of squashing the others. ``panels[label]`` is ``[N, T, 2]``,
    ``energies[label]`` ``[N, T]``, ``t`` ``[T]``; a jump of q by more than π (a wrapped angle) breaks the line.
    Writes the PNG atomically; returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    import matplotlib

    labels = list(panels)
    if not labels or set(labels) != set(energies):
        raise ValueError("panels and energies need the same non-empty set of labels")
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    fig = Figure(figsize=(3.6 * len(labels), 6.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, len(labels), squeeze=False)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.08, top=0.88, wspace=0.18, hspace=0.32)
    t_cpu = t.detach().cpu().double()
    reference = panels[labels[0]].detach().cpu().double()
    q_extent = 1.6 * float(reference[..., 0].abs().max())
    p_extent = 1.6 * float(reference[..., 1].abs().max())
    e_top = 2.0 * float(energies[labels[0]].detach().cpu().double().max())
    for column, label in enumerate(labels):
        x = panels[label].detach().cpu().double()[:n_show].clone()
        e = energies[label].detach().cpu().double()[:n_show]
        top, bottom = axes[0, column], axes[1, column]
        for k in range(x.shape[0]):
            c = colors[k % len(colors)]
            q, p = x[k, :, 0].clone(), x[k, :, 1].clone()
            jumps = torch.nonzero((q[1:] - q[:-1]).abs() > torch.pi).flatten() + 1
            for offset, j in enumerate(jumps.tolist()):  # a NaN between the two sides of a wrap breaks the line
                q = torch.cat([q[:j + offset], q.new_tensor([float("nan")]), q[j + offset:]])
                p = torch.cat([p[:j + offset], p.new_tensor([float("nan")]), p[j + offset:]])
            top.plot(q, p, "-", color=c, lw=1.4)
            top.plot(x[k, 0, 0], x[k, 0, 1], "o", color=c, ms=3)
            bottom.plot(t_cpu, e[k], "-", color=c, lw=1.4)
        top.set_xlim(-q_extent, q_extent)
        top.set_ylim(-p_extent, p_extent)
        bottom.set_ylim(0.0, e_top)
        clipped = bool((e > e_top).any())
        top.set_title(label)
        top.set_xlabel("q")
        bottom.set_xlabel("t" + ("  (energy above the axis: clipped)" if clipped else ""))
        if column == 0:
            top.set_ylabel("p")
            bottom.set_ylabel("true energy H(q, p)")
    if title:
        fig.suptitle(title)
    atomic_save_figure(fig, path, dpi=80)
    return path


def _check_clip_panels(panels: Any) -> tuple[int, int]:
    """(T, S) shared by every panel ``[N, T, 1, S, S]`` of ``panels`` (a non-empty dict label -> clips)."""
    if not isinstance(panels, dict) or not panels:
        raise TypeError(f"panels must be a non-empty dict label -> clips, got {type(panels).__name__}")
    shapes = set()
    for label, clips in panels.items():
        if not isinstance(clips, Tensor) or not torch.is_floating_point(clips):
            raise TypeError(f"panels[{label!r}] must be a floating torch.Tensor, got "
                            f"{getattr(clips, 'dtype', type(clips).__name__)}")
        if clips.ndim != 5 or clips.shape[2] != 1 or clips.shape[3] != clips.shape[4] or clips.shape[0] < 1:
            raise ValueError(f"panels[{label!r}] must be grayscale clips [N >= 1, T, 1, S, S], got "
                             f"{tuple(clips.shape)}")
        if not bool(torch.isfinite(clips).all()):
            raise ValueError(f"panels[{label!r}] has non-finite pixels")
        shapes.add((int(clips.shape[1]), int(clips.shape[3])))
    if len(shapes) != 1:
        raise ValueError(f"every panel needs the same frames per clip and image size, got (T, S) = {sorted(shapes)}")
    return shapes.pop()


def _to_uint8(frames: Tensor) -> Tensor:
    """[-1, 1] -> 0..255 (clamped)."""
    return ((frames.detach().cpu().double().clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)


def write_clips_gif(path: str, panels: dict[str, Tensor], n_show: int = 4, scale: int = 3,
                    frame_ms: int = 100) -> str:
    """An animated GIF of clips side by side: one column per label of ``panels`` (e.g. real / Hamiltonian GAN /
    twins), its first ``n_show`` clips stacked in rows, the label above; frame k of the GIF shows frame k of every
    clip. ``panels[label]`` is ``[N, T, 1, S, S]`` in [−1, 1] (the data's range; clamped), all with one T and S;
    each pixel is drawn ``scale`` × ``scale``; ``frame_ms`` per frame, looping. Written atomically (a temporary
    file in the same folder, then ``os.replace``): an error leaves no partial file, and an older file stays intact.
    T frames are written (Pillow merges consecutive identical frames of the whole grid into one longer frame).
    Returns ``path``."""
    from PIL import Image, ImageDraw

    steps, size = _check_clip_panels(panels)
    for name, value in (("n_show", n_show), ("scale", scale), ("frame_ms", frame_ms)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    gap, header = 2 * scale, 12
    cell = size * scale
    rows = min(n_show, min(int(c.shape[0]) for c in panels.values()))
    width = len(panels) * cell + (len(panels) + 1) * gap
    height = header + rows * cell + (rows + 1) * gap
    pixels = {label: _to_uint8(clips[:rows, :, 0]) for label, clips in panels.items()}  # [rows, T, S, S]
    frames = []
    for k in range(steps):
        canvas = Image.new("L", (width, height), color=255)
        draw = ImageDraw.Draw(canvas)
        for column, (label, clips) in enumerate(pixels.items()):
            x = gap + column * (cell + gap)
            draw.text((x, 1), label[: max(1, cell // 6)], fill=0)
            for row in range(rows):
                tile = Image.fromarray(clips[row, k].numpy(), mode="L").resize((cell, cell), Image.NEAREST)
                canvas.paste(tile, (x, header + gap + row * (cell + gap)))
        frames.append(canvas.convert("P"))
    atomic_write(path, lambda handle: frames[0].save(handle, format="GIF", save_all=True,
                                                     append_images=frames[1:], duration=frame_ms, loop=0))
    return path


def draw_clip_strips(path: str, panels: dict[str, Tensor], energies: dict[str, Tensor], t: Tensor,
                     n_frames: int = 8, n_show: int = 4, title: str = "") -> str:
    """A PNG with one row per label of ``panels``: ``n_frames`` evenly spaced frames of its first clip as a strip,
    and under it the energy of its first ``n_show`` clips against time (``energies[label]`` ``[N, T]``, e.g. the
    true H of the states read off the frames; the first clip in black, as in the strip), on the first panel's
    energy axis [0, 2·max] shared by all (higher values are clipped and said so). ``t`` is ``[T]``. Written
    atomically; returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps, size = _check_clip_panels(panels)
    if not isinstance(energies, dict) or set(energies) != set(panels):
        raise ValueError("panels and energies need the same labels")
    for label, e in energies.items():
        if not isinstance(e, Tensor) or e.ndim != 2 or e.shape[1] != steps:
            raise ValueError(f"energies[{label!r}] must be [N, T = {steps}], got "
                             f"{tuple(e.shape) if isinstance(e, Tensor) else type(e).__name__}")
    if not isinstance(t, Tensor) or t.shape != (steps,):
        raise ValueError(f"t must be the [T = {steps}] frame times")
    if isinstance(n_frames, bool) or not isinstance(n_frames, int) or not 1 <= n_frames <= steps:
        raise ValueError(f"n_frames must be an int in [1, T = {steps}], got {n_frames!r}")
    labels = list(panels)
    index = torch.linspace(0, steps - 1, n_frames).round().long()
    fig = Figure(figsize=(1.1 * n_frames + 0.8, 3.0 * len(labels)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(2 * len(labels), 1, squeeze=False, gridspec_kw={"height_ratios": [1.0, 1.2] * len(labels)})
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.06, top=1.0 - 0.75 / (3.0 * len(labels)), hspace=0.6)
    t_cpu = t.detach().cpu().double()
    e_top = 2.0 * float(energies[labels[0]].detach().cpu().double().max())
    for row, label in enumerate(labels):
        strip_axis, energy_axis = axes[2 * row, 0], axes[2 * row + 1, 0]
        frames = _to_uint8(panels[label][0, index, 0])  # [n_frames, S, S]
        strip = torch.cat([torch.cat([f, torch.full((size, 1), 255, dtype=torch.uint8)], dim=1) for f in frames],
                          dim=1)
        strip_axis.imshow(strip.numpy(), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        strip_axis.set_xticks([(size + 1) * j + size / 2 for j in range(n_frames)])
        strip_axis.set_xticklabels([f"{float(t_cpu[i]):.1f}" for i in index])
        strip_axis.set_yticks([])
        strip_axis.set_title(label, fontsize=10)
        e = energies[label].detach().cpu().double()[:n_show]
        for k in range(e.shape[0]):
            energy_axis.plot(t_cpu, e[k], "-", lw=1.6 if k == 0 else 1.0, color="black" if k == 0 else None)
        energy_axis.set_ylim(0.0, e_top)
        energy_axis.set_ylabel("energy")
        if bool((e > e_top).any()):
            energy_axis.text(0.99, 0.9, "values above the axis: clipped", transform=energy_axis.transAxes,
                             ha="right", va="top", fontsize=8)
        if row == len(labels) - 1:
            energy_axis.set_xlabel("t")
    if title:
        fig.suptitle(title)
    atomic_save_figure(fig, path, dpi=80)
    return path


def draw_canonical_prior(path: str, reports: list[dict[str, Any]], title: str = "") -> str:
    """The energy-based prior of a Hamiltonian GAN, one :func:`hnn.evaluation.canonical_prior_report` per training
    seed. Left: the true energy of the generated sequences against τ = T / T₀ (log axis): per seed the median and
    the 10–90 % range (log axes), beside the data's median and 10–90 % band (grey) and the noise map's median
    (dashed). Right:
    histograms of the first report's true energies at every τ against the data's. Writes the PNG atomically;
    returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    import matplotlib

    if not reports or any(not r.get("rows") for r in reports):
        raise ValueError("draw_canonical_prior needs at least one report with temperature rows")
    colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    fig = Figure(figsize=(11.0, 4.4))
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.86, wspace=0.22)
    taus = [row["tau"] for row in reports[0]["rows"]]
    data = reports[0]["data"]
    left.axhspan(data["q10"], data["q90"], color="0.92", label="data, 10–90 %")
    left.axhline(data["median"], color="0.4", lw=1.2, label="data, median")
    for k, report in enumerate(reports):
        c = colors[k % len(colors)]
        shift = 1.06 ** (k - (len(reports) - 1) / 2)  # side by side on the log axis, so the bars do not overlap
        x = [row["tau"] * shift for row in report["rows"]]
        median = [row["median"] for row in report["rows"]]
        spread = [[m - row["q10"] for m, row in zip(median, report["rows"])],
                  [row["q90"] - m for m, row in zip(median, report["rows"])]]
        left.errorbar(x, median, yerr=spread, fmt="o-", color=c, lw=1.5, capsize=3,
                      label=report.get("label", f"run {k}") + ": prior, median and 10–90 %")
        left.axhline(report["noise_map"]["median"], color=c, ls="--", lw=1.0)
    left.plot([], [], "k--", lw=1.0, label="noise map, median")
    left.set_xscale("log")
    left.set_yscale("log")
    left.minorticks_off()
    left.set_xticks(taus)
    left.set_xticklabels([f"{t:g}" for t in taus])
    left.set_xlabel("τ = T / T₀  (T₀: spread of H_θ over the noise map's starts)")
    left.set_ylabel("true energy of a generated sequence")
    left.legend(fontsize=7, loc="lower right")
    first = reports[0]
    values = [torch.tensor(first["data"]["energies"])] + [torch.tensor(row["energies"]) for row in first["rows"]]
    top = float(torch.quantile(torch.cat(values), 0.99))
    bins = torch.linspace(0.0, max(top, 1e-12), 41).tolist()
    right.hist(values[0].clamp(max=top).tolist(), bins=bins, density=True, color="0.8", label="data")
    cmap = matplotlib.colormaps["viridis"]
    for j, (row, v) in enumerate(zip(first["rows"], values[1:])):
        right.hist(v.clamp(max=top).tolist(), bins=bins, density=True, histtype="step", lw=1.5,
                   color=cmap(j / max(len(values) - 2, 1)), label=f"τ = {row['tau']:g}")
    right.set_xlabel("true energy (the last bin holds everything above the 99th percentile)")
    right.set_ylabel("density")
    right.set_title(first.get("label", "run 0"), fontsize=9)
    right.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    atomic_save_figure(fig, path, dpi=90)
    return path
