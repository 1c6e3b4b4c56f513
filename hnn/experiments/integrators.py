"""The integrator experiments behind ``scripts/bench_integrators.py`` and ``scripts/plot_integrators.py``.

- :func:`our_methods`, :func:`fewest_steps`: which methods are hnn's own, and the equal-accuracy search for the
  fewest steps that reach a target error (the benchmark);
- :func:`make_figure` (with :func:`default_cases`, :func:`run_case`, :func:`draw`, :func:`summary_table`): orbits
  and energy error of seven integrators on the oscillator and the pendulum at a small and a large step (the figure).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

import hnn
from hnn.integrators import ConvergenceError, available
from hnn.io import atomic_save_figure
from hnn.systems import HamiltonianSystem, get
from hnn.validate import check_int, check_positive

__all__ = ["our_methods", "fewest_steps", "METHODS", "default_cases", "run_case", "draw", "summary_table",
           "make_figure"]


def our_methods() -> list[str]:
    """Every method of ``hnn.integrate`` that is hnn's own (not a ``torchdiffeq:…`` solver), in registry order."""
    return [name for name, info in available().items() if info.family != "torchdiffeq"]


def fewest_steps(error_at: Callable[[int], float], target: float, order: int, start: int = 64,
                 limit: int = 1 << 17) -> int:
    """Smallest N (to within 1 %) with ``error_at(N) <= target`` for a fixed-step method of the given order.

    Jumps by the error model e(N) ∝ N^−order until a failing and a passing N bracket the target (a blown-up
    rollout, ``error_at(N) = inf``, doubles N), then bisects; assumes the error falls monotonically with N near the
    target. The result N has ``error_at(N) <= target`` and N − max(1, N // 100) < N_min ≤ N, N_min the true minimum.
    Raises RuntimeError when no N up to ``limit`` reaches the target.
    """
    if not callable(error_at):
        raise TypeError(f"error_at must be a callable N -> error, got {type(error_at).__name__}")
    check_positive("target", target)
    check_int("order", order, minimum=1)
    check_int("start", start, minimum=1)
    check_int("limit", limit, minimum=1)
    failing, passing = 0, None  # error_at(failing) > target (0: "no steps"), error_at(passing) <= target
    steps = start
    while passing is None or passing - failing > max(1, passing // 100):
        if steps > limit:
            raise RuntimeError(f"no step count up to {limit} reaches error {target:g}")
        error = error_at(steps)
        if error <= target:
            passing = steps
        else:
            failing = steps
        if passing is None:  # still above the target: jump past it by the error model (at least ×1.05)
            jump = (error / target) ** (1.0 / order) * 1.03 if math.isfinite(error) else 2.0
            steps = max(steps + 1, math.ceil(steps * max(jump, 1.05)))
        elif failing == 0:  # below the target from the start: jump down, not past it
            jump = (target / max(error, 1e-300)) ** (1.0 / order) / 1.03
            steps = min(passing - 1, math.floor(passing / max(jump, 1.05)))
            if steps < 1:
                return passing
        else:
            steps = (failing + passing) // 2
    return passing


# ---------------------------------------------------------------------------------------------------- the figure

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


def make_figure(out: str, periods: float = 40.0, small_steps: int = 60, large_steps: int = 10,
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
