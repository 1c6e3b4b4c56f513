#!/usr/bin/env python
"""Benchmark: batched rollout throughput of every hnn integrator, and our RK4 against torchdiffeq's.

    python scripts/benchmark.py integrators            # the full benchmark (a few minutes on 2 CPU cores)
    python scripts/bench_integrators.py                 # the same, standalone
    python scripts/bench_integrators.py --quick         # smoke run (seconds): tiny batches, few steps
    python scripts/bench_integrators.py --dtype float64 --batches 1,1000 --repeats 7

System: the HNN paper's pendulum H = 3(1 − cos q) + p² (hnn.systems.get("pendulum")), closed-form vector field
and closed-form ∂H/∂q, ∂H/∂p; initial states from its paper recipe (radius ~ U[1.3, 2.3], all librations).
Every rollout goes through hnn.integrate under torch.no_grad() and returns every state of the step grid
(t = 0, dt, ..., N·dt with dt = 0.05, ~50 steps per small-angle period), i.e. a [N+1, batch, 2] tensor.

1. Throughput: state-steps/s = batch × steps / wall seconds, for each of our methods at batch 1, 1k and 100k
   (float32 by default: --dtype). Steps per rollout: 400 at batch ≤ 5k, 20 at 100k; implicit methods
   (implicit_midpoint, backward_euler: a Newton solve with an autograd Jacobian every step) run 1/8 of that
   (50, 50, 3). torchdiffeq's rk4 runs in the same interleaved loop as reference rows.
2. RK4 at equal steps: our rk4 against torchdiffeq:rk4 through hnn.integrate, and against torchdiffeq.odeint
   called directly (no hnn adapter in between), on the same step grid: torchdiffeq's fixed-grid solvers step on
   the output grid when no step_size is given, so both take exactly the same N steps and store the same states.
   (torchdiffeq's "rk4" is Kutta's 3/8-rule variant, ours the classic tableau: both 4 evaluations per step.)
3. Equal accuracy (float64, batch 1000, t ∈ [0, 10], about 4 small-angle periods): the error is
   max |x(10) − x_ref(10)| over the batch and both components. x_ref: our yoshida6 at 4000 steps (its distance
   to the 2000-step run and to torchdiffeq dopri5 at rtol = atol = 1e-13 is printed: both bound its error).
   For each target error the cheapest setting meeting it: the fewest steps (to 1 %) for our rk4, torchdiffeq rk4
   and our yoshida6 (jumps by the error model N^−order, then bisection), the loosest rtol = atol in half decades
   for torchdiffeq:dopri5 (which returns only x(10): an adaptive solver needs no grid). "f-evals" counts
   vector-field evaluations (4 per rk4 step, 7 per yoshida6 step, counted for dopri5).

Timing (hnn.experiments.timing.time_interleaved): time.perf_counter around each full hnn.integrate call, one
untimed warm-up per configuration, then --repeats rounds in which every configuration runs once (interleaved, so
machine noise hits all alike); the median is reported. Ratios are torchdiffeq time / our time (> 1: ours is
faster). The load average is printed because other processes on the machine move absolute numbers (the
interleaved ratios much less). On a machine busy with other work, --threads 1 avoids torch's intra-op threads
waiting for each other (large batches).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

import hnn
from hnn.experiments.integrators import fewest_steps, our_methods
from hnn.experiments.timing import time_interleaved
from hnn.integrators import available
from hnn.systems import get

SYSTEM_NAME = "pendulum"
STEP = 0.05  # dt of the throughput runs: ~51 steps per small-angle period 2π/√6 of the paper pendulum
ACCURACY_T_END = 10.0  # about 4 small-angle periods
ACCURACY_BATCH = 1000
REFERENCE_STEPS_PER_UNIT_TIME = 400  # yoshida6 reference: dt = 1/400; its error is ~1e-13 here (printed per run)
DOPRI5_CHECK_TOL = 1e-13
TARGET_ERRORS = (1e-4, 1e-6, 1e-8)
DOPRI5_TOLERANCES = tuple(10.0 ** (-k / 2) for k in range(4, 27))  # 1e-2 ... 1e-13, half decades
TORCHDIFFEQ_RK4 = "torchdiffeq:rk4"
DIRECT_RK4 = "torchdiffeq.odeint rk4 (direct)"


# ---------------------------------------------------------------------------------------------------------------
# Timing helpers
# ---------------------------------------------------------------------------------------------------------------


def steps_for(batch: int, implicit: bool, quick: bool) -> int:
    """Steps per rollout: enough to amortise the per-call cost, few enough to keep 100k-batch runs short."""
    if quick:
        return 3 if implicit else 10
    steps = min(400, max(20, 2_000_000 // batch))
    return max(3, steps // 8) if implicit else steps


def initial_states(batch: int, dtype: torch.dtype, seed: int = 0) -> Tensor:
    system = get(SYSTEM_NAME)
    return system.sample_initial(batch, torch.Generator().manual_seed(seed), dtype=dtype)


def step_grid(steps: int, dt: float, dtype: torch.dtype) -> Tensor:
    return torch.arange(steps + 1, dtype=torch.float64).mul(dt).to(dtype)


def interleaved_medians(runs: dict, repeats: int, warmups: dict | None = None) -> dict:
    """Median wall seconds of each run under ``torch.no_grad()``: one untimed warm-up of every run (``warmups[key]``
    when given, e.g. a 2-step version of a long run), then ``repeats`` interleaved rounds of all runs
    (:func:`hnn.experiments.timing.time_interleaved`)."""
    with torch.no_grad():
        timings = time_interleaved(runs, repeats=repeats, warmup=1, warmup_fns=warmups, keep_result=False)
    return {key: timing.median for key, timing in timings.items()}


def rollout(method: str, x0: Tensor, t: Tensor, **options: object) -> Callable[[], Tensor]:
    system = get(SYSTEM_NAME)
    return lambda: hnn.integrate(system, x0, t, method=method, **options)


def direct_torchdiffeq_rk4(x0: Tensor, t: Tensor) -> Callable[[], Tensor]:
    """torchdiffeq.odeint on the pendulum's closed-form field with no hnn code in between."""
    import torchdiffeq

    system = get(SYSTEM_NAME)

    class PendulumField(torch.nn.Module):
        def forward(self, t: Tensor, x: Tensor) -> Tensor:
            return system.vector_field(x)

    field = PendulumField()
    return lambda: torchdiffeq.odeint(field, x0, t, method="rk4")


