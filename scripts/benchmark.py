"""Benchmarks (scripts that print figures; never timed tests).

    python scripts/benchmark.py integrators   # rollout throughput per method; ours vs torchdiffeq
    python scripts/benchmark.py training      # train.py's path vs a plain PyTorch loop
    python scripts/benchmark.py sampling      # HMC/NUTS vs Pyro on a 100-d Gaussian
    python scripts/benchmark.py optimizers    # Hamiltonian optimizer vs Adam vs SGD
    python scripts/benchmark.py rollout       # trained HNN rollout: hnn.integrate vs torchdiffeq
    python scripts/benchmark.py envs          # learned vector env vs gymnasium's vector env, env steps/s

Arguments after the benchmark's name go to that benchmark (``--help`` lists them).
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

BENCHMARKS = {
    "integrators": "bench_integrators",
    "training": "bench_training",
    "sampling": "bench_sampling",
    "optimizers": "bench_optimizers",
    "rollout": "bench_rollout",
    "envs": "bench_envs",
}


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmark's ``main`` with the remaining arguments; its exit status (0 when it returns None)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in BENCHMARKS:
        print(__doc__)
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: unknown benchmark {argv[0]!r}; choose one of: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        return 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    module = importlib.import_module(BENCHMARKS[argv[0]])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
