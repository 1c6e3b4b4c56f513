#!/usr/bin/env python
"""SAC trained only inside the learned Pendulum env, judged in the real Pendulum-v1 against SAC trained there.

    python scripts/policy.py --checkpoint runs/.../last.ckpt            # the protocol: 20 000 transitions per side
    python scripts/policy.py --train                                    # trains the learned model first
    python scripts/policy.py --train --quick --out /tmp/policy          # a smoke run (not the protocol)

The experiment is hnn/experiments/policy.py; the learned env and its stable-baselines3 adapter are in hnn/envs/.
"""
import sys

from hnn.experiments.policy import main

if __name__ == "__main__":
    sys.exit(main())
