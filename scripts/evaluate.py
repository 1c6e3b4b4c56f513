#!/usr/bin/env python
"""Reproduce Table 1 of Greydanus et al. 2019 (baseline vs HNN): derivative MSE and energy MSE per task.

    python scripts/evaluate.py                                 # train 3 seeds x 2 models x 4 tasks, evaluate
    python scripts/evaluate.py --tasks spring pendulum --seeds 0
    python scripts/evaluate.py --checkpoints datasets/pretrained   # evaluate the shipped seed-0 models
    python scripts/evaluate.py --quick --tasks spring --out /tmp/t1 # tiny smoke run (not a reproduction)

Writes table1.md, table1.png (trajectories and energy over time, per task) and results.json to --out
(default results/table1/), training runs to <out>/runs/. The protocol (two labelled energy columns: (a) the
paper's analysis notebooks exactly, (b) the system's true H from training-distribution starts) is documented in
hnn/models/evaluation.py.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import sys
import time
import warnings
from collections.abc import Iterator

os.environ.setdefault("WANDB_SILENT", "true")

import torch  # noqa: E402

from hnn.models.evaluation import MODELS, REPO_ROOT, TASKS, run_table1  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
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
    parser.add_argument("--cache-dir", default=str(REPO_ROOT / "datasets" / "cache"),
                        help="dataset cache folder (default: the repository's datasets/cache)")
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
    """Lightning's per-run banners and known-harmless warnings off, wandb off unless asked; restored after."""
    loggers = [logging.getLogger(name) for name in ("pytorch_lightning", "lightning_fabric", "lightning")]
    levels = [lg.level for lg in loggers]
    saved_mode = os.environ.get("WANDB_MODE")
    try:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
        if not wandb:
            os.environ["WANDB_MODE"] = "disabled"  # scripts/train.py's CLI then writes CSV metrics only
        with warnings.catch_warnings():
            # val_fraction 0 (the paper's training set) leaves an empty validation loader; Lightning warns
            warnings.filterwarnings("ignore", message=r".*Total length of .* across ranks is zero")
            warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        if saved_mode is None:
            os.environ.pop("WANDB_MODE", None)
        else:
            os.environ["WANDB_MODE"] = saved_mode


def main(argv: list[str] | None = None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
