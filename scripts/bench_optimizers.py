#!/usr/bin/env python
"""Benchmark: Marín's Hamiltonian-inspired optimizer vs Adam vs SGD with momentum.

    python scripts/bench_optimizers.py                 # the full benchmark (see "Cost" below)
    python scripts/bench_optimizers.py --quick         # a smoke run: 200/300 steps, 2 seeds, 2-point grids
    python scripts/benchmark.py optimizers             # the same, through the benchmark dispatcher

Cost: 100 training runs (64 of them HNN runs of 2000 steps, ~19 CPU-s on spring and ~30 CPU-s on pendulum
each, whatever the optimizer), about 2000 CPU-seconds in all, i.e. ~17 min with the default 2 worker processes
on an idle 2-core machine. ``--optimizers hamiltonian,adam,sgd`` (the three of the issue) saves a quarter.

Tasks:
  spring, pendulum  HNN (hnn.nn.HamiltonianField, 2×200 tanh, in hnn.models.DynamicsModule) on the paper's data
                    recipes (hnn.data), full-batch training on (x, dx/dt) pairs, 2000 steps as in the paper.
                    Metrics: test derivative MSE (hnn.evaluation.derivative_mse) and the energy MSE of float64
                    dopri5 rollouts (rtol = atol = 1e-9) of the first 15 noiseless test starts over t ∈ [0, 20]
                    (hnn.evaluation.evaluate_rollouts on the data module's reference_rollouts).
  spirals           two interleaved noisy spirals (generated here with a fixed torch generator), an MLP
                    (hnn.nn.MLP, 2×64 tanh) trained full batch with cross-entropy. Metrics: test cross-entropy and
                    test accuracy.

Every run minimises Marín's Algorithm 2 loss, base loss + λ·½Σ‖θ‖² with λ = 1e-4 (hnn.optim.hamiltonian_loss;
for Adam this is exactly the paper's ``weight_decay=1e-4``), and the tables report the base loss.

Protocol: for each (task, optimizer) the learning rate is picked from a small grid by the final validation loss
of one run (seed 0; the printed grid shows every point), then the optimizer is trained with 5 other seeds
(1..5) at that learning rate; tables show mean ± std over those seeds (population std) and the mean wall (and CPU)
time of one training run. The data set of a task is fixed (data seed 0); the seed sets the network's initialisation
(and nothing else: all training is full batch). Divergent runs (non-finite loss) count as +inf in the grid.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from hnn.experiments.jobs import run_jobs
from hnn.experiments.timing import time_calls
from hnn.io import atomic_write_text
from hnn.optim import HamiltonianOptimizer, InverseSqrtLR, hamiltonian_loss

REG_STRENGTH = 1e-4  # λ of Algorithm 2 (= the paper's Adam weight decay for spring and pendulum)
ENERGY_STARTS, ENERGY_HORIZON, ENERGY_TIMES = 15, 20.0, 100  # the energy-MSE reference rollouts of the HNN tasks


# ---------------------------------------------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerSpec:
    """How to build one optimizer (and its per-step schedule, if any) at a given learning rate."""

    name: str
    label: str
    build: Callable[[Sequence[nn.Parameter], float], tuple[torch.optim.Optimizer, Any]]
    hnn_grid: tuple[float, ...]  # lr grid for the HNN tasks (spring, pendulum)
    spirals_grid: tuple[float, ...]  # lr grid for the classification task


def _hamiltonian(params: Sequence[nn.Parameter], lr: float) -> tuple[torch.optim.Optimizer, Any]:
    return HamiltonianOptimizer(params, lr=lr, beta=0.9), None


def _hamiltonian_inverse_sqrt(params: Sequence[nn.Parameter], lr: float) -> tuple[torch.optim.Optimizer, Any]:
    optimizer = HamiltonianOptimizer(params, lr=lr, beta=0.9)
    return optimizer, InverseSqrtLR(optimizer)


def _adam(params: Sequence[nn.Parameter], lr: float) -> tuple[torch.optim.Optimizer, Any]:
    return torch.optim.Adam(params, lr=lr), None


def _sgd(params: Sequence[nn.Parameter], lr: float) -> tuple[torch.optim.Optimizer, Any]:
    return torch.optim.SGD(params, lr=lr, momentum=0.9), None


# Grids: half-decade steps, centred on the best region of a wider 6-point scan (seed 0) run once with
#   python scripts/bench_optimizers.py --tasks spring,spirals --seeds 1 \
#       --lr-grid hamiltonian=1e-3,3e-3,1e-2,3e-2,1e-1,3e-1 --lr-grid hamiltonian_isqrt=1e-2,3e-2,1e-1,3e-1,1,3 \
#       --lr-grid adam=1e-4,3e-4,1e-3,3e-3,1e-2,3e-2 --lr-grid sgd=1e-3,3e-3,1e-2,3e-2,1e-1,3e-1
# (HNN grids have 3 points to keep the HNN runs inside the time budget; spirals runs are cheap, 4 points).
# The Hamiltonian optimizer's lr is a step *length* per tensor (≈ η whatever the gradient), so its useful
# range differs from Adam's per-coordinate one.
OPTIMIZERS: dict[str, OptimizerSpec] = {
    spec.name: spec
    for spec in (
        OptimizerSpec("hamiltonian", "Hamiltonian (β=0.9, constant η)", _hamiltonian,
                      hnn_grid=(3e-4, 1e-3, 3e-3), spirals_grid=(1e-2, 3e-2, 1e-1, 3e-1)),
        OptimizerSpec("hamiltonian_isqrt", "Hamiltonian (β=0.9, η₀/√t)", _hamiltonian_inverse_sqrt,
                      hnn_grid=(1e-1, 3e-1, 1.0), spirals_grid=(3e-1, 1.0, 3.0, 10.0)),
        OptimizerSpec("adam", "Adam", _adam, hnn_grid=(3e-4, 1e-3, 3e-3), spirals_grid=(3e-4, 1e-3, 3e-3, 1e-2)),
        OptimizerSpec("sgd", "SGD (momentum 0.9)", _sgd, hnn_grid=(1e-2, 3e-2, 1e-1),
                      spirals_grid=(3e-2, 1e-1, 3e-1, 1.0)),
    )
}


# ---------------------------------------------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class Task:
    """A training problem: a model factory, the base loss on a split, and the final metrics of a trained model."""

    name: str
    steps: int
    make_model: Callable[[int], nn.Module]
    base_loss: Callable[[nn.Module, str], Tensor]  # (model, split) -> scalar loss, differentiable
    final_metrics: Callable[[nn.Module], dict[str, float]]  # test metrics of a trained model
    info: dict[str, Any] = field(default_factory=dict)


def hnn_task(task: str, steps: int) -> Task:
    """The HNN paper's ``task`` (spring / pendulum): project data module, an HNN field in the project's
    DynamicsModule, derivative MSE loss (``DynamicsModule.loss`` on a ``DerivativeBatch``)."""
    from hnn.data import DerivativeBatch
    from hnn.data.datamodule import HamiltonianDataModule
    from hnn.evaluation import derivative_mse, evaluate_rollouts
    from hnn.models import DynamicsModule
    from hnn.nn import HamiltonianField

    data = HamiltonianDataModule(task=task, mode="derivatives", seed=0, val_fraction=0.1, cache_dir=None,
                                 dtype="float32", verbose=False)
    data.setup("fit")
    pairs = {split: DerivativeBatch(*data.pairs(split)) for split in ("train", "val", "test")}
    reference = data.reference_rollouts("test", n_starts=ENERGY_STARTS, horizon=ENERGY_HORIZON,
                                        n_times=ENERGY_TIMES)

    def make_model(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return DynamicsModule(HamiltonianField(data.dim, hidden_dim=200, depth=2, activation="tanh"))

    def base_loss(model: nn.Module, split: str) -> Tensor:
        return model.loss(pairs[split])

    def final_metrics(model: nn.Module) -> dict[str, float]:
        report = evaluate_rollouts(model, reference)
        return {"test loss": derivative_mse(model, *pairs["test"]), "energy MSE": report.energy_mse}

    return Task(
        name=task, steps=steps, make_model=make_model, base_loss=base_loss, final_metrics=final_metrics,
        info={"pairs": {k: int(v[0].shape[0]) for k, v in pairs.items()}},
    )


def two_spirals(n: int, noise: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` points of two interleaved spirals, r = θ/(3π) for θ ∈ [π/2, 3π] (1¼ turns), label 0 or 1 (half each).

    Class 1 is class 0 rotated by π; Gaussian noise of std ``noise`` is added to the coordinates.
    """
    labels = torch.arange(n) % 2
    angle = math.pi / 2 + (3 * math.pi - math.pi / 2) * torch.rand(n, generator=generator).sqrt()
    radius = angle / (3 * math.pi)
    points = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=-1)
    points = torch.where(labels[:, None] == 1, -points, points)
    return points + noise * torch.randn(n, 2, generator=generator), labels


