#!/usr/bin/env python
"""Benchmark: env steps per second of the learned vector env beside gymnasium's own vector env of the real env.

    python scripts/benchmark.py envs                           # Pendulum-v1 at 1, 64 and 4096 envs
    python scripts/benchmark.py envs --env CartPole-v1 --num-envs 1,64,4096 --steps 200 --repeats 3
    python scripts/benchmark.py envs --field physics           # the closed-form real field instead of a network

Rows (same run, one after another): ``learned`` (``gymnasium.make_vec("hnn/Learned<env>", num_envs=N, model=...)``,
an untrained PortHamiltonianField by default), ``gymnasium sync`` (N real envs in gymnasium's SyncVectorEnv; fewer
steps per run at large N, see --real-steps) and, for CartPole-v1, gymnasium's own batched ``vector_entry_point`` env.
Method and model: :mod:`hnn.envs.benchmark`. ``main(argv)`` is the entry point.
"""
from __future__ import annotations

import argparse
import sys

import torch

from hnn.envs.benchmark import format_table, measure
from hnn.systems.gym import GYM_SYSTEMS


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--env", default="Pendulum-v1", choices=list(GYM_SYSTEMS), help="the real env")
    parser.add_argument("--num-envs", default="1,64,4096", help="comma-separated batch sizes N")
    parser.add_argument("--steps", type=int, default=200, help="env steps per timed run (learned and batched rows)")
    parser.add_argument("--real-steps", type=int, default=None,
                        help="env steps per timed run of the gymnasium sync rows (default: --steps, cut to about "
                             "20000 env steps per run, at least 5)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (median reported)")
    parser.add_argument("--field", choices=("auto", "port_hamiltonian", "physics"), default="auto",
                        help="the learned model's field (auto: PortHamiltonianField when hnn.nn has it)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--device", default="cpu", help="device of the learned env (default cpu)")
    args = parser.parse_args(argv)
    try:
        args.num_envs = [int(n) for n in args.num_envs.split(",")]
    except ValueError:
        parser.error(f"--num-envs must be comma-separated integers, got {args.num_envs!r}")
    for name in ("steps", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if any(n < 1 for n in args.num_envs) or (args.real_steps is not None and args.real_steps < 1):
        parser.error("--num-envs and --real-steps must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, description = measure(args.env, args.num_envs, steps=args.steps, real_steps=args.real_steps,
                                repeats=args.repeats, field=args.field, device=args.device)
    print(format_table(rows, args.env, description))
    return 0


if __name__ == "__main__":
    sys.exit(main())
