#!/usr/bin/env python
"""Train a learned-dynamics model from a YAML config (LightningCLI).

    python scripts/train.py                                  # HNN on the paper's mass-spring, CPU, < 2 min
    python scripts/train.py --config configs/baseline_pendulum.yaml
    python scripts/train.py --model.init_args.hidden_dim 64 --trainer.max_steps 500
    python scripts/train.py --ckpt_path last                 # resume the newest last.ckpt of this run
    python scripts/train.py --print_config                   # show the full resolved config

Ends with a short evaluation: test loss, energy MSE of a rollout against the ground truth, where the checkpoint
and the phase-portrait plots are. See hnn/models/cli.py for the defaults (loggers, checkpoints, NaN guard).
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("WANDB_SILENT", "true")

from hnn.models.callbacks import NonFiniteLossError  # noqa: E402
from hnn.models.checkpoint import CheckpointError  # noqa: E402
from hnn.models.cli import run_training  # noqa: E402
from hnn.models.metrics import evaluate_energy  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    try:
        result = run_training(argv)
    except NonFiniteLossError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        return 1
    except (CheckpointError, FileNotFoundError, ValueError) as err:  # bad input: one clear message
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not result.trainer.is_global_zero:
        return 0
    model, data = result.model, result.datamodule
    lines = [f"\n== {type(model).__name__} on {getattr(data, 'task', type(data).__name__)}: {result.steps} steps "
             f"in {result.fit_seconds:.1f} s"]
    for name, value in sorted(result.test_metrics.items()):
        lines.append(f"   {name:<16} {value:.4e}")
    evaluation = None
    if result.evaluate and hasattr(model, "vector_field"):
        try:
            evaluation = evaluate_energy(model, data)
        except (ValueError, RuntimeError) as err:
            lines.append(f"   energy MSE       not computed ({err})")
    if evaluation is not None:
        lines.append(f"   energy MSE       {evaluation.report.energy_mse:.4e}   ({evaluation.protocol})")
        lines.append(f"   rollout MSE      {evaluation.report.state_mse:.4e}")
    elif result.evaluate and hasattr(model, "vector_field"):
        lines.append("   energy MSE       n/a (no ground-truth energy for this data)")
    lines.append(f"   checkpoint       {result.last_checkpoint or 'none (checkpointing off)'}")
    if hasattr(model, "vector_field"):
        lines.append(f"   phase portrait   {result.plot_path or 'none (no validation epoch ran)'}")
    if result.run_dir and os.path.isdir(result.run_dir):
        contents = [name for name in ("metrics.csv", "config.yaml", "wandb") if os.path.exists(
            os.path.join(result.run_dir, name))]
        lines.append(f"   run folder       {result.run_dir}" + (f"  ({', '.join(contents)})" if contents else ""))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
