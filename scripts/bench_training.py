#!/usr/bin/env python
"""Benchmark: Lightning training through scripts/train.py's own path vs a plain PyTorch loop.

    python scripts/bench_training.py                 # 2000 full-batch HNN steps, spring data, 200 hidden
    python scripts/bench_training.py --steps 500 --repeats 3

Both sides train the same model class (hnn.models.HNN, same seed and initial weights) on the same on-device
spring data (the paper's recipe), with Adam(lr 1e-3, weight_decay 1e-4), full batch:

- plain: ``loss = model.derivative_loss(x, dxdt); opt.zero_grad(); loss.backward(); opt.step()`` in a for loop;
- train.py: ``hnn.models.cli.run_training`` with the default config (CSV + wandb-offline logging, progress bar,
  checkpointing, validation with energy-drift monitor and phase-portrait plot every 500 steps, NaN guard on every
  step). The default config takes 10 full-batch steps per Lightning batch (``model.steps_per_batch``; the same
  Adam steps and weights as 1); a third run shows the same path with 1 step per batch.

Wall times are for the training loop only (first step to last step; process start-up, data loading and the
final test are excluded and printed separately). The overhead per step is (train.py − plain) / steps. A
train.py run with validation switched off separates the per-step cost of the loop from the periodic validation.
Medians over interleaved repeats are reported, and the minimum as well (the least disturbed run, the steadier
figure on a shared machine).
``main(argv)`` is also what ``scripts/benchmark.py training`` calls.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

import torch  # noqa: E402


def plain_loop(steps: int, hidden: int, seed: int, cache_dir: str | None) -> tuple[float, float]:
    """(wall, CPU) seconds for ``steps`` full-batch Adam steps of an HNN on the spring data, bare PyTorch loop."""
    from hnn.data import HamiltonianDataModule
    from hnn.models import HNN

    data = HamiltonianDataModule(task="spring", val_fraction=0.1, cache_dir=cache_dir)
    data.setup("fit")
    x, dxdt = data.pairs("train")
    torch.manual_seed(seed)
    model = HNN(dim=data.dim, hidden_dim=hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(steps):
        loss = model.derivative_loss(x, dxdt)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if not torch.isfinite(loss):
        raise RuntimeError("the plain loop diverged")
    return wall, cpu


def train_py(steps: int, hidden: int, seed: int, cache_dir: str | None, root: str, validate: bool,
             progress_bar: bool, threads: int, steps_per_batch: int | None = None) -> tuple[float, float, float]:
    """(training-loop wall s, training-loop CPU s, total wall s incl. setup) through scripts/train.py's path."""
    from hnn.models.cli import run_training

    args = ["--trainer.max_steps", str(steps), "--trainer.default_root_dir", root,
            "--model.init_args.hidden_dim", str(hidden), "--seed_everything", str(seed),
            "--test", "false", "--evaluate", "false", "--cpu_threads", str(threads),
            "--trainer.enable_progress_bar", "true" if progress_bar else "false"]
    if cache_dir is not None:
        args += ["--data.init_args.cache_dir", cache_dir]
    if not validate:
        args += ["--trainer.limit_val_batches", "0"]
    if steps_per_batch == 1:  # the default config's 50 batches x 10 steps per epoch, as 500 batches x 1 step
        args += ["--model.init_args.steps_per_batch", "1", "--data.init_args.passes_per_epoch", "500",
                 "--trainer.log_every_n_steps", "100"]
    start = time.perf_counter()
    result = run_training(args)
    total = time.perf_counter() - start
    if result.steps != steps:
        raise RuntimeError(f"train.py ran {result.steps} steps, expected {steps}")
    return result.fit_seconds, result.fit_cpu_seconds, total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="full-batch steps per run (paper: 2000)")
    parser.add_argument("--hidden", type=int, default=200, help="hidden units (paper: 200)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved runs per variant; medians are reported (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads for both sides (default 1, train.py's default; 0: torch's)")
    parser.add_argument("--no-progress-bar", action="store_true", help="train.py side without its progress bar")
    parser.add_argument("--cache-dir", default="datasets/cache", help="data cache folder (as in the configs)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.hidden < 1 or args.repeats < 1:
        parser.error("--steps, --hidden and --repeats must be >= 1")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"training benchmark: HNN ({args.hidden} hidden, 2 layers, tanh), spring data, full batch, "
          f"{args.steps} steps, torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s), "
          f"{os.cpu_count()} CPUs, load average {load:.1f}, {args.repeats} interleaved repeat(s)", flush=True)

    results: dict[str, list[tuple[float, float]]] = {"plain": [], "train": [], "noval": [], "k1": []}
    totals = []
    with tempfile.TemporaryDirectory(prefix="hnn-bench-") as root:
        plain_loop(min(args.steps, 20), args.hidden, args.seed, args.cache_dir)  # warm-up (data, allocator)
        for r in range(args.repeats):
            print(f"[{r + 1}/{args.repeats}] plain PyTorch loop ...", flush=True)
            results["plain"].append(plain_loop(args.steps, args.hidden, args.seed, args.cache_dir))
            print(f"[{r + 1}/{args.repeats}] train.py path (logging, progress bar, checkpoints, validation) ...",
                  flush=True)
            wall, cpu, total = train_py(args.steps, args.hidden, args.seed, args.cache_dir, root, validate=True,
                                        progress_bar=not args.no_progress_bar, threads=args.threads)
            results["train"].append((wall, cpu))
            totals.append(total)
            print(f"[{r + 1}/{args.repeats}] train.py path without validation ...", flush=True)
            wall, cpu, _ = train_py(args.steps, args.hidden, args.seed, args.cache_dir, root, validate=False,
                                    progress_bar=not args.no_progress_bar, threads=args.threads)
            results["noval"].append((wall, cpu))
            print(f"[{r + 1}/{args.repeats}] train.py path with 1 step per batch ...", flush=True)
            wall, cpu, _ = train_py(args.steps, args.hidden, args.seed, args.cache_dir, root, validate=True,
                                    progress_bar=not args.no_progress_bar, threads=args.threads, steps_per_batch=1)
            results["k1"].append((wall, cpu))

    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in results.items()}
    us = lambda seconds: seconds / args.steps * 1e6  # noqa: E731
    (pw, pc) = med["plain"]
    names = {"plain": "plain PyTorch loop", "train": "train.py path", "noval": "train.py path, no validation",
             "k1": "train.py path, 1 step/batch"}
    print(f"\nmedians over {args.repeats} repeat(s):")
    print(f"{'variant':<30}{'wall s':>8}{'µs/step':>9}{'overhead':>18}{'CPU s':>8}{'overhead':>18}")
    for key in ("plain", "train", "noval", "k1"):
        w, c = med[key]
        if key == "plain":
            print(f"{names[key]:<30}{w:>8.2f}{us(w):>9.0f}{'':>18}{c:>8.2f}{'':>18}")
        else:
            ow = f"{us(w - pw):+.0f} µs {100 * (w - pw) / pw:+.1f}%"
            oc = f"{us(c - pc):+.0f} µs {100 * (c - pc) / pc:+.1f}%"
            print(f"{names[key]:<30}{w:>8.2f}{us(w):>9.0f}{ow:>18}{c:>8.2f}{oc:>18}")
    best = {k: min(w for w, _ in v) for k, v in results.items()}
    print("minimum wall time over repeats: " + ", ".join(
        f"{names[k]} {best[k]:.2f} s" + ("" if k == "plain" else f" ({100 * (best[k] - best['plain']) / best['plain']:+.1f} %)")
        for k in names))
    spread = {k: (min(w for w, _ in v), max(w for w, _ in v)) for k, v in results.items()}
    print("wall-time range over repeats: " + ", ".join(f"{names[k]} {lo:.2f}-{hi:.2f} s"
                                                       for k, (lo, hi) in spread.items()))
    tw, tc = med["train"]
    print(f"train.py total incl. start-up, data setup and logger start: {statistics.median(totals):.2f} s (median)")
    verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    nw, nc = med["noval"]
    print(f"goal (the issue's setting: logging, progress bar and checkpointing on; the same work as the plain loop): "
          f"within 5 % -> wall {verdict(nw <= 1.05 * pw)} ({100 * (nw - pw) / pw:+.1f} % median), "
          f"CPU {verdict(nc <= 1.05 * pc)} ({100 * (nc - pc) / pc:+.1f} % median)")
    print(f"with train.py's validation monitors as well (4 validations: val loss, energy-drift rollouts, phase "
          f"portraits; work the plain loop does not do): wall {100 * (tw - pw) / pw:+.1f} % median, "
          f"{100 * (best['train'] - best['plain']) / best['plain']:+.1f} % best run, CPU {100 * (tc - pc) / pc:+.1f} % "
          f"median -> {'within' if tw <= 1.05 * pw else 'over'} 5 %")
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"note: load average {load:.1f} on {os.cpu_count()} CPUs — other processes shared the machine, so wall "
              "times are noisy (see the ranges); the CPU-time columns are the steadier comparison")
    return 0


if __name__ == "__main__":
    sys.exit(main())