def fmt_rate(value: float) -> str:
    return f"{value:.3g}" if value < 1e3 else f"{value:.2e}"


def load_average() -> str:
    try:
        return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    except (AttributeError, OSError):
        return "load average n/a"


# ---------------------------------------------------------------------------------------------------------------
# 1 + 2: throughput of every method, and rk4 vs torchdiffeq rk4 at equal steps
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Measurement:
    method: str
    batch: int
    steps: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.batch * self.steps / self.seconds


def run_throughput(methods: Sequence[str], batches: Sequence[int], dtype: torch.dtype, repeats: int,
                   quick: bool, log: Callable[[str], None]) -> dict[tuple[str, int], Measurement]:
    """Throughput of ``methods`` (plus torchdiffeq rk4, direct and through hnn.integrate) at each batch size."""
    info = available()
    results: dict[tuple[str, int], Measurement] = {}
    for batch in batches:
        started = time.perf_counter()
        x0 = initial_states(batch, dtype)
        runs, warmups, steps_of = {}, {}, {}
        for method in [*methods, TORCHDIFFEQ_RK4, DIRECT_RK4]:
            steps = steps_for(batch, info[method].implicit if method in info else False, quick)
            build = (lambda t: direct_torchdiffeq_rk4(x0, t)) if method == DIRECT_RK4 else (
                lambda t, method=method: rollout(method, x0, t))
            runs[method] = build(step_grid(steps, STEP, dtype))
            warmups[method] = build(step_grid(min(steps, 4), STEP, dtype))
            steps_of[method] = steps
        medians = interleaved_medians(runs, repeats, warmups)
        for method, seconds in medians.items():
            results[(method, batch)] = Measurement(method, batch, steps_of[method], seconds)
        log(f"  batch {batch}: {len(runs)} configurations × {repeats} rounds in "
            f"{time.perf_counter() - started:.1f} s ({load_average()})")
    return results


def throughput_table(results: dict[tuple[str, int], Measurement], methods: Sequence[str],
                     batches: Sequence[int]) -> str:
    info = available()
    col = 22
    header = f"{'method':<32}{'order':>5}{'sympl':>6}{'impl':>5}" + "".join(
        f"{'batch ' + str(b):>{col}}" for b in batches)
    lines = [header, "-" * len(header)]
    rows = [*methods, TORCHDIFFEQ_RK4, DIRECT_RK4]
    for method in rows:
        meta = info.get(method, info[TORCHDIFFEQ_RK4])
        cells = []
        for batch in batches:
            m = results[(method, batch)]
            cells.append(f"{fmt_rate(m.rate)} ({m.steps} st)".rjust(col))
        yes_no = lambda flag: "yes" if flag else "no"  # noqa: E731
        lines.append(f"{method:<32}{meta.order:>5}{yes_no(meta.symplectic):>6}{yes_no(meta.implicit):>5}"
                     + "".join(cells))
    return "\n".join(lines)


