#!/usr/bin/env python
"""Benchmark: rollout throughput of a trained HNN through ``hnn.integrate`` vs torchdiffeq, equal evaluations.

    python scripts/bench_rollout.py                       # shipped hnn_spring, batch 4096, 10 RK4 steps
    python scripts/bench_rollout.py --checkpoint runs/hnn_spring/version_0/checkpoints/last.ckpt --repeats 7

The model is a trained HNN (default: the shipped pretrained ``hnn_spring``, ``hnn.load_pretrained``; or any
checkpoint through ``hnn.load``); its field J∇H_θ (``hnn.nn.HamiltonianField``) needs ∇H_θ at every evaluation.
Every variant integrates the same 4096 starting states (the spring's training distribution) over the same grid
with classical fourth-order Runge-Kutta, one step per interval: 4 field evaluations per step on both sides
(counted on the field's energy network and printed, so "equal evaluations" is checked, not assumed). Variants:

- ``hnn.integrate(field, ...)`` under ``torch.no_grad()`` — what ``model.rollout`` / evaluation code does: each ∇H
  is taken by explicit backpropagation through the energy MLP (``hnn.nn.MLP.input_gradient``: the same matrix
  products, no autograd graph at all);
- ``torchdiffeq.odeint`` called the usual way (grad mode on, as in torchdiffeq's examples and the HNN paper's
  code): ∇H is taken with ``create_graph=True``, so the graph of every step is kept until the rollout is freed;
- for transparency, ``torchdiffeq.odeint`` under ``torch.no_grad()`` with the same graph-free field (so this row
  isolates the solvers' own overhead), and
  ``hnn.integrate`` with grad mode on (differentiable rollout, graph kept).

Reported (``hnn.experiments.timing.time_calls``, variants one after another): median wall time over ``--repeats``
runs (after one warm-up; each run's output is freed outside the timed region), states·steps per second, field
evaluations, whether the output carries a graph, the process's peak resident memory after each variant (the
graph-free variants run first, so a jump is the kept graph), and the speed-up of ``hnn.integrate`` (no grad) over torchdiffeq
(grad mode) — the goal is 1.5x. ``main(argv)`` is the entry point.
"""
from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path
from typing import Callable

import torch

from hnn.experiments.timing import time_calls