def spirals_task(steps: int) -> Task:
    """Binary classification of two spirals with an MLP (hnn.nn.MLP) and cross-entropy, full batch."""
    from hnn.nn import MLP

    generator = torch.Generator().manual_seed(0)
    splits = {"train": two_spirals(1000, 0.05, generator), "val": two_spirals(500, 0.05, generator),
              "test": two_spirals(2000, 0.05, generator)}

    def make_model(seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return MLP(2, 2, width=64, depth=2, activation="tanh")

    def base_loss(model: nn.Module, split: str) -> Tensor:
        x, y = splits[split]
        return nn.functional.cross_entropy(model(x), y)

    def final_metrics(model: nn.Module) -> dict[str, float]:
        x, y = splits["test"]
        with torch.no_grad():
            logits = model(x)
        return {"test loss": float(nn.functional.cross_entropy(logits, y)),
                "test accuracy": float((logits.argmax(-1) == y).float().mean())}

    return Task(name="spirals", steps=steps, make_model=make_model, base_loss=base_loss,
                final_metrics=final_metrics,
                info={"points": {k: len(v[1]) for k, v in splits.items()}})


# ---------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    val_loss: float
    seconds: float  # wall time of the training loop
    cpu_seconds: float  # CPU time of this process during the training loop (robust to a busy machine)
    model: nn.Module | None


def train(task: Task, spec: OptimizerSpec, lr: float, seed: int) -> RunResult:
    """Full-batch training for ``task.steps`` steps on base loss + λ·½Σ‖θ‖²; returns the final validation loss.

    The training loop is timed as one call (wall and CPU seconds); a non-finite training loss stops it (diverged).
    """
    model = task.make_model(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer, scheduler = spec.build(params, lr)

    def loop() -> bool:
        """Train; False if the loss left the finite numbers."""
        for _ in range(task.steps):
            optimizer.zero_grad(set_to_none=True)
            loss = hamiltonian_loss(task.base_loss(model, "train"), params, reg_strength=REG_STRENGTH)
            if not torch.isfinite(loss):
                return False
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        return True

    timing = time_calls(loop, repeats=1, warmup=0)
    seconds, cpu_seconds = timing.wall[0], timing.cpu[0]
    if not timing.result:
        return RunResult(math.inf, seconds, cpu_seconds, None)
    with torch.no_grad():
        val_loss = float(task.base_loss(model, "val"))
    return RunResult(val_loss if math.isfinite(val_loss) else math.inf, seconds, cpu_seconds, model)


def _mean_std(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0


def _fmt(mean: float, std: float) -> str:
    if not math.isfinite(mean):
        return "diverged"
    return f"{mean:.2e} ± {std:.1e}"


@dataclass(frozen=True)
class Job:
    """One training run: ``kind`` "grid" (report the validation loss) or "final" (also the test metrics)."""

    kind: str
    task: str
    steps: int
    optimizer: str
    lr: float
    seed: int


_TASK_CACHE: dict[tuple[str, int], Task] = {}


def build_task(name: str, steps: int) -> Task:
    """The task ``name`` (cached per process: the data are generated once per worker)."""
    key = (name, steps)
    if key not in _TASK_CACHE:
        _TASK_CACHE[key] = spirals_task(steps) if name == "spirals" else hnn_task(name, steps)
    return _TASK_CACHE[key]


def run_job(job: Job) -> dict[str, Any]:
    """Execute one job (in a worker process or inline) and return plain numbers."""
    task = build_task(job.task, job.steps)
    run = train(task, OPTIMIZERS[job.optimizer], job.lr, job.seed)
    out: dict[str, Any] = {"val_loss": run.val_loss, "seconds": run.seconds, "cpu_seconds": run.cpu_seconds,
                           "diverged": run.model is None}
    if job.kind == "final" and run.model is not None:
        out["metrics"] = task.final_metrics(run.model)
    return out


def run_benchmark(tasks: dict[str, int], optimizers: list[OptimizerSpec], seeds: list[int],
                  grids: dict[tuple[str, str], tuple[float, ...]], jobs: int = 1, threads: int = 1,
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Tune each optimizer's lr per task on the validation split (seed 0), then train ``seeds`` at the best lr.

    ``tasks`` maps task names to training steps, ``grids`` (task, optimizer name) to the lr grid. The runs go
    through :func:`hnn.experiments.jobs.run_jobs` (``jobs`` worker processes, ``threads`` torch threads each);
    a (task, optimizer)'s seed runs are queued as soon as its grid is done.
    """
    pending_grid = {(task, spec.name): {lr: None for lr in grids[task, spec.name]}
                    for task in tasks for spec in optimizers}
    finals: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {key: [] for key in pending_grid}
    best_lr: dict[tuple[str, str], float] = {}
    total = sum(len(grid) + len(seeds) for grid in pending_grid.values())
    done = 0

    def describe(job: Job, out: dict[str, Any]) -> str:
        head = f"[{done:3d}/{total}] {job.task:<9} {job.optimizer:<17} lr={job.lr:<7g} seed {job.seed}: "
        if out["diverged"]:
            return head + f"diverged ({out['seconds']:.1f} s)"
        if job.kind == "grid":
            return head + f"grid, val loss {out['val_loss']:.3e} ({out['seconds']:.1f} s)"
        shown = ", ".join(f"{name} {value:.3e}" for name, value in out["metrics"].items())
        return head + f"{shown} ({out['seconds']:.1f} s)"

    def on_result(index: int, out: dict[str, Any]) -> list[Job]:
        """Record a finished job; return the jobs it unlocks (the seed runs once a grid is complete)."""
        nonlocal done
        done += 1
        job = queued[index]
        log(describe(job, out))
        key = (job.task, job.optimizer)
        if job.kind == "final":
            finals[key].append((job.seed, out))
            return []
        pending_grid[key][job.lr] = out["val_loss"]
        if any(value is None for value in pending_grid[key].values()):
            return []
        grid = pending_grid[key]
        best_lr[key] = min(grid, key=lambda lr: (grid[lr], lr))
        unlocked = [Job("final", job.task, tasks[job.task], job.optimizer, best_lr[key], seed) for seed in seeds]
        queued.extend(unlocked)  # run_jobs numbers them on in this order
        return unlocked

    queued = [Job("grid", task, steps, spec.name, lr, 0)
              for task, steps in tasks.items() for spec in optimizers for lr in grids[task, spec.name]]
    run_jobs(run_job, list(queued), jobs=jobs, threads=threads, on_result=on_result)

    results: dict[str, Any] = {"tasks": {}}
    for task in tasks:
        task_result: dict[str, Any] = {"optimizers": {}}
        results["tasks"][task] = task_result
        for spec in optimizers:
            key = (task, spec.name)
            runs = sorted(finals[key], key=lambda item: item[0])
            ok = [out for _, out in runs if not out["diverged"]]
            metric_names = list(ok[0]["metrics"]) if ok else []
            per_seed = {name: [out["metrics"][name] for out in ok] for name in metric_names}
            grid = pending_grid[key]
            task_result["optimizers"][spec.name] = {
                "label": spec.label, "grid_val_loss": {f"{lr:g}": v for lr, v in grid.items()},
                "best_lr": best_lr[key], "best_at_grid_edge": best_lr[key] in (min(grid), max(grid)),
                "metrics": {name: _mean_std(values) for name, values in per_seed.items()},
                "per_seed": per_seed, "seconds": _mean_std([out["seconds"] for _, out in runs]),
                "cpu_seconds": _mean_std([out["cpu_seconds"] for _, out in runs]),
                "diverged": sum(out["diverged"] for _, out in runs), "seeds": [seed for seed, _ in runs],
            }
    return results


def _grid(spec: OptimizerSpec, task: str, grid_points: int | None) -> tuple[float, ...]:
    """The lr grid of ``spec`` for ``task``, or its ``grid_points`` middle points (quick mode)."""
    grid = spec.spirals_grid if task == "spirals" else spec.hnn_grid
    if grid_points is None or grid_points >= len(grid):
        return grid
    start = (len(grid) - grid_points) // 2
    return grid[start:start + grid_points]


# ---------------------------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------------------------


def grid_table(results: dict[str, Any]) -> str:
    """Validation loss (seed 0) of every grid point, one line per (task, optimizer); * marks the chosen lr."""
    lines = ["| task | optimizer | validation loss at each lr (seed 0; * = chosen, ! = at the grid's edge) |",
             "|---|---|---|"]
    for task_name, task_result in results["tasks"].items():
        for entry in task_result["optimizers"].values():
            cells = []
            for lr, value in entry["grid_val_loss"].items():
                chosen = float(lr) == entry["best_lr"]
                mark = ("*!" if entry["best_at_grid_edge"] else "*") if chosen else ""
                cells.append(f"{lr}: {'diverged' if not math.isfinite(value) else f'{value:.2e}'}{mark}")
            lines.append(f"| {task_name} | {entry['label']} | {'; '.join(cells)} |")
    return "\n".join(lines)


def results_table(results: dict[str, Any]) -> str:
    """The markdown summary: per task and optimizer, tuned lr, metrics mean ± std over seeds, wall time."""
    lines = ["| task | optimizer | tuned lr | test loss | energy MSE / test accuracy | train time per run: "
             "wall s (CPU s) |", "|---|---|---|---|---|---|"]
    for task_name, task_result in results["tasks"].items():
        for entry in task_result["optimizers"].values():
            metrics = entry["metrics"]
            second = metrics.get("energy MSE", metrics.get("test accuracy", (math.nan, math.nan)))
            if "test accuracy" in metrics and math.isfinite(second[0]):
                second_text = f"{100 * second[0]:.1f}% ± {100 * second[1]:.1f}%"
            else:
                second_text = _fmt(*second)
            n_ok = len(entry["seeds"]) - entry["diverged"]
            timing = f"{entry['seconds'][0]:.1f} ({entry['cpu_seconds'][0]:.1f})"
            note = f" ({entry['diverged']} of {len(entry['seeds'])} diverged)" if entry["diverged"] else ""
            lines.append(
                f"| {task_name} | {entry['label']} | {entry['best_lr']:g} | {_fmt(*metrics['test loss'])}{note} | "
                f"{second_text} | {timing} |"
                if n_ok else
                f"| {task_name} | {entry['label']} | {entry['best_lr']:g} | all seeds diverged | – | {timing} |"
            )
    return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    """Plain JSON: non-finite floats become null, tuples lists, dict keys strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _write_json_atomically(path: str, payload: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(_json_safe(payload), indent=2))


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------

TASKS = ("spring", "pendulum", "spirals")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench_optimizers.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated subset of {', '.join(TASKS)}")
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS),
                        help=f"comma-separated subset of {', '.join(OPTIMIZERS)}")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per optimizer at the tuned lr (default 5)")
    parser.add_argument("--hnn-steps", type=int, default=2000, help="training steps of the HNN tasks (paper: 2000)")
    parser.add_argument("--spirals-steps", type=int, default=1500, help="training steps of the spirals task")
    parser.add_argument("--lr-grid", action="append", default=[], metavar="OPTIMIZER=LR,LR,...",
                        help="replace an optimizer's lr grid (for every task), e.g. --lr-grid adam=1e-3,3e-3 (repeatable)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes (default: min(2, cores)); 1 runs everything in this process")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 200 HNN / 300 spirals steps, 2 seeds, the 2 middle points of each grid")
    parser.add_argument("--json", metavar="PATH", help="also write all results (grids, per-seed values) as JSON")
    return parser


def _choices(text: str, valid: Sequence[str], what: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in valid]
    if unknown or not names:
        raise ValueError(f"unknown {what} {', '.join(unknown) or repr(text)}; choose from {', '.join(valid)}")
    return names


def _parse_grids(overrides: list[str], task_names: list[str], optimizer_names: list[str],
                 grid_points: int | None) -> dict[tuple[str, str], tuple[float, ...]]:
    grids = {(task, name): _grid(OPTIMIZERS[name], task, grid_points)
             for task in task_names for name in optimizer_names}
    for text in overrides:
        name, sep, values = text.partition("=")
        if not sep or name.strip() not in OPTIMIZERS:
            raise ValueError(f"--lr-grid expects OPTIMIZER=LR,LR,... with OPTIMIZER one of {', '.join(OPTIMIZERS)}, "
                             f"got {text!r}")
        try:
            lrs = tuple(sorted({float(v) for v in values.split(",") if v.strip()}))
        except ValueError:
            raise ValueError(f"--lr-grid {text!r}: learning rates must be numbers") from None
        if not lrs or any(not (math.isfinite(lr) and lr > 0) for lr in lrs):
            raise ValueError(f"--lr-grid {text!r}: give at least one finite learning rate > 0")
        for task in task_names:
            grids[task, name.strip()] = lrs
    return grids


def main(argv: list[str] | None = None) -> None:
    """Run the optimizer benchmark and print the grid and the summary table (markdown)."""
    parser = _parser()
    args = parser.parse_args(argv)
    hnn_steps, spirals_steps, n_seeds, grid_points = args.hnn_steps, args.spirals_steps, args.seeds, None
    if args.quick:
        hnn_steps, spirals_steps, n_seeds, grid_points = 200, 300, 2, 2
    try:
        task_names = _choices(args.tasks, TASKS, "task")
        optimizer_names = _choices(args.optimizers, tuple(OPTIMIZERS), "optimizer")
        for name in ("seeds", "hnn_steps", "spirals_steps", "jobs", "threads"):
            if getattr(args, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
        grids = _parse_grids(args.lr_grid, task_names, optimizer_names, grid_points)
    except ValueError as error:
        parser.error(str(error))
    seeds = list(range(1, n_seeds + 1))
    tasks = {name: spirals_steps if name == "spirals" else hnn_steps for name in task_names}

    started = time.perf_counter()
    print(f"optimizer benchmark: tasks {', '.join(task_names)}; optimizers {', '.join(optimizer_names)}; "
          f"seeds {seeds}; HNN {hnn_steps} steps, spirals {spirals_steps} steps; {args.jobs} worker(s) × "
          f"{args.threads} torch thread(s); torch {torch.__version__}", flush=True)
    for name, steps in tasks.items():  # also checks that the data can be built before any worker starts
        print(f"  task {name}: {build_task(name, steps).info}", flush=True)
    for (task, name), grid in grids.items():
        print(f"  {task} / {name}: lr grid {', '.join(f'{lr:g}' for lr in grid)}", flush=True)
    results = run_benchmark(tasks, [OPTIMIZERS[name] for name in optimizer_names], seeds, grids, jobs=args.jobs,
                            threads=args.threads, log=lambda line: print(line, flush=True))
    elapsed = time.perf_counter() - started
    results["command"] = "python scripts/bench_optimizers.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results["total_seconds"] = elapsed

    print("\nLearning-rate grids (final validation loss, seed 0; * = chosen, ! = chosen at the edge of the grid):\n")
    print(grid_table(results))
    print(f"\nResults: mean ± std (population std) over seeds {', '.join(map(str, seeds))} at the tuned lr "
          f"(test loss = derivative MSE for HNNs, cross-entropy for spirals; every run trained on base loss + "
          f"{REG_STRENGTH:g}·½Σ‖θ‖²):\n")
    print(results_table(results))
    print(f"\ntotal wall time {elapsed / 60:.1f} min")
    if args.json:
        _write_json_atomically(args.json, results)
        print(f"results written to {args.json}")


if __name__ == "__main__":
    main()
