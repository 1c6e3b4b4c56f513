#!/usr/bin/env python
"""Open-loop accuracy of the learned gym envs: port-Hamiltonian model vs baseline, 3 seeds, 4 envs.

    python scripts/openloop.py                                  # the full experiment (results/openloop/)
    python scripts/openloop.py --envs pendulum --seeds 0 --quick --out /tmp/ol   # a smoke run (not a result)

The experiment is hnn/experiments/openloop.py; the protocol is in hnn/evaluation/openloop.py.
"""
import sys

from hnn.experiments.openloop import main

if __name__ == "__main__":
    sys.exit(main())
