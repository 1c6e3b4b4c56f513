#!/usr/bin/env python
"""Picture: what the integrators of hnn.integrate do to an orbit and to the energy.

    python scripts/plot_integrators.py                       # writes results/integrators.png
    python scripts/plot_integrators.py --out /tmp/int.png --periods 30

Two systems from hnn.systems, each at a small and a large step (float64, one starting state each):

  oscillator  H = q² + p²            ("spring", period T = π),  x0 = (q, p) = (1, 0)
  pendulum    H = 3(1 − cos q) + p²   ("pendulum"),              x0 = (2, 0), a 115° swing; T is its exact
                                                                  (amplitude-dependent) period

Top row: the phase-space orbits (q, p) over the whole run, on top of the exact orbit (the oscillator's closed form,
the pendulum's dopri5 reference at rtol = atol = 1e-12). Bottom row: the relative energy error |H(t) − H0| / H0 on
a log scale, as its maximum over each period (the envelope of the oscillating error, so "bounded" and "drifting"
are visible at a glance). Explicit Euler spirals out (energy grows every period), backward Euler spirals in, RK4
drifts slowly, the symplectic methods (symplectic Euler, leapfrog, Yoshida 6, implicit midpoint) keep a bounded
energy error for as long as you run them (implicit midpoint even conserves the oscillator's quadratic H exactly).
Prints where the PNG went and the max |ΔH|/H0 of every method and case.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass

import torch
from torch import Tensor

import hnn
from hnn.integrators import ConvergenceError
from hnn.io import atomic_save_figure
from hnn.systems import HamiltonianSystem, get

DEFAULT_OUT = os.path.join("results", "integrators.png")

# (method, label, colour, line style): one fixed look per method across all panels.
METHOD_STYLES: tuple[tuple[str, str, str, str], ...] = (
    # non-symplectic first, so the symplectic ones are drawn on top of them
    ("euler", "explicit Euler (order 1)", "#d62728", "-"),
    ("backward_euler", "backward Euler (order 1)", "#8c564b", "-"),
    ("rk4", "RK4 (order 4)", "#9467bd", "-"),
    ("symplectic_euler", "symplectic Euler (order 1, symplectic)", "#ff7f0e", "-"),
    ("leapfrog", "leapfrog (order 2, symplectic)", "#1f77b4", "-"),
    ("implicit_midpoint", "implicit midpoint (order 2, symplectic)", "#17becf", "--"),
    ("yoshida6", "Yoshida (order 6, symplectic)", "#2ca02c", "-"),
)
METHODS = tuple(name for name, *_ in METHOD_STYLES)

ENERGY_FLOOR = 1e-16  # |ΔH|/H0 below float64 round-off is drawn at this floor (log scale cannot show 0)


@dataclass(frozen=True)
class Case:
    """One panel column: a system, a starting state and a step given as a fraction of the period."""

    system_name: str
    title: str
    x0: tuple[float, float]
    steps_per_period: int

    def build(self) -> tuple[HamiltonianSystem, Tensor, float]:
        system = get(self.system_name)
        x0 = torch.tensor(self.x0, dtype=torch.float64)
        period = float(system.period_of(x0)) if hasattr(system, "period_of") else float(system.period)
        return system, x0, period


def default_cases(small_steps: int, large_steps: int) -> list[Case]:
    return [
        Case("spring", "oscillator  H = q² + p²", (1.0, 0.0), small_steps),
        Case("spring", "oscillator  H = q² + p²", (1.0, 0.0), large_steps),
        Case("pendulum", "pendulum  H = 3(1 − cos q) + p²", (2.0, 0.0), small_steps),
        Case("pendulum", "pendulum  H = 3(1 − cos q) + p²", (2.0, 0.0), large_steps),
    ]


@dataclass
class CaseResult:
    case: Case
    period: float
    dt: float
    times: Tensor  # [N+1]
    exact_orbit: Tensor  # [K, 2], one period of the reference solution
    rollouts: dict[str, Tensor]  # method -> [N+1, 2]
    energy_error: dict[str, Tensor]  # method -> |H − H0| / H0, [N+1]
    failures: dict[str, str]  # method -> why it has no rollout (an implicit solver that did not converge)


def run_case(case: Case, periods: float, methods: tuple[str, ...] = METHODS) -> CaseResult:
    """Roll every method out over ``periods`` periods at dt = T / steps_per_period (one output per step)."""
    system, x0, period = case.build()
    dt = period / case.steps_per_period
    n_steps = math.ceil(periods * case.steps_per_period)
    times = torch.arange(n_steps + 1, dtype=torch.float64) * dt
    h0 = system.hamiltonian(x0)
    rollouts, energy_error, failures = {}, {}, {}
    with torch.no_grad():
        exact_orbit = system.trajectory(x0, torch.linspace(0.0, period, 401, dtype=torch.float64))
        for method in methods:
            # Euler and backward Euler may blow up or decay without limit; that is what the figure shows.
            try:
                x = hnn.integrate(system, x0, times, method=method)
            except ConvergenceError as error:  # an implicit solve failing at a huge step: say so, draw the rest
                failures[method] = str(error)
                continue
            rollouts[method] = x
            energy_error[method] = ((system.hamiltonian(x) - h0).abs() / h0.abs()).clamp_min(ENERGY_FLOOR)
    return CaseResult(case, period, dt, times, exact_orbit, rollouts, energy_error, failures)


def per_period_max(error: Tensor, steps_per_period: int) -> tuple[Tensor, Tensor]:
    """(k, max of error over the steps of period k) for k = 1, 2, ...: the envelope of an oscillating error, which
    shows at a glance whether it stays bounded (symplectic) or grows (drift). A last partial period counts too."""
    steps = error[1:]
    chunks = torch.split(steps, steps_per_period)
    return torch.arange(1, len(chunks) + 1, dtype=torch.float64), torch.stack([c.max() for c in chunks])


def draw(results: list[CaseResult], path: str, periods: float, dpi: int = 110) -> None:
    """Phase portraits (top) and |ΔH|/H0 on a log scale (bottom), one column per case; saved atomically."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    styles = {name: (label, colour, ls) for name, label, colour, ls in METHOD_STYLES}
    fig, axes = plt.subplots(2, len(results), figsize=(5.0 * len(results), 10.2),
                             gridspec_kw={"height_ratios": [1.0, 0.8]})
    for col, res in enumerate(results):
        ax_phase, ax_energy = axes[0, col], axes[1, col]
        orbit = res.exact_orbit
        q_lo, q_hi = float(orbit[:, 0].min()), float(orbit[:, 0].max())
        p_lo, p_hi = float(orbit[:, 1].min()), float(orbit[:, 1].max())
        pad_q, pad_p = 0.45 * (q_hi - q_lo), 0.45 * (p_hi - p_lo)
        # The exact orbit: wide and light, so the methods that stay on it show as lines inside the band.
        ax_phase.plot(orbit[:, 0], orbit[:, 1], color="0.75", lw=7, solid_capstyle="round", zorder=1,
                      label="exact orbit")
        for method, x in res.rollouts.items():
            label, colour, ls = styles[method]
            # Keep the frame on the exact orbit: Euler's spiral runs off the panel (inf/nan never drawn).
            finite = torch.isfinite(x).all(dim=-1)
            if res.case.steps_per_period >= 32:
                ax_phase.plot(x[finite, 0], x[finite, 1], color=colour, ls=ls, lw=1.1, alpha=0.9, zorder=3,
                              label=label)
            else:  # large step: the states are the dots; faint chords between them only show the order
                ax_phase.plot(x[finite, 0], x[finite, 1], color=colour, ls="-", lw=0.5, alpha=0.35, zorder=2)
                ax_phase.plot(x[finite, 0], x[finite, 1], color=colour, ls="none", marker="o", ms=2.2, zorder=3,
                              label=label)
            ax_energy.plot(*per_period_max(res.energy_error[method], res.case.steps_per_period), color=colour,
                           ls=ls, lw=1.6, marker="o", ms=3.5, alpha=0.95, zorder=3, label=label)
        ax_phase.set_xlim(q_lo - pad_q, q_hi + pad_q)
        ax_phase.set_ylim(p_lo - pad_p, p_hi + pad_p)
        ax_phase.set_aspect("equal" if res.case.system_name == "spring" else "auto")
        ax_phase.set_xlabel("q" + (" (rad)" if res.case.system_name == "pendulum" else ""))
        ax_phase.set_ylabel("p")
        ax_phase.grid(alpha=0.3)
        size = "small" if res.case.steps_per_period >= 32 else "large"
        ax_phase.set_title(f"{res.case.title}\n{size} step: dt = T/{res.case.steps_per_period} = {res.dt:.4g}, "
                           f"T = {res.period:.4g}", fontsize=11)
        if res.case.system_name == "spring" and "implicit_midpoint" in res.rollouts:
            ax_energy.annotate("implicit midpoint conserves a quadratic H exactly\n(what is left is float64 round-off)",
                               xy=(0.5 * periods, 3e-15), xytext=(0.5 * periods, 1e-12), ha="center", fontsize=9,
                               color="#0f7f8c", arrowprops={"arrowstyle": "->", "color": "#0f7f8c"})
        ax_energy.set_yscale("log")
        ax_energy.set_ylim(ENERGY_FLOOR / 3, 1e2)
        ax_energy.set_xlim(0, math.ceil(periods) + 0.5)
        ax_energy.set_xlabel("time / period T")
        ax_energy.set_ylabel("max over each period of |H(t) − H0| / H0")
        ax_energy.grid(alpha=0.3, which="major")
        ax_energy.set_title(f"energy error per period, dt = T/{res.case.steps_per_period} (float64)", fontsize=11)
    legend: dict[str, object] = {}  # label -> first handle (a method missing from one panel still gets an entry)
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    order = ["exact orbit"] + [label for _, label, _, _ in METHOD_STYLES]
    labels = [label for label in order if label in legend]
    handles = [legend[label] for label in labels]
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=10.5, markerscale=2.5, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(f"hnn.integrate on two Hamiltonian systems, {periods:g} periods: non-symplectic methods drift "
                 "(Euler spirals out, backward Euler in), symplectic ones stay on the orbit", fontsize=13)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    atomic_save_figure(fig, path, dpi)
    plt.close(fig)


