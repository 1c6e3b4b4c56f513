#!/usr/bin/env python
"""Plot a trained EnergyModel: data histogram, learned density exp(−E)/Z and HMC samples (PNG).

    python scripts/plot_ebm.py runs/energymodel/version_0/checkpoints/last.ckpt --density eight_gaussians
"""
from __future__ import annotations

import argparse
import sys

import torch

from hnn.data.toy2d import DENSITIES, sample_toy2d
from hnn.models.energy import EnergyModel, plot_energy_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a Lightning checkpoint of hnn.models.EnergyModel")
    parser.add_argument("--density", default="eight_gaussians", choices=sorted(DENSITIES))
    parser.add_argument("--out", default="ebm_density.png")
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args(argv)
    model = EnergyModel.load_from_checkpoint(args.checkpoint, map_location="cpu", weights_only=True)
    data = sample_toy2d(args.density, 20000, torch.Generator().manual_seed(0))
    print(f"sampling {args.samples} points from the model and evaluating the density grid ...", flush=True)
    path = plot_energy_model(model, data, args.out, title=args.density, num_samples=args.samples)
    print(f"held-out NLL {float(model._nll(data[:2000])):.3f} nats; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
