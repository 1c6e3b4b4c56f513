#!/usr/bin/env python
"""The Hamiltonian GAN against its twins (an MLP vector field, a GRU), judged by known physics.

    python scripts/evaluate_gan.py                          # spring + pendulum, 3 models, lr grid, 3 seeds
    python scripts/evaluate_gan.py --systems spring --jobs 2
    python scripts/evaluate_gan.py --quick --out /tmp/gan   # a smoke run (not a result)
    python scripts/evaluate_gan.py --prior runs/hgan_spring_seed*/checkpoints/last.ckpt   # the energy-based prior

The experiment is hnn/experiments/gan.py; the metrics are in hnn/evaluation/gan.py.
"""
import sys

from hnn.experiments.gan import main

if __name__ == "__main__":
    sys.exit(main())