def summary_table(results: list[CaseResult]) -> str:
    """Max |ΔH|/H0 over the run for every method (rows) and case (columns)."""
    headers = [f"{r.case.system_name} dt=T/{r.case.steps_per_period}" for r in results]
    width = max(18, *(len(h) for h in headers))
    lines = ["max |H(t) - H0| / H0 over the run:",
             f"  {'method':<18}" + "".join(f"{h:>{width + 2}}" for h in headers)]
    for method in METHODS:
        cells = []
        for r in results:
            if method in r.failures:
                cells.append(f"{'no convergence':>{width + 2}}")
                continue
            value = float(r.energy_error[method].max())
            cells.append(f"{value:>{width + 2}.2e}" if math.isfinite(value) else f"{'diverged':>{width + 2}}")
        lines.append(f"  {method:<18}" + "".join(cells))
    for r in results:
        for method, reason in r.failures.items():
            lines.append(f"  note: {method} left out of {r.case.system_name} dt=T/{r.case.steps_per_period}: {reason}")
    return "\n".join(lines)


def make_figure(out: str = DEFAULT_OUT, periods: float = 40.0, small_steps: int = 60, large_steps: int = 10,
                dpi: int = 110) -> dict[tuple[str, int, str], float]:
    """Run every case, draw the PNG to ``out`` and return {(system, steps per period, method): max |ΔH|/H0}."""
    if not periods > 0:
        raise ValueError(f"periods must be > 0, got {periods}")
    if small_steps < 1 or large_steps < 1:
        raise ValueError(f"steps per period must be >= 1, got small={small_steps}, large={large_steps}")
    results = [run_case(case, periods) for case in default_cases(small_steps, large_steps)]
    draw(results, out, periods, dpi=dpi)
    print(summary_table(results))
    return {(r.case.system_name, r.case.steps_per_period, m): float(e.max())
            for r in results for m, e in r.energy_error.items()}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"PNG to write (default {DEFAULT_OUT})")
    parser.add_argument("--periods", type=float, default=40.0, help="length of each run in periods (default 40)")
    parser.add_argument("--small-steps", type=int, default=60, help="steps per period of the small step (60)")
    parser.add_argument("--large-steps", type=int, default=10, help="steps per period of the large step (10)")
    parser.add_argument("--dpi", type=int, default=110, help="resolution of the PNG (default 110)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, draw the figure, print where it went and the energy-error summary."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.out.lower().endswith(".png"):
        parser.error(f"--out must name a .png file, got {args.out!r}")
    started = time.perf_counter()
    print(f"rolling out {len(METHODS)} methods ({', '.join(METHODS)}) on the oscillator and the pendulum, "
          f"{args.periods:g} periods at dt = T/{args.small_steps} and T/{args.large_steps} ...", flush=True)
    try:
        make_figure(args.out, args.periods, args.small_steps, args.large_steps, args.dpi)
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote {os.path.abspath(args.out)} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
