#!/usr/bin/env python
"""Benchmark: the training program (``python scripts/train.py``, default config) against a plain PyTorch loop doing
the same work.

    python scripts/benchmark.py training                 # 2000 full-batch HNN steps, spring data, 5 repeats
    python scripts/benchmark.py training --steps 500 --repeats 3

Both sides train the same field (``HamiltonianField(2, 200)``, same seed and initial weights) on the same on-device
spring data with Adam(lr 1e-3, weight_decay 1e-4), full batch, and do the same periodic work as the shipped
``hnn_spring.yaml``:

- every step: loss, backward, Adam step; a NaN/inf check of the loss;
- every 100 steps: the training loss written to a CSV file and to wandb (offline) (``log_every_n_steps: 100``);
- every 20 steps: a progress-bar redraw (tqdm, as the training program's bar);
- every 500 steps (an epoch, ``passes_per_epoch: 500``): the validation loss, the rollout monitor (8 validation
  starts rolled out by rk4 and scored by ``hnn.evaluation.evaluate_rollouts``), a phase portrait drawn on a worker
  thread (each finished portrait sent to wandb as an image), and a checkpoint (weights + optimizer state, written
  atomically).

What the training program adds is Lightning's machinery: its loops, hooks, callbacks and logger connector. Wall and
CPU seconds are for the training loop only (first step to last step; start-up, data
loading and the final test are excluded). Repeats are interleaved, alternating which side runs first; the median and
the range are printed.
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

import torch  # noqa: E402

from hnn.data import DerivativeBatch, HamiltonianDataModule  # noqa: E402
from hnn.evaluation import evaluate_rollouts  # noqa: E402
from hnn.evaluation.figures import draw_phase_portrait, phase_portrait_data  # noqa: E402
from hnn.models import DynamicsModule  # noqa: E402
from hnn.nn import HamiltonianField  # noqa: E402
from hnn.training.callbacks import BackgroundFigureWriter  # noqa: E402
from hnn.training.checkpoint import atomic_torch_save  # noqa: E402
from hnn.training.cli import run_training  # noqa: E402

LOG_EVERY, REDRAW_EVERY, EPOCH = 100, 20, 500


def plain_loop(steps: int, hidden: int, seed: int, folder: str, progress_bar: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of the plain loop described in the module docstring."""
    import wandb
    from tqdm import tqdm

    data = HamiltonianDataModule(task="spring", val_fraction=0.1, verbose=False)
    data.setup("fit")
    train, val = DerivativeBatch(*data.pairs("train")), DerivativeBatch(*data.pairs("val"))
    reference = data.reference_rollouts("val", n_starts=8, n_times=60)
    torch.manual_seed(seed)
    module = DynamicsModule(HamiltonianField(data.dim, hidden_dim=hidden))
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, weight_decay=1e-4)
    figures = BackgroundFigureWriter()
    os.makedirs(folder, exist_ok=True)
    run = wandb.init(project="hnn", dir=folder, mode="offline")
    with open(os.path.join(folder, "metrics.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "train_loss"])
        bar = tqdm(total=steps, disable=not progress_bar, mininterval=0, miniters=REDRAW_EVERY, file=sys.stderr)
        start, cpu_start = time.perf_counter(), time.process_time()
        for step in range(1, steps + 1):
            loss = module.loss(train)
            if not bool(torch.isfinite(loss.detach())):
                raise RuntimeError(f"the plain loop diverged at step {step}")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % LOG_EVERY == 0:
                value = float(loss)
                writer.writerow([step - 1, value])
                handle.flush()
                run.log({"train_loss": value}, step=step - 1)
            if step % REDRAW_EVERY == 0:
                bar.update(REDRAW_EVERY)
            if step % EPOCH == 0:
                val_loss = float(module.loss(val).detach())
                report = evaluate_rollouts(module.field, reference, method="rk4", float64=False)
                group = reference.groups[0]
                portrait = phase_portrait_data(group.t_model, report.preds[0], group.truth, energy=reference.energy,
                                               field=module.field.vector_field, title=f"step {step}")
                for done_step, path in figures.finished():  # the monitor sends each finished figure to wandb
                    run.log({"phase_portrait": [wandb.Image(path)], "trainer/global_step": done_step})
                figures.submit(draw_phase_portrait, os.path.join(folder, f"step{step:07d}.png"), portrait, tag=step)
                writer.writerow([step - 1, val_loss])
                run.log({"val_loss": val_loss, "val_rollout_mse": report.state_mse}, step=step - 1)
                atomic_torch_save({"state_dict": module.state_dict(), "optimizer": optimizer.state_dict(),
                                   "step": step}, os.path.join(folder, "last.ckpt"))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        # after the clock, as the training program waits for its last figure in teardown, after its timed window
        for done_step, path in figures.finished(wait=True):
            run.log({"phase_portrait": [wandb.Image(path)], "trainer/global_step": done_step})
        figures.close()
        bar.close()
    run.finish()
    return wall, cpu


def train_py(steps: int, hidden: int, seed: int, root: str, progress_bar: bool, threads: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the training loop of the training program with the default config."""
    args = ["--trainer.max_steps", str(steps), "--trainer.default_root_dir", root,
            "--model.init_args.field.init_args.hidden_dim", str(hidden), "--seed_everything", str(seed),
            "--test", "false", "--evaluate", "false", "--cpu_threads", str(threads),
            "--trainer.enable_progress_bar", "true" if progress_bar else "false"]
    result = run_training(args)
    if result.steps != steps:
        raise RuntimeError(f"train.py ran {result.steps} steps, expected {steps}")
    return result.seconds, result.cpu_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="full-batch steps per run (paper: 2000)")
    parser.add_argument("--hidden", type=int, default=200, help="hidden units (paper: 200)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs per side (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads, both sides (default 1)")
    parser.add_argument("--no-progress-bar", action="store_true", help="both sides without a progress bar")
    args = parser.parse_args(argv)
    if args.steps < EPOCH or args.hidden < 1 or args.repeats < 1:
        parser.error(f"--steps must be >= {EPOCH} (one epoch), --hidden and --repeats >= 1")
    torch.set_num_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"training benchmark: HamiltonianField ({args.hidden} hidden, 2 layers, tanh), spring data, full batch, "
          f"{args.steps} steps, torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s), "
          f"{os.cpu_count()} CPUs, load average {load:.1f}, {args.repeats} interleaved repeat(s)", flush=True)
    HamiltonianDataModule(task="spring", verbose=False).prepare_data()  # generate the data once, untimed
    results: dict[str, list[tuple[float, float]]] = {"plain": [], "train": []}
    with tempfile.TemporaryDirectory(prefix="hnn-bench-") as root:
        bar = not args.no_progress_bar
        for r in range(args.repeats):
            # the sides alternate which runs first (ABBA), so a drift in the machine's load or a process-age effect
            # does not always land on the same side
            for side in (("plain", "train") if r % 2 == 0 else ("train", "plain")):
                if side == "plain":
                    print(f"[{r + 1}/{args.repeats}] plain PyTorch loop ...", flush=True)
                    results["plain"].append(plain_loop(args.steps, args.hidden, args.seed,
                                                       os.path.join(root, f"plain{r}"), bar))
                else:
                    print(f"[{r + 1}/{args.repeats}] train.py (default config) ...", flush=True)
                    results["train"].append(train_py(args.steps, args.hidden, args.seed, root, bar, args.threads))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in results.items()}
    (pw, pc), (tw, tc) = med["plain"], med["train"]
    us = lambda seconds: seconds / args.steps * 1e6  # noqa: E731
    print(f"\nmedians over {args.repeats} interleaved repeat(s), training loop only:")
    print(f"{'side':<26}{'wall s':>8}{'µs/step':>9}{'range s':>14}{'CPU s':>8}")
    for key, name in (("plain", "plain PyTorch loop"), ("train", "train.py, default config")):
        lo, hi = min(w for w, _ in results[key]), max(w for w, _ in results[key])
        print(f"{name:<26}{med[key][0]:>8.2f}{us(med[key][0]):>9.0f}{f'{lo:.2f}-{hi:.2f}':>14}{med[key][1]:>8.2f}")
    ratios = sorted(t / p for (t, _), (p, _) in zip(results["train"], results["plain"]))
    print(f"train.py / plain: wall {tw / pw:.3f}x ({us(tw - pw):+.0f} µs/step), CPU {tc / pc:.3f}x; per-repeat wall "
          f"ratios {', '.join(f'{r:.3f}' for r in ratios)}")
    print(f"goal <= 1.05x: {'met' if tw <= 1.05 * pw else 'NOT met'} (median wall), "
          f"{'met' if tc <= 1.05 * pc else 'NOT met'} (median CPU)")
    if load > 0.5 * (os.cpu_count() or 1):
        print(f"note: load average {load:.1f} on {os.cpu_count()} CPUs — other processes shared the machine; the "
              "per-repeat ratios and the CPU column are the steadier comparison")
    return 0


if __name__ == "__main__":
    sys.exit(main())