def equal_steps_table(results: dict[tuple[str, int], Measurement], batches: Sequence[int]) -> tuple[str, dict]:
    header = (f"{'batch':>8}{'steps':>7}{'ours rk4 ms':>14}{'torchdiffeq:rk4 ms':>21}{'odeint direct ms':>19}"
              f"{'ratio (via hnn)':>17}{'ratio (direct)':>16}")
    lines = [header, "-" * len(header)]
    ratios = {}
    for batch in batches:
        ours = results[("rk4", batch)]
        theirs = results[(TORCHDIFFEQ_RK4, batch)]
        direct = results[(DIRECT_RK4, batch)]
        ratios[batch] = (theirs.seconds / ours.seconds, direct.seconds / ours.seconds)
        lines.append(f"{batch:>8}{ours.steps:>7}{ours.seconds * 1e3:>14.2f}{theirs.seconds * 1e3:>21.2f}"
                     f"{direct.seconds * 1e3:>19.2f}{ratios[batch][0]:>16.2f}x{ratios[batch][1]:>15.2f}x")
    return "\n".join(lines), ratios


# ---------------------------------------------------------------------------------------------------------------
# 3: equal accuracy
# ---------------------------------------------------------------------------------------------------------------


def final_error(x: Tensor, reference: Tensor) -> float:
    """max over batch and components of |x(T) − x_ref(T)| (inf when the rollout blew up)."""
    error = (x[-1] - reference).abs().max().item()
    return error if math.isfinite(error) else math.inf


@dataclass
class AccuracyRow:
    target: float
    label: str
    setting: str
    error: float
    evaluations: int
    seconds: float = math.nan


class CountingField:
    """The pendulum's closed-form field f(t, x), counting evaluations (for the NFE column only)."""

    def __init__(self) -> None:
        self.system = get(SYSTEM_NAME)
        self.calls = 0

    def __call__(self, t: Tensor, x: Tensor) -> Tensor:
        self.calls += 1
        return self.system.vector_field(x)


@dataclass
class Reference:
    """x_ref(t_final) and how far it can be off: its distance to the half-step-count run (an upper estimate of
    its own error: e(N/2) = 64 e(N) for a 6th-order method) and to dopri5 at rtol = atol = 1e-13."""

    final: Tensor
    steps: int
    distance_to_half_steps: float
    distance_to_dopri5: float


