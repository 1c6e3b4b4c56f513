"""The open-loop accuracy experiment of the learned gym envs: ``python scripts/openloop.py``.

For each env and model — the port-Hamiltonian model (``configs/phnn_gym_<env>.yaml``), the controlled baseline
(``configs/baseline_gym_<env>.yaml``) and, on Pendulum-v1, the port-Hamiltonian model *without* the env-matched
scheme (learned mass and input gain, ``implicit_midpoint``, mini-batches of 1000) — and each seed: train through the
training program (:func:`hnn.training.cli.run_training`, the seed setting the weights and the collected data), reload
the checkpoint with ``hnn.load``, and measure :func:`hnn.evaluation.openloop.open_loop_accuracy` (200 held-out
starts over the whole state space, random actions, 200 steps; the starts and actions are the same for every model).

Writes ``openloop.md`` (the table), ``openloop.png`` (median k-step error against horizon, seed range shaded) and
``results.json`` to ``--out``; every figure is a median over starts, reported as the median and range over seeds.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch

from hnn.experiments.jobs import run_jobs
from hnn.experiments.table1 import quiet_training
from hnn.io import atomic_save_figure, atomic_write_text
from hnn.paths import config_file
from hnn.validate import check_choice

__all__ = ["ENVS", "VARIANTS", "OpenLoopRun", "run_one", "format_table", "draw_figure", "main"]

ENVS = {"pendulum": "Pendulum-v1", "acrobot": "Acrobot-v1", "cartpole": "CartPole-v1",
        "mountaincar": "MountainCarContinuous-v0"}
HORIZONS = (1, 10, 50, 200)
# variant -> (config prefix, overrides, label)
VARIANTS: dict[str, tuple[str, list[str], str]] = {
    "phnn": ("phnn_gym", [], "port-Hamiltonian"),
    "phnn_midpoint": ("phnn_gym", ["--model.init_args.field.init_args.mass", "learned",
                                   "--model.init_args.field.init_args.input_matrix", "learned",
                                   "--model.init_args.integrator", "implicit_midpoint",
                                   "--data.init_args.batch_size", "1000"],
                      "port-Hamiltonian, learned M(q), implicit midpoint"),
    "baseline": ("baseline_gym", [], "baseline MLP"),
}


@dataclass
class OpenLoopRun:
    """One trained (env, variant, seed) and its open-loop figures."""

    env: str
    variant: str
    seed: int
    train_seconds: float
    steps: int
    test_loss: float
    errors: dict[int, float]  # horizon -> median over starts of the k-step max-abs observation error
    curve: list[float]  # median k-step error for k = 1..horizon
    vpt: float
    energy_drift: dict[str, float]


def run_one(item: tuple[str, str, int, str, int | None]) -> OpenLoopRun:
    """Train and evaluate one ``(env key, variant, seed, root folder, max_steps or None)``."""
    from hnn.evaluation.openloop import open_loop_accuracy
    from hnn.training.checkpoint import load
    from hnn.training.cli import run_training

    env, variant, seed, root, max_steps = item
    prefix, overrides, _ = VARIANTS[variant]
    argv = ["--config", str(config_file(f"{prefix}_{env}")), *overrides,
            "--seed_everything", str(seed), "--data.init_args.seed", str(seed), "--data.init_args.verbose", "false",
            "--trainer.default_root_dir", root, "--run_name", f"{variant}_{env}_seed{seed}",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--evaluate", "false"]
    if max_steps is not None:
        argv += ["--trainer.max_steps", str(max_steps)]
    start = time.perf_counter()
    result = run_training(argv)
    seconds = time.perf_counter() - start
    if result.last_checkpoint is None:
        raise RuntimeError(f"training {variant} on {env} (seed {seed}) wrote no checkpoint")
    model = load(result.last_checkpoint)
    report = open_loop_accuracy(model, ENVS[env], n_starts=200, horizon=200)
    curve = report.k_step_error.median(dim=1).values.tolist()
    return OpenLoopRun(env=env, variant=variant, seed=seed, train_seconds=seconds, steps=int(result.total_steps),
                       test_loss=float(result.test_metrics.get("test_loss", float("nan"))),
                       errors={k: report.median_error(k) for k in HORIZONS}, curve=curve, vpt=report.median_vpt,
                       energy_drift=dict(report.energy_drift))


def _median_range(values: Sequence[float], fmt: str = "{:.3g}") -> str:
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}–{fmt.format(max(values))}]"


def format_table(runs: Sequence[OpenLoopRun]) -> str:
    """Markdown: one row per (env, variant), median [range] over seeds of the per-seed medians over starts."""
    head = ("| env | model | seeds | train s | " + " | ".join(f"{k}-step error" for k in HORIZONS)
            + " | valid steps (error ≤ 0.1) | zero-action energy drift (learned / real) |")
    lines = [head, "|" + "---|" * (6 + len(HORIZONS))]
    for env in ENVS:
        for variant in VARIANTS:
            group = [r for r in runs if r.env == env and r.variant == variant]
            if not group:
                continue
            cells = [ENVS[env], VARIANTS[variant][2], str(len(group)),
                     _median_range([r.train_seconds for r in group], "{:.0f}")]
            cells += [_median_range([r.errors[k] for r in group]) for k in HORIZONS]
            cells.append(_median_range([r.vpt for r in group], "{:.0f}"))
            if group[0].energy_drift:
                cells.append(_median_range([r.energy_drift["learned"] for r in group]) + " / "
                             + f"{group[0].energy_drift['real']:.3g}")
            else:
                cells.append("–")
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def draw_figure(runs: Sequence[OpenLoopRun], path: str | os.PathLike) -> Path:
    """Median k-step error against horizon per env, one line per model (median over seeds, range shaded)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = [e for e in ENVS if any(r.env == e for r in runs)]
    fig, axes = plt.subplots(1, len(envs), figsize=(4.2 * len(envs), 3.6), squeeze=False)
    for ax, env in zip(axes[0], envs):
        for variant, color in zip(VARIANTS, ("tab:blue", "tab:green", "tab:orange")):
            group = [r for r in runs if r.env == env and r.variant == variant]
            if not group:
                continue
            curves = torch.tensor([r.curve for r in group])
            k = torch.arange(1, curves.shape[1] + 1)
            ax.plot(k, curves.median(0).values, color=color, label=VARIANTS[variant][2])
            ax.fill_between(k, curves.min(0).values, curves.max(0).values, color=color, alpha=0.2)
        ax.axhline(0.1, color="gray", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_xlabel("steps")
        ax.set_title(ENVS[env])
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("median max-abs obs. error up to step k")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Open loop from held-out starts under random actions (seed range shaded)", fontsize=10)
    fig.tight_layout()
    out = atomic_save_figure(fig, path, dpi=110)
    plt.close(fig)
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="openloop.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(ENVS), help=f"of {', '.join(ENVS)}")
    parser.add_argument("--models", nargs="+", default=list(VARIANTS), help=f"of {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="training runs in parallel (worker processes)")
    parser.add_argument("--out", default="results/openloop")
    parser.add_argument("--quick", action="store_true", help="50 training steps per run (a smoke test, not a result)")
    args = parser.parse_args(argv)
    for env in args.envs:
        check_choice("--envs", env, ENVS)
    for model in args.models:
        check_choice("--models", model, VARIANTS)
    return args


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate, print the table and where the files went."""
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    items = [(env, variant, seed, str(out / "runs"), 50 if args.quick else None)
             for env in args.envs for variant in args.models for seed in args.seeds
             if variant != "phnn_midpoint" or env == "pendulum"]
    print(f"open-loop accuracy: {len(items)} training runs ({', '.join(args.envs)}; {', '.join(args.models)}; "
          f"seeds {' '.join(map(str, args.seeds))}), {args.jobs} at a time -> {out}", flush=True)
    start = time.perf_counter()

    def report(index: int, run: OpenLoopRun) -> None:
        print(f"  [{time.perf_counter() - start:6.0f} s] {run.env:<11} {run.variant:<14} seed {run.seed}: trained "
              f"{run.steps} steps in {run.train_seconds:.0f} s; 50-step error {run.errors[50]:.3g}, valid "
              f"{run.vpt:.0f} steps", flush=True)

    with quiet_training(wandb=False):
        runs = run_jobs(run_one, items, jobs=args.jobs, on_result=report)
    table = format_table(runs)
    atomic_write_text(out / "openloop.md", table + "\n")
    atomic_write_text(out / "results.json", json.dumps([asdict(r) for r in runs], indent=1) + "\n")
    figure = draw_figure(runs, out / "openloop.png")
    print()
    print(table)
    print(f"\ntable:   {out / 'openloop.md'}\nfigure:  {figure}\nresults: {out / 'results.json'}\n"
          f"wall time: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
