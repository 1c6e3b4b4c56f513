#!/usr/bin/env python
"""Train a learned-dynamics model from a YAML config (LightningCLI); the same program as the installed ``hnn-train``.

    python scripts/train.py                                  # HNN on the paper's mass-spring, CPU, < 1 min
    python scripts/train.py --config configs/baseline_pendulum.yaml
    python scripts/train.py --model.init_args.field.init_args.hidden_dim 64 --trainer.max_steps 500
    python scripts/train.py --ckpt_path last                 # resume the newest last.ckpt of this run, in place
    python scripts/train.py --print_config                   # show the full resolved config

Ends with a summary: test loss, energy MSE of rollouts against the reference, the checkpoint, the figure and the
run folder. The program is hnn/training/cli.py (defaults, loggers, checkpoints, resume, NaN guard).
"""
import sys

from hnn.training.cli import main

if __name__ == "__main__":
    sys.exit(main())