def reference_solution(x0: Tensor, t_final: float) -> Reference:
    """Float64 yoshida6 at dt = 1/400 (sixth order, symplectic), checked against itself and against dopri5."""
    system = get(SYSTEM_NAME)
    steps = max(64, round(REFERENCE_STEPS_PER_UNIT_TIME * t_final))
    x0 = x0.to(torch.float64)
    with torch.no_grad():
        fine = hnn.integrate(system, x0, torch.tensor([0.0, t_final], dtype=torch.float64), method="yoshida6",
                             dt=t_final / steps)[-1]
        half = hnn.integrate(system, x0, torch.tensor([0.0, t_final], dtype=torch.float64), method="yoshida6",
                             dt=t_final / (steps // 2))[-1]
        dopri5 = hnn.integrate(system, x0, torch.tensor([0.0, t_final], dtype=torch.float64),
                               method="torchdiffeq:dopri5", rtol=DOPRI5_CHECK_TOL, atol=DOPRI5_CHECK_TOL)[-1]
    return Reference(fine, steps, (fine - half).abs().max().item(), (fine - dopri5).abs().max().item())


def run_equal_accuracy(batch: int, targets: Sequence[float], t_final: float, repeats: int,
                       log: Callable[[str], None]) -> tuple[list[AccuracyRow], Reference]:
    """Cheapest setting of each method reaching each target error at t_final, with median times."""
    dtype = torch.float64
    system = get(SYSTEM_NAME)
    x0 = initial_states(batch, dtype, seed=1)
    t_end = torch.tensor([0.0, t_final], dtype=dtype)
    ref = reference_solution(x0, t_final)
    reference = ref.final
    log(f"  reference: yoshida6 with {ref.steps} steps; distance to {ref.steps // 2} steps "
        f"{ref.distance_to_half_steps:.1e}, to dopri5 at {DOPRI5_CHECK_TOL:g} {ref.distance_to_dopri5:.1e}")

    def grid(steps: int) -> Tensor:
        return torch.linspace(0.0, t_final, steps + 1, dtype=dtype)

    def fixed_error(method: str) -> Callable[[int], float]:
        def error_at(steps: int) -> float:
            with torch.no_grad():
                return final_error(hnn.integrate(system, x0, grid(steps), method=method), reference)
        return error_at

    def dopri5_error(tol: float) -> tuple[float, int]:
        field = CountingField()
        with torch.no_grad():
            x = hnn.integrate(field, x0, t_end, method="torchdiffeq:dopri5", rtol=tol, atol=tol)
        return final_error(x, reference), field.calls

    fixed_methods = (("rk4", "ours rk4", 4), (TORCHDIFFEQ_RK4, "torchdiffeq:rk4", 4), ("yoshida6", "ours yoshida6", 7))
    rows: list[AccuracyRow] = []
    runs: dict[int, Callable[[], object]] = {}
    start_steps = {method: 64 for method, _, _ in fixed_methods}  # each search starts where the last one ended
    tolerances = list(DOPRI5_TOLERANCES)
    for target in targets:
        for method, label, evals_per_step in fixed_methods:
            error_at = fixed_error(method)
            steps = fewest_steps(error_at, target, available()[method].order, start=start_steps[method])
            start_steps[method] = steps
            rows.append(AccuracyRow(target, label, f"N={steps}", error_at(steps), evals_per_step * steps))
            runs[len(rows) - 1] = rollout(method, x0, grid(steps))
        tol = next((tol for tol in tolerances if dopri5_error(tol)[0] <= target), None)
        if tol is None:
            raise RuntimeError(f"dopri5 does not reach error {target:g} even at rtol = atol = "
                               f"{DOPRI5_TOLERANCES[-1]:g}")
        tolerances = [t for t in tolerances if t <= tol]  # the next, smaller target needs at least as tight
        error, calls = dopri5_error(tol)
        rows.append(AccuracyRow(target, "torchdiffeq:dopri5", f"tol={tol:.0e}", error, calls))
        runs[len(rows) - 1] = rollout("torchdiffeq:dopri5", x0, t_end, rtol=tol, atol=tol)
        log(f"  target {target:g}: settings found ({load_average()})")
    medians = interleaved_medians(runs, repeats)
    for index, seconds in medians.items():
        rows[index].seconds = seconds
    return rows, ref


def accuracy_table(rows: Sequence[AccuracyRow]) -> tuple[str, dict[float, dict[str, float]]]:
    header = (f"{'target':>8}  {'method':<20}{'setting':>12}{'error':>11}{'f-evals':>9}{'ms':>10}"
              f"{'time / ours rk4':>17}")
    lines = [header, "-" * len(header)]
    ratios: dict[float, dict[str, float]] = {}
    for row in rows:
        ours = next(r for r in rows if r.target == row.target and r.label == "ours rk4")
        ratio = row.seconds / ours.seconds
        ratios.setdefault(row.target, {})[row.label] = ratio
        lines.append(f"{row.target:>8.0e}  {row.label:<20}{row.setting:>12}{row.error:>11.2e}{row.evaluations:>9}"
                     f"{row.seconds * 1e3:>10.2f}{ratio:>16.2f}x")
        if row.label == "torchdiffeq:dopri5":
            lines.append("")
    return "\n".join(lines).rstrip(), ratios


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"batch sizes must be integers >= 1, got {text!r}")
    return values


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench_integrators", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: batches 1 and 64, 10 steps (implicit 3), 1 round; accuracy: batch 8, "
                             "t in [0, 5], target 1e-3")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="dtype of the throughput and equal-steps runs (default float32; accuracy is float64)")
    parser.add_argument("--batches", type=_int_list, default=None, help="batch sizes (default 1,1000,100000)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds per configuration (default 5)")
    parser.add_argument("--methods", default=None,
                        help="comma-separated subset of our methods for the throughput table (default: all)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads during the benchmark (default 1: per-core figures that other "
                             "work on the machine disturbs least; 0 = torch's default)")
    parser.add_argument("--skip-accuracy", action="store_true", help="skip the equal-accuracy comparison")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Run the integrator benchmark and print the throughput, equal-steps and equal-accuracy tables."""
    parser = _parser()
    args = parser.parse_args(argv)
    ours = our_methods()
    methods = ours if args.methods is None else [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in ours]
    if unknown or not methods:
        parser.error(f"unknown method(s) {', '.join(map(repr, unknown)) or '(none given)'} in --methods; "
                     f"valid: {', '.join(ours)}")
    if "rk4" not in methods:
        methods.append("rk4")  # needed for the equal-steps comparison
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 5)
    if repeats < 1:
        parser.error(f"--repeats must be >= 1, got {repeats}")
    if args.threads < 0:
        parser.error(f"--threads must be >= 0 (0: torch's default), got {args.threads}")
    previous_threads = torch.get_num_threads()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        _run(args, methods, repeats)
    finally:
        torch.set_num_threads(previous_threads)


def _run(args: argparse.Namespace, methods: list[str], repeats: int) -> None:
    batches = args.batches or ((1, 64) if args.quick else (1, 1000, 100_000))
    dtype = getattr(torch, args.dtype)
    accuracy_batch = 8 if args.quick else ACCURACY_BATCH
    targets = (1e-3,) if args.quick else TARGET_ERRORS
    t_final = 5.0 if args.quick else ACCURACY_T_END

    started = time.perf_counter()
    log = lambda line: print(line, flush=True)  # noqa: E731
    log(f"integrator benchmark: {SYSTEM_NAME} H = 3(1 − cos q) + p², closed-form field, torch.no_grad(); "
        f"{args.dtype}; batches {', '.join(map(str, batches))}; {repeats} timed rounds (median); "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {load_average()}")
    log("\n[1/2] throughput of every method (and torchdiffeq rk4) at each batch size ...")
    results = run_throughput(methods, batches, dtype, repeats, args.quick, log)
    accuracy = None
    if not args.skip_accuracy:
        log(f"\n[2/2] equal accuracy: float64, batch {accuracy_batch}, t in [0, {t_final:g}] ...")
        accuracy = run_equal_accuracy(accuracy_batch, targets, t_final, repeats, log)

    log(f"\n== Throughput: state-steps/s = batch × steps / median wall s ({args.dtype}, dt = {STEP}; "
        "steps per rollout in parentheses) ==")
    log(throughput_table(results, methods, batches))
    log("implicit methods run 1/8 of the steps (Newton + autograd Jacobian per step); every rollout stores all "
        "N+1 states.")

    log(f"\n== RK4 at equal steps ({args.dtype}, same step grid, all states stored): "
        "ratio = torchdiffeq time / our time (> 1: ours faster) ==")
    table, step_ratios = equal_steps_table(results, batches)
    log(table)

    summary = [
        "equal steps, torchdiffeq:rk4 time / ours rk4 (via hnn.integrate | odeint direct): "
        + ", ".join(f"batch {b}: {r[0]:.2f}x | {r[1]:.2f}x" for b, r in step_ratios.items())
    ]
    shortfalls = [f"equal steps at batch {b} ({min(r):.2f}x)" for b, r in step_ratios.items() if min(r) < 1.0]
    if accuracy is not None:
        rows, ref = accuracy
        log(f"\n== Equal accuracy (float64, batch {accuracy_batch}, error = max |x({t_final:g}) − x_ref| over batch "
            f"and components; x_ref: yoshida6 with {ref.steps} steps, within {ref.distance_to_half_steps:.0e} of "
            f"{ref.steps // 2} steps and {ref.distance_to_dopri5:.0e} of dopri5 at {DOPRI5_CHECK_TOL:g}) ==")
        table, accuracy_ratios = accuracy_table(rows)
        log(table)
        parts = []
        for target, by_label in accuracy_ratios.items():
            parts.append(f"error {target:g}: torchdiffeq:rk4 {by_label['torchdiffeq:rk4']:.2f}x, "
                         f"dopri5 {by_label['torchdiffeq:dopri5']:.2f}x")
        summary.append("equal accuracy, torchdiffeq time / ours rk4: " + "; ".join(parts))
        shortfalls += [f"{label} at error {target:g} ({ratio:.2f}x)" for target, by_label in accuracy_ratios.items()
                       for label, ratio in by_label.items() if label.startswith("torchdiffeq") and ratio < 1.0]
    summary.append("goal, ours at least as fast as torchdiffeq: " + (
        "met in every comparison above" if not shortfalls else "NOT met for " + ", ".join(shortfalls)))
    elapsed = time.perf_counter() - started
    log(f"\nsummary ({elapsed:.0f} s, {load_average()}; > 1x means ours is faster):")
    for line in summary:
        log("  " + line)


if __name__ == "__main__":
    main(sys.argv[1:])
