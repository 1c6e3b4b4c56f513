#!/usr/bin/env python
"""Reproduce Table 1 of Greydanus et al. 2019 (baseline vs HNN); the same program as the installed ``hnn-table1``.

    python scripts/evaluate.py                                 # train 3 seeds x 2 models x 4 tasks, evaluate
    python scripts/evaluate.py --tasks spring pendulum --seeds 0
    python scripts/evaluate.py --checkpoints datasets/pretrained --seeds 0   # evaluate the shipped seed-0 models
    python scripts/evaluate.py --quick --tasks spring --out /tmp/t1         # tiny smoke run (not a reproduction)

Writes table1.md, table1.png and results.json to --out (default results/table1/), training runs to <out>/runs/.
The experiment is hnn/experiments/table1.py; the protocols (two labelled energy columns: (a) the paper's analysis
notebooks exactly, (b) the system's true H from training-distribution starts) are in hnn/evaluation/table1.py.
"""
import sys

from hnn.experiments.table1 import main

if __name__ == "__main__":
    sys.exit(main())
