#!/usr/bin/env python
"""Model-predictive control (CEM) through the true dynamics and the learned models, judged in the real envs.

    python scripts/control.py                                          # random and true-dynamics rows, 4 envs
    python scripts/control.py --train                                  # plus the learned rows (trains the models)
    python scripts/control.py --envs pendulum --checkpoint-hnn pendulum=runs/.../last.ckpt
    python scripts/control.py --envs cartpole --quick --out /tmp/ctl   # a smoke run (not the reference settings)

The experiment is hnn/experiments/control.py; the planner and the evaluation are in hnn/control/.
"""
import sys

from hnn.experiments.control import main

if __name__ == "__main__":
    sys.exit(main())
