#!/usr/bin/env python
"""Plot a trained EnergyModel: data histogram, learned density exp(−E)/Z and HMC samples (PNG), and its NLL.

    python scripts/plot_ebm.py runs/ebm_eight_gaussians/version_0/checkpoints/last.ckpt
    python scripts/plot_ebm.py last.ckpt --out results/ebm.png --samples 4000

The data are rebuilt as training built them: ``hnn.data.toy2d.Toy2DDataModule`` with the density, split sizes and
seed recorded in the checkpoint (``--density`` / ``--seed`` override them; without a record, the defaults of
``configs/ebm_toy2d.yaml``). Printed: the exact NLL −mean log p_θ(x) (log Z on the model's grid over its box,
``EnergyModel.nll``) of the held-out test split, and of the training split for comparison. The figure shows the
training split's histogram beside the learned density and ``--samples`` HMC samples.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import torch

from hnn.data.toy2d import DENSITIES, Toy2DDataModule

DATA_ARGS = ("density", "num_train", "num_val", "num_test", "seed")


def data_settings(checkpoint: str, density: str | None, seed: int | None) -> tuple[dict[str, Any], str]:
    """Toy2DDataModule arguments: the checkpoint's record, then the command-line overrides; and where they came from."""
    from hnn.training.checkpoint import read_checkpoint

    recorded = read_checkpoint(checkpoint).get("datamodule_hyper_parameters") or {}
    settings = {name: recorded[name] for name in DATA_ARGS if name in recorded}
    source = "recorded in the checkpoint" if settings else "not recorded in the checkpoint: defaults"
    overridden = [name for name, value in (("density", density), ("seed", seed)) if value is not None]
    if density is not None:
        settings["density"] = density
    if seed is not None:
        settings["seed"] = seed
    if overridden:
        source += f"; {', '.join(overridden)} from the command line"
    return settings, source


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("checkpoint", help="a checkpoint of hnn.models.EnergyModel (loaded with hnn.load)")
    parser.add_argument("--density", default=None, choices=sorted(DENSITIES),
                        help="toy density of the data (default: the checkpoint's)")
    parser.add_argument("--seed", type=int, default=None, help="data seed (default: the checkpoint's, else 0)")
    parser.add_argument("--out", default="ebm_density.png", help="PNG to write (default ebm_density.png)")
    parser.add_argument("--samples", type=int, default=2000, help="HMC samples drawn from the model (default 2000)")
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error(f"--samples must be >= 1, got {args.samples}")
    if args.seed is not None and args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    if not args.out.lower().endswith(".png"):
        parser.error(f"--out must name a .png file, got {args.out!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import hnn
    from hnn.evaluation.figures import draw_energy_model
    from hnn.models import EnergyModel
    from hnn.training.checkpoint import CheckpointError

    start = time.perf_counter()
    print(f"loading {args.checkpoint} ...", flush=True)
    try:
        model = hnn.load(args.checkpoint, expected_class=EnergyModel)
        settings, source = data_settings(args.checkpoint, args.density, args.seed)
    except (FileNotFoundError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if model.hparams.dim != 2:
        print(f"error: {args.checkpoint} holds a {model.hparams.dim}-d EnergyModel; the figure and the grid NLL "
              "need 2-d data", file=sys.stderr)
        return 2
    data = Toy2DDataModule(**settings)
    density, seed = data.hparams.density, data.hparams.seed
    print(f"data: {density}, seed {seed}, {len(data.train_x)} train / {len(data.val_x)} val / {len(data.test_x)} "
          f"test points ({source})", flush=True)
    with torch.no_grad():
        test_nll = float(model.nll(data.test_x))
        train_nll = float(model.nll(data.train_x))
    print(f"sampling {args.samples} points from the model ({model.hparams.box:g}-box start, HMC) and evaluating "
          "the density grid ...", flush=True)
    path = draw_energy_model(model, data.train_x, args.out, title=density, num_samples=args.samples,
                             data_label="training data")
    seconds = time.perf_counter() - start
    box, grid = model.hparams.box, model.hparams.grid_size
    print(f"\nEnergyModel on {density} (data seed {seed}); NLL = −mean log p(x), log Z on a {grid}×{grid} grid over "
          f"[−{box:g}, {box:g}]²:")
    print(f"  test split  ({len(data.test_x):5d} held-out points)  NLL {test_nll:.3f} nats")
    print(f"  train split ({len(data.train_x):5d} points)            NLL {train_nll:.3f} nats")
    print(f"  figure      {os.fspath(path)}")
    print(f"  wall time   {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