DEFAULT_PRETRAINED = "hnn_spring"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--checkpoint", default=None,
                        help="a trained HNN checkpoint (default: the shipped pretrained --pretrained model)")
    parser.add_argument("--pretrained", default=DEFAULT_PRETRAINED,
                        help=f"shipped pretrained model used without --checkpoint (default {DEFAULT_PRETRAINED})")
    parser.add_argument("--batch", type=int, default=4096, help="number of states rolled out together")
    parser.add_argument("--steps", type=int, default=10,
                        help="RK4 steps, one per output interval (default 10: the graph-keeping variants hold "
                             "~50 MB per field evaluation at batch 4096, ~2 GB for 10 steps)")
    parser.add_argument("--dt", type=float, default=0.05, help="step size")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    args = parser.parse_args(argv)
    for name in ("batch", "steps", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if not args.dt > 0:
        parser.error("--dt must be > 0")
    return args


class EvalCounter:
    """Counts field evaluations of an HNN: forward calls of its energy network (autograd ∇H) plus calls of its
    ``input_gradient`` (the graph-free ∇H by explicit backpropagation, which does not call forward)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.count = 0
        self.handle = module.register_forward_hook(self._hook)
        original = getattr(module, "input_gradient", None)
        if callable(original):
            def counted(x: torch.Tensor) -> torch.Tensor | None:
                result = original(x)
                if result is not None:
                    self.count += 1
                return result

            module.input_gradient = counted  # instance attribute: shadows the method for this model only

    def _hook(self, *_: object) -> None:
        self.count += 1


def time_variant(run: Callable[[], torch.Tensor], counter: EvalCounter, repeats: int) -> dict[str, object]:
    """Median wall time of ``run`` over ``repeats`` calls after one warm-up (allocator, autograd, torchdiffeq's
    first-call setup); field evaluations per call and whether the output carries a graph; peak RSS so far."""
    warmup = 1
    counter.count = 0
    timing = time_calls(run, repeats=repeats, warmup=warmup)
    has_graph = timing.result.grad_fn is not None
    timing.result = None  # free the last rollout (and its graph) before the next variant runs
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    return {"seconds": timing.median, "spread": (timing.minimum, timing.maximum),
            "evals": counter.count // (repeats + warmup), "graph": has_graph, "peak_mb": peak_mb}


def load_model(checkpoint: str | None, pretrained: str) -> torch.nn.Module:
    """The model to benchmark: ``hnn.load(checkpoint)``, or ``hnn.load_pretrained(pretrained)`` without one."""
    import hnn

    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint at {path}; train one with python scripts/train.py (default "
                                    "config: HNN on the spring) and pass --checkpoint")
        return hnn.load(path)
    return hnn.load_pretrained(pretrained)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    import torchdiffeq

    import hnn
    import hnn.systems
    from hnn.training.checkpoint import CheckpointError

    source = args.checkpoint if args.checkpoint is not None else f"the shipped pretrained {args.pretrained!r}"
    try:
        model = load_model(args.checkpoint, args.pretrained)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except CheckpointError as err:
        print(f"error: cannot load {source}: {err}\n(or train one with python scripts/train.py and pass "
              "--checkpoint runs/.../checkpoints/last.ckpt)", file=sys.stderr)
        return 2
    hnn_field = getattr(model, "field", model)  # a DynamicsModule's injected field, or a bare field
    energy_net = getattr(hnn_field, "energy_net", None)
    if not callable(getattr(hnn_field, "hamiltonian", None)) or energy_net is None:
        print(f"error: {source} holds a {type(hnn_field).__name__}, not a Hamiltonian field (HNN)", file=sys.stderr)
        return 2
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    hnn_field = hnn_field.to(dtype).eval()
    dim = int(hnn_field.dim)
    system = hnn.systems.get("spring") if dim == 2 else None
    generator = torch.Generator().manual_seed(0)
    if system is not None:
        x0 = system.sample_initial(args.batch, generator, dtype=dtype)
    else:
        x0 = torch.randn(args.batch, dim, generator=generator, dtype=dtype)
    t = torch.arange(args.steps + 1, dtype=dtype) * args.dt
    counter = EvalCounter(energy_net)

    def field(_t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return hnn_field.vector_field(x)

    def ours_no_grad() -> torch.Tensor:
        with torch.no_grad():
            return hnn.integrate(hnn_field, x0, t, method="rk4")

    def ours_grad() -> torch.Tensor:
        return hnn.integrate(hnn_field, x0, t, method="rk4")

    def torchdiffeq_grad() -> torch.Tensor:
        return torchdiffeq.odeint(field, x0, t, method="rk4", options={"step_size": args.dt})

    def torchdiffeq_no_grad() -> torch.Tensor:
        with torch.no_grad():
            return torchdiffeq.odeint(field, x0, t, method="rk4", options={"step_size": args.dt})

    variants = [  # graph-free first, so that the peak-memory column shows what the kept graphs add
        ("hnn.integrate, no_grad (no graph kept)", ours_no_grad),
        ("torchdiffeq.odeint, no_grad (same graph-free field)", torchdiffeq_no_grad),
        ("torchdiffeq.odeint, grad mode (usual call)", torchdiffeq_grad),
        ("hnn.integrate, grad mode (differentiable)", ours_grad),
    ]
    print(f"Rollout benchmark: {type(hnn_field).__name__} from {source} (dim {dim}, {args.dtype}), batch "
          f"{args.batch}, RK4 {args.steps} steps of {args.dt:g}, {args.repeats} timed runs each, "
          f"{torch.get_num_threads()} thread(s)", flush=True)
    # same trajectories on both sides (different RK4 tableaus: classical vs torchdiffeq's 3/8 rule, both order 4)
    with torch.no_grad():
        gap = (ours_no_grad() - torchdiffeq_no_grad()).abs().max().item()
    results = {}
    for name, run in variants:
        results[name] = time_variant(run, counter, args.repeats)
        r = results[name]
        rate = args.batch * args.steps / r["seconds"]
        print(f"  {name:<52} {r['seconds'] * 1e3:9.1f} ms  (min {r['spread'][0] * 1e3:.1f}, max "
              f"{r['spread'][1] * 1e3:.1f})  {rate / 1e6:6.2f} M state-steps/s  {r['evals']:5d} evals  "
              f"graph kept: {'yes' if r['graph'] else 'no ':3}  peak RSS {r['peak_mb']:7.0f} MB", flush=True)
    counter.handle.remove()
    ours = results[variants[0][0]]
    theirs_ng = results[variants[1][0]]
    theirs = results[variants[2][0]]
    if ours["evals"] != theirs["evals"]:
        print(f"warning: unequal evaluations ({ours['evals']} vs {theirs['evals']})", file=sys.stderr)
    speedup = theirs["seconds"] / ours["seconds"]
    print(f"\nmax |difference| between the two RK4 rollouts: {gap:.2e} (order-4 schemes with different tableaus)")
    print(f"speed-up of hnn.integrate (no_grad) over torchdiffeq (grad mode), {ours['evals']} evaluations each: "
          f"{speedup:.2f}x  (goal >= 1.5x: {'met' if speedup >= 1.5 else 'NOT met'})")
    print(f"vs torchdiffeq under no_grad (solver overhead only): {theirs_ng['seconds'] / ours['seconds']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
