"""Table 1 of Greydanus et al. 2019, the experiment: train or load baseline and HNN per task and seed, evaluate,
write the table, the figure, the results and (optionally) the pretrained exports.

``python scripts/evaluate.py`` and the installed ``hnn-table1`` call :func:`main`. Training goes through the
training program (:func:`hnn.training.cli.run_training` with the shipped ``<model>_<task>.yaml``, the paper's recipe,
plus overrides for the seed and ``val_fraction 0`` — the paper's exact training set); the protocols, metrics, table
and figure are :mod:`hnn.evaluation.table1`. Examples::

    python scripts/evaluate.py                                  # 3 seeds x 2 models x 4 tasks, 2 workers
    python scripts/evaluate.py --tasks spring pendulum --seeds 0
    python scripts/evaluate.py --checkpoints datasets/pretrained --seeds 0   # the shipped seed-0 models
    hnn-table1 --quick --tasks spring --out /tmp/t1            # tiny smoke run (not a reproduction)
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from hnn.data.reference import ReferenceRollouts
from hnn.evaluation.table1 import (MODEL_LABELS, MODELS, PAPER_N_STARTS, ROLLOUT_TOL, TASK_TITLES, TASKS, RunResult,
                                   evaluate_model, evaluation_datamodule, format_table, paper_protocol,
                                   physical_protocol, plot_table_figure)
from hnn.experiments.jobs import quiet_lightning, run_jobs
from hnn.io import atomic_write_text
from hnn.paths import cache_dir as default_cache_dir
from hnn.paths import config_file
from hnn.training.checkpoint import load, read_checkpoint
from hnn.training.cli import run_training
from hnn.training.pretrained import export_pretrained_model
from hnn.validate import check_choice, check_int

__all__ = ["TrainedModel", "config_path", "training_overrides", "train_model", "load_checkpoint_runs",
           "export_pretrained", "Table1Output", "UnitSpec", "run_unit", "run_table1", "parse_args", "main"]


@dataclass
class TrainedModel:
    model: Any
    data_hparams: dict[str, Any]
    checkpoint: str | None
    config: str | None
    seconds: float
    steps: int


def config_path(model_kind: str, task: str) -> Path:
    """The shipped config ``<model>_<task>.yaml`` (the paper's recipe for that pair)."""
    check_choice("model", model_kind, MODELS)
    check_choice("task", task, TASKS)
    return config_file(f"{model_kind}_{task}")


def training_overrides(seed: int, cache_dir: str | None, max_steps: int | None = None,
                       n_trajectories: int | None = None) -> list[str]:
    """Command-line overrides this table adds to a config (recorded in the pretrained manifest)."""
    args = ["--seed_everything", str(seed), "--data.init_args.seed", str(seed),
            "--data.init_args.val_fraction", "0"]
    if cache_dir is not None:
        args += ["--data.init_args.cache_dir", str(cache_dir)]
    if max_steps is not None:
        args += ["--trainer.max_steps", str(max_steps)]
    if n_trajectories is not None:
        args += ["--data.init_args.n_trajectories", str(n_trajectories)]
    return args


def train_model(model_kind: str, task: str, seed: int, root_dir: str | os.PathLike, cache_dir: str | None,
                max_steps: int | None = None, n_trajectories: int | None = None) -> TrainedModel:
    """Train one (model, task, seed) through ``scripts/train.py``'s path (``hnn.training.cli.run_training``).

    The config is ``configs/<model>_<task>.yaml``; overrides: the seed (model init and data), ``val_fraction 0``
    (the paper's exact training set), the run folder, no progress bar, no test loop (evaluated here instead).
    """
    config = config_path(model_kind, task)
    argv = ["--config", str(config), *training_overrides(seed, cache_dir, max_steps, n_trajectories),
            "--data.init_args.verbose", "false",
            "--trainer.default_root_dir", os.fspath(root_dir), "--run_name", f"{model_kind}_{task}_seed{seed}",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--test", "false", "--evaluate", "false"]
    start = time.perf_counter()
    result = run_training(argv)
    seconds = time.perf_counter() - start
    data_hparams = dict(getattr(result.datamodule, "hparams", {}) or {})
    if result.last_checkpoint is None:
        raise RuntimeError(f"training {model_kind} on {task} wrote no checkpoint")
    # evaluate exactly what the checkpoint holds (and check that it is the end of training)
    saved_step = int(read_checkpoint(result.last_checkpoint).get("global_step", -1))
    if saved_step != int(result.total_steps):
        raise RuntimeError(f"{result.last_checkpoint} holds step {saved_step}, training ended at "
                           f"{result.total_steps}")
    model = load(result.last_checkpoint)
    return TrainedModel(model=model, data_hparams=data_hparams, checkpoint=result.last_checkpoint,
                        config=result.config_path, seconds=seconds, steps=int(result.total_steps))


def _checkpoint_name(model_kind: str, task: str, seed: int) -> list[str]:
    names = [f"{model_kind}_{task}_seed{seed}.ckpt"]
    if seed == 0:
        names.append(f"{model_kind}_{task}.ckpt")
    return names


def load_checkpoint_runs(directory: str | os.PathLike, model_kind: str, task: str,
                         seeds: Sequence[int]) -> list[tuple[int, str]]:
    """``(seed, path)`` of the checkpoints in ``directory`` for one (model, task): files named
    ``<model>_<task>_seed<k>.ckpt`` or, for seed 0, ``<model>_<task>.ckpt`` (the shipped pretrained names)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"--checkpoints {str(directory)!r}: no such directory")
    found = []
    for seed in seeds:
        for name in _checkpoint_name(model_kind, task, seed):
            if (directory / name).is_file():
                found.append((seed, str(directory / name)))
                break
    if not found:
        expected = " or ".join(n for s in seeds for n in _checkpoint_name(model_kind, task, s))
        raise FileNotFoundError(f"no checkpoint for {model_kind} on {task} in {str(directory)!r} (expected {expected})")
    return found


# ---------------------------------------------------------------------------------------------------- outputs
def export_pretrained(runs: Sequence[RunResult], directory: str | os.PathLike, command: str,
                      cache_dir: str | None) -> dict[str, Any]:
    """Write seed-0 checkpoints of ``runs`` as ``<model>_<task>.ckpt`` into ``directory`` with their manifest
    entries (:func:`hnn.training.pretrained.export_pretrained_model`); return the manifest's entries written."""
    written: dict[str, Any] = {}
    for run in runs:
        if run.seed != 0:
            continue
        if run.checkpoint is None:
            raise ValueError(f"{run.model_kind} on {run.task}: no checkpoint file to export")
        name = f"{run.model_kind}_{run.task}"
        written[name] = export_pretrained_model(run.checkpoint, directory, name, {
            "description": f"{MODEL_LABELS[run.model_kind]}, {TASK_TITLES[run.task]}, seed {run.seed}",
            "task": run.task,
            "seed": run.seed,
            "config": f"configs/{name}.yaml",
            "overrides": training_overrides(run.seed, None),
            "steps": run.steps,
            "metrics": {
                "train_mse": run.train_mse, "test_mse": run.test_mse,
                "energy_mse_paper": run.energy["paper"].energy_mse,
                "energy_mse_physical": run.energy["physical"].energy_mse,
            },
            "evaluated_by": command,
        })
    return written


# ---------------------------------------------------------------------------------------------------- driver
@dataclass
class Table1Output:
    table: str
    table_path: str
    figure_path: str
    results_path: str
    results: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class UnitSpec:
    """One (model, task, seed) to train (or load) and evaluate; plain data, so it can go to a worker process."""

    task: str
    kind: str
    seed: int
    tag: str
    out_dir: str
    cache_dir: str | None
    checkpoints: str | None
    quick: bool


def run_unit(spec: UnitSpec, progress: Callable[[str], None] | None = None) -> RunResult:
    """Train (or load) and evaluate one (model, task, seed); prints progress lines (flushed) by default."""
    say = progress or (lambda line: print(line, flush=True))
    n_starts = 3 if spec.quick else PAPER_N_STARTS
    max_physical = 5 if spec.quick else None
    tol = 1e-8 if spec.quick else ROLLOUT_TOL
    if spec.checkpoints is not None:
        path = dict(load_checkpoint_runs(spec.checkpoints, spec.kind, spec.task, [spec.seed]))[spec.seed]
        raw = read_checkpoint(path)
        data_hparams = dict(raw.get("datamodule_hyper_parameters") or {"seed": spec.seed, "val_fraction": 0.0})
        trained = TrainedModel(model=load(path), data_hparams=data_hparams, checkpoint=path, config=None,
                               seconds=0.0, steps=int(raw.get("global_step", 0)))
        say(f"{spec.tag}: loaded {path}")
    else:
        say(f"{spec.tag}: training ({config_path(spec.kind, spec.task).name}) ...")
        n_traj = 40 if (spec.quick and spec.task == "two_body") else None
        trained = train_model(spec.kind, spec.task, spec.seed, Path(spec.out_dir) / "runs", spec.cache_dir,
                              max_steps=40 if spec.quick else None, n_trajectories=n_traj)
        say(f"{spec.tag}: trained {trained.steps} steps in {trained.seconds:.1f} s")
    start = time.perf_counter()
    run = evaluate_model(trained.model, spec.kind, spec.task, spec.seed, trained.data_hparams, spec.cache_dir,
                         n_starts=n_starts, max_physical_starts=max_physical, rtol=tol, atol=tol)
    run.checkpoint, run.config = trained.checkpoint, trained.config
    run.train_seconds, run.steps = trained.seconds, trained.steps
    run.data_hparams = trained.data_hparams
    run.model = None  # results travel between processes; the weights stay in the checkpoint file
    say(f"{spec.tag}: train MSE {run.train_mse:.2e}, test MSE {run.test_mse:.2e}, energy MSE (a) "
        f"{run.energy['paper'].energy_mse:.2e}, (b) {run.energy['physical'].energy_mse:.2e} "
        f"(evaluated in {time.perf_counter() - start:.1f} s)")
    return run


def run_table1(
    tasks: Sequence[str] = TASKS,
    seeds: Sequence[int] = (0, 1, 2),
    out_dir: str | os.PathLike = "results/table1",
    cache_dir: str | None = None,
    checkpoints: str | os.PathLike | None = None,
    quick: bool = False,
    seeds_per_task: dict[str, Sequence[int]] | None = None,
    export_dir: str | os.PathLike | None = None,
    command: str = "",
    jobs: int = 1,
    progress: Callable[[str], None] = print,
) -> Table1Output:
    """Train (or load) baseline and HNN per task and seed, evaluate both protocols, write table, figure, JSON.

    ``quick``: 40 training steps, 3 paper-faithful starts, 5 physical starts, 40 two-body orbits and solver
    tolerance 1e-8 instead of 1e-12 (a smoke test of the whole path, not a reproduction).
    ``seeds_per_task`` overrides ``seeds`` for some tasks (e.g. fewer two-body seeds). ``jobs > 1`` runs that many
    (model, task, seed) units at once in worker processes (each single-threaded, printing its own progress).
    Writes ``table1.md``, ``table1.png`` and ``results.json`` to ``out_dir`` (atomically) and training runs to
    ``out_dir/runs``. ``cache_dir``: the dataset cache (None: the user cache, :func:`hnn.paths.cache_dir`).
    """
    if not tasks:
        raise ValueError(f"no tasks given; choose from {', '.join(TASKS)}")
    for task in tasks:
        check_choice("task", task, TASKS)
    if not seeds:
        raise ValueError("no seeds given")
    for s in [*seeds, *(v for vs in (seeds_per_task or {}).values() for v in vs)]:
        check_int("seed", s, minimum=0)
    check_int("jobs", jobs, minimum=1)
    cache_dir = str(default_cache_dir()) if cache_dir is None else os.fspath(cache_dir)
    if checkpoints is not None and not Path(checkpoints).is_dir():
        raise FileNotFoundError(f"--checkpoints {os.fspath(checkpoints)!r}: no such directory")
    out_dir = Path(out_dir)
    start_all = time.perf_counter()
    tol = 1e-8 if quick else ROLLOUT_TOL
    seeds_of = {task: list((seeds_per_task or {}).get(task, seeds)) for task in tasks}
    if checkpoints is not None:  # evaluate the seeds whose files are there (both models needed)
        for task in tasks:
            found = [{seed for seed, _ in load_checkpoint_runs(checkpoints, kind, task, seeds_of[task])}
                     for kind in MODELS]
            available = sorted(set.intersection(*found))
            missing = sorted(set(seeds_of[task]) - set(available))
            if not available:
                raise FileNotFoundError(f"{checkpoints}: no seed of {task} has both a baseline and an HNN checkpoint")
            if missing:
                progress(f"{task}: no checkpoints for seed(s) {', '.join(map(str, missing))}; evaluating "
                         f"{', '.join(map(str, available))}")
            seeds_of[task] = available
    # two-body first: its 10k-step trainings are the longest units
    order = sorted(tasks, key=lambda task: task != "two_body")
    plan = [(task, kind, seed) for task in order for seed in seeds_of[task] for kind in MODELS]
    specs = [UnitSpec(task=task, kind=kind, seed=seed, tag=f"[{i}/{len(plan)}] {MODEL_LABELS[kind]} on {task}, "
                      f"seed {seed}", out_dir=os.fspath(out_dir), cache_dir=cache_dir,
                      checkpoints=None if checkpoints is None else os.fspath(checkpoints), quick=quick)
             for i, (task, kind, seed) in enumerate(plan, start=1)]
    if jobs > 1 and len(specs) > 1 and checkpoints is None:  # generate each dataset once, before the workers race
        from hnn.data import HamiltonianDataModule

        for task in order:
            if task != "real_pendulum":
                for seed in seeds_of[task]:
                    HamiltonianDataModule(task=task, seed=seed, val_fraction=0.0, cache_dir=cache_dir,
                                          n_trajectories=40 if (quick and task == "two_body") else None,
                                          verbose=False).prepare_data()
    results = run_jobs(run_unit, specs, jobs=jobs, threads=torch.get_num_threads())
    results.sort(key=lambda r: (TASKS.index(r.task), r.seed, MODELS.index(r.model_kind)))
    figure_runs: dict[str, dict[str, RunResult]] = {}
    figure_protocols: dict[str, dict[str, ReferenceRollouts]] = {}
    for run in results:
        if run.seed != min(seeds_of[run.task]):
            continue
        figure_runs.setdefault(run.task, {})[run.model_kind] = run
        if run.task not in figure_protocols:
            data = evaluation_datamodule(run.task, run.data_hparams, cache_dir)
            figure_protocols[run.task] = {
                "paper": paper_protocol(run.task, data, seed=run.seed, n_starts=3 if quick else PAPER_N_STARTS),
                "physical": physical_protocol(run.task, data, max_starts=5 if quick else None),
            }
    table = format_table(results, figure_protocols, tol=tol)
    header = ("# Table 1 of Greydanus et al. 2019, reproduced\n\n"
              + (f"Command: `{command}`\n\n" if command else "")
              + ("Models: trained by scripts/train.py's path with the shipped <model>_<task>.yaml (val_fraction 0)."
                 if checkpoints is None else f"Models: checkpoints from {checkpoints}.")
              + ("  QUICK MODE (tiny training, few starts): not a reproduction.\n\n" if quick else "\n\n"))
    table_path = out_dir / "table1.md"
    figure_path = out_dir / "table1.png"
    results_path = out_dir / "results.json"
    atomic_write_text(table_path, header + table)
    plot_table_figure(figure_path, figure_runs, figure_protocols, tol=tol)
    seconds = time.perf_counter() - start_all
    payload = {"command": command, "quick": quick, "seconds": seconds, "runs": [r.summary() for r in results]}
    atomic_write_text(results_path, json.dumps(payload, indent=2) + "\n")
    if export_dir is not None:
        export_pretrained(results, export_dir, command, cache_dir)
        progress(f"exported seed-0 checkpoints and manifest.json to {export_dir}")
    return Table1Output(table=table, table_path=str(table_path), figure_path=str(figure_path),
                        results_path=str(results_path), results=results, seconds=seconds)


# ---------------------------------------------------------------------------------------------------- command line
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hnn-table1", description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), metavar="TASK",
                        help=f"tasks to run (default: all): {', '.join(TASKS)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="SEED",
                        help="training seeds (model init and data; default: 0 1 2)")
    parser.add_argument("--two-body-seeds", nargs="+", type=int, default=None, metavar="SEED",
                        help="seeds for two_body only (default: same as --seeds)")
    parser.add_argument("--out", default="results/table1", help="results folder (default: results/table1)")
    parser.add_argument("--checkpoints", default=None, metavar="DIR",
                        help="evaluate checkpoints <model>_<task>[_seed<k>].ckpt from DIR instead of training")
    parser.add_argument("--cache-dir", default=None,
                        help="dataset cache folder (default: the user cache, $HNN_CACHE_DIR or ~/.cache/hnn)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny run for tests: 40 steps, 3 starts, first seed only, one process")
    parser.add_argument("--export-pretrained", default=None, metavar="DIR",
                        help="also write the seed-0 models as <model>_<task>.ckpt + manifest.json to DIR")
    parser.add_argument("--wandb", action="store_true",
                        help="also log the training runs to wandb (default: CSV metrics only; 24 short runs)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="(model, task, seed) units run at once in worker processes (default 2: one per core)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1: the models are small; extra threads only "
                             "add synchronisation, badly so on a busy machine)")
    args = parser.parse_args(argv)
    unknown = [t for t in args.tasks if t not in TASKS]
    if unknown:
        parser.error(f"unknown task(s) {', '.join(unknown)}; choose from {', '.join(TASKS)}")
    if any(s < 0 for s in args.seeds + (args.two_body_seeds or [])):
        parser.error("seeds must be >= 0")
    if args.threads < 1:
        parser.error("--threads must be >= 1")
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    if args.quick:
        args.seeds = args.seeds[:1]
        args.two_body_seeds = None
        args.jobs = 1
    return args


@contextlib.contextmanager
def quiet_training(wandb: bool) -> Iterator[None]:
    """Lightning's per-run banners off, wandb off unless asked; the environment restored after."""
    saved_mode = os.environ.get("WANDB_MODE")
    try:
        quiet_lightning()
        if not wandb:
            os.environ["WANDB_MODE"] = "disabled"  # the training CLI then writes CSV metrics only
        yield
    finally:
        if saved_mode is None:
            os.environ.pop("WANDB_MODE", None)
        else:
            os.environ["WANDB_MODE"] = saved_mode


def main(argv: list[str] | None = None) -> int:
    """``hnn-table1`` / ``python scripts/evaluate.py``: run, print the table and where the files went."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    command = "python scripts/evaluate.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None
                                                                                 else argv))
    per_task = {"two_body": args.two_body_seeds} if args.two_body_seeds else None
    print(f"Table 1 protocol: tasks {', '.join(args.tasks)}; models {', '.join(MODELS)}; seeds "
          f"{' '.join(map(str, args.seeds))}" + (f" (two_body: {' '.join(map(str, args.two_body_seeds))})"
                                                 if args.two_body_seeds else "") + f"; results -> {args.out}",
          flush=True)
    start = time.perf_counter()
    try:
        with quiet_training(args.wandb):
            output = run_table1(tasks=args.tasks, seeds=args.seeds, out_dir=args.out, cache_dir=args.cache_dir,
                                checkpoints=args.checkpoints, quick=args.quick, seeds_per_task=per_task,
                                export_dir=args.export_pretrained, command=command.strip(), jobs=args.jobs,
                                progress=lambda line: print(line, flush=True))
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print()
    print(output.table)
    print(f"table:   {output.table_path}\nfigure:  {output.figure_path}\nresults: {output.results_path}\n"
          f"wall time: {time.perf_counter() - start:.0f} s")
    return 0
