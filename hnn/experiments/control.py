"""Model-predictive control through learned dynamics, judged in the real envs: ``python scripts/control.py``.

For each env and each row, episodes in the real gymnasium env from ``reset(seed=s)`` for every evaluation seed
(:mod:`hnn.control.evaluate`):

- ``random``:   uniformly random actions (``env.action_space.sample()``, seeded);
- ``true``:     the CEM planner (:mod:`hnn.control`) planning through the exact batched copy of the env from
  ``env.unwrapped.state``;
- ``hnn``:      the same planner through the learned port-Hamiltonian model (``configs/phnn_gym_<env>.yaml``);
- ``baseline``: the same planner through the learned baseline (``configs/baseline_gym_<env>.yaml``).

The learned rows run when a model is available: ``--checkpoint-hnn ENV=PATH`` / ``--checkpoint-baseline ENV=PATH``,
or ``--train`` (trains the missing ones through the training program, :func:`hnn.training.cli.run_training`). Every
planner row uses the env's :data:`hnn.control.REFERENCE_SETTINGS` (``--quick``: :data:`hnn.control.QUICK_SETTINGS`,
two seeds and episodes cut at 50 steps — a smoke run, not the reference protocol).

Each row reports the mean ± sample standard deviation (ddof = 1) of the return over seeds, how many episodes
terminated (Acrobot: reached the line; MountainCarContinuous: reached the goal; CartPole: the pole fell or the cart
left the track), the normalised score (R − R_random)/(R_true − R_random) against this invocation's random and
true-dynamics rows, and the wall time. Writes ``control.md`` (the table) and ``results.json`` (every episode) to
``--out``, atomically.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from hnn.control import (QUICK_SETTINGS, REFERENCE_SETTINGS, Episode, PlannerSettings, evaluate, learned_dynamics,
                         make_planner, mean_std, true_dynamics)
from hnn.io import atomic_write_text
from hnn.paths import config_file
from hnn.validate import check_choice, check_int

__all__ = ["ENVS", "ROWS", "REFERENCE", "ControlRow", "parse_args", "run_row", "train_model", "format_table",
           "main"]

ENVS = {"pendulum": "Pendulum-v1", "acrobot": "Acrobot-v1", "cartpole": "CartPole-v1",
        "mountaincar": "MountainCarContinuous-v0"}
ROWS = {"random": "random policy", "true": "CEM, true dynamics", "hnn": "CEM, learned Hamiltonian",
        "baseline": "CEM, learned baseline"}
MODEL_CONFIGS = {"hnn": "phnn_gym", "baseline": "baseline_gym"}
# the reference figures (mean, std) over seeds 0-9 of the random policy and the planner on the true dynamics
REFERENCE: dict[str, dict[str, tuple[float, float]]] = {
    "Pendulum-v1": {"random": (-1223.0, 332.0), "true": (-129.0, 81.0)},
    "Acrobot-v1": {"random": (-500.0, 0.0), "true": (-87.0, 10.0)},
    "CartPole-v1": {"random": (21.0, 9.0), "true": (500.0, 0.0)},
    "MountainCarContinuous-v0": {"random": (-32.8, 1.0), "true": (96.3, 0.5)},
}
ENDED = {"Pendulum-v1": None, "Acrobot-v1": "reached", "CartPole-v1": "fell", "MountainCarContinuous-v0": "reached"}
QUICK_SEEDS = [0, 1]
QUICK_MAX_STEPS = 50


@dataclass
class ControlRow:
    """One (env, row): its episodes and summary."""

    env: str
    row: str
    settings: dict[str, Any] | None
    episodes: list[Episode]
    seconds: float
    checkpoint: str | None = None
    mean: float = field(init=False)
    std: float | None = field(init=False)
    normalised: float | None = None

    def __post_init__(self) -> None:
        self.mean, self.std = mean_std([e.ret for e in self.episodes])

    @property
    def terminated(self) -> int:
        return sum(e.terminated for e in self.episodes)

    def as_dict(self) -> dict[str, Any]:
        return {"env": self.env, "row": self.row, "label": ROWS[self.row], "settings": self.settings,
                "checkpoint": self.checkpoint, "mean": self.mean, "std": self.std, "normalised": self.normalised,
                "terminated": self.terminated, "seconds": self.seconds,
                "episodes": [e.as_dict() for e in self.episodes]}


def _env_id(name: str) -> str:
    if name in ENVS.values():
        return name
    return ENVS[check_choice("env", name, list(ENVS) + list(ENVS.values()))]


def _checkpoint_map(option: str, items: Sequence[str] | None) -> dict[str, str]:
    paths: dict[str, str] = {}
    for item in items or []:
        env, sep, path = item.partition("=")
        if not sep or not path:
            raise ValueError(f"{option} takes ENV=PATH (e.g. pendulum=runs/phnn/last.ckpt), got {item!r}")
        env_id = _env_id(env)
        if not Path(path).is_file():
            raise ValueError(f"{option} {item!r}: no such file {path!r}")
        paths[env_id] = path
    return paths


def train_model(env_id: str, model: str, root: str | Path, seed: int = 0, quick: bool = False) -> str:
    """Train the ``model`` (``"hnn"`` or ``"baseline"``) of ``env_id`` with its shipped config; the checkpoint path.

    ``quick``: 50 steps on 2000 transitions (a smoke run, not a usable model).
    """
    from hnn.training.cli import run_training

    key = next(k for k, v in ENVS.items() if v == env_id)
    argv = ["--config", str(config_file(f"{MODEL_CONFIGS[model]}_{key}")),
            "--seed_everything", str(seed), "--data.init_args.seed", str(seed), "--data.init_args.verbose", "false",
            "--trainer.default_root_dir", str(root), "--run_name", f"{model}_{key}_seed{seed}",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--evaluate", "false"]
    if quick:
        argv += ["--trainer.max_steps", "50", "--data.init_args.n_transitions", "2000"]
    result = run_training(argv)
    if result.last_checkpoint is None:
        raise RuntimeError(f"training the {model} model of {env_id} wrote no checkpoint")
    return str(result.last_checkpoint)


def run_row(env_id: str, row: str, seeds: Sequence[int], settings: PlannerSettings | None = None,
            model: Any = None, max_steps: int | None = None, log: Any = print) -> ControlRow:
    """The episodes of one row (``random``, ``true``, or a learned row with its ``model``) over ``seeds``."""
    check_choice("row", row, ROWS)
    start = time.perf_counter()
    if row == "random":
        planner = None
    elif row == "true":
        planner = make_planner(env_id, true_dynamics(env_id), settings)
    else:
        if model is None:
            raise ValueError(f"the {row} row needs a model")
        planner = make_planner(env_id, learned_dynamics(env_id, model), settings)

    def report(episode: Episode) -> None:
        log(f"  [{time.perf_counter() - start:6.0f} s] {env_id:<24} {row:<8} seed {episode.seed}: return "
            f"{episode.ret:9.2f} in {episode.steps:3d} steps{' (terminated)' if episode.terminated else ''}, "
            f"{episode.seconds:.1f} s")

    episodes = evaluate(env_id, planner, seeds, max_steps=max_steps, on_episode=report)
    used = None if row == "random" else (settings or REFERENCE_SETTINGS[env_id]).as_dict()
    return ControlRow(env=env_id, row=row, settings=used, episodes=episodes, seconds=time.perf_counter() - start)


def _normalise(rows: list[ControlRow]) -> None:
    for env in {r.env for r in rows}:
        by_row = {r.row: r for r in rows if r.env == env}
        low, high = by_row.get("random"), by_row.get("true")
        for r in by_row.values():
            if low is not None and high is not None and high.mean != low.mean:
                r.normalised = (r.mean - low.mean) / (high.mean - low.mean)


def _pm(mean: float, std: float | None) -> str:
    digits = 1 if abs(mean) < 100 else 0
    return f"{mean:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")


def format_table(rows: Sequence[ControlRow], quick: bool = False) -> str:
    """Markdown: one line per (env, row), in the order of :data:`ENVS` and :data:`ROWS`."""
    lines = ["| env | policy | return (mean ± sample std) | seeds | terminated | normalised | reference | "
             "s / episode | row s |", "|" + "---|" * 9]
    for env in ENVS.values():
        for key in ROWS:
            r = next((r for r in rows if r.env == env and r.row == key), None)
            if r is None:
                continue
            ended = ENDED[env]
            term = "–" if ended is None else f"{ended} {r.terminated}/{len(r.episodes)}"
            ref = REFERENCE[env].get(key)
            cells = [env, ROWS[key], _pm(r.mean, r.std), str(len(r.episodes)), term,
                     "–" if r.normalised is None else f"{r.normalised:.3f}",
                     "–" if ref is None or quick else _pm(*ref),
                     f"{r.seconds / len(r.episodes):.1f}", f"{r.seconds:.0f}"]
            lines.append("| " + " | ".join(cells) + " |")
    settings = QUICK_SETTINGS if quick else REFERENCE_SETTINGS
    notes = ["", "Planner settings" + (" (QUICK: not the reference settings; episodes cut at "
                                       f"{QUICK_MAX_STEPS} steps)" if quick else "") + ":"]
    notes += [f"- {env}: {settings[env].describe()}" for env in ENVS.values() if any(r.env == env for r in rows)]
    notes.append("- std: sample standard deviation over seeds (ddof = 1); normalised: (R − R_random)/(R_true − "
                 "R_random) with this run's rows; terminated: Acrobot reached the line, MountainCar the goal, "
                 "CartPole's pole fell.")
    return "\n".join(lines + notes)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="control.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(ENVS), help=f"of {', '.join(ENVS)} (or the gym ids)")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), help=f"of {', '.join(ROWS)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="evaluation seeds (default 0-9; --quick: 0 1)")
    parser.add_argument("--checkpoint-hnn", action="append", metavar="ENV=PATH",
                        help="the learned Hamiltonian model of ENV (repeat per env)")
    parser.add_argument("--checkpoint-baseline", action="append", metavar="ENV=PATH",
                        help="the learned baseline of ENV (repeat per env)")
    parser.add_argument("--train", action="store_true", help="train the learned models that were not given")
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, default=None, help="cut every episode after this many steps")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", default="results/control")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: small planner settings, 2 seeds, 50-step episodes (not the reference)")
    args = parser.parse_args(argv)
    args.envs = list(dict.fromkeys(_env_id(e) for e in args.envs))
    for row in args.rows:
        check_choice("--rows", row, ROWS)
    if args.seeds is None:
        args.seeds = QUICK_SEEDS if args.quick else list(range(10))
    for seed in args.seeds:
        check_int("--seeds", seed, minimum=0)
    if args.max_steps is None and args.quick:
        args.max_steps = QUICK_MAX_STEPS
    if args.max_steps is not None:
        check_int("--max-steps", args.max_steps, minimum=1)
    check_int("--threads", args.threads, minimum=1)
    args.checkpoints = {"hnn": _checkpoint_map("--checkpoint-hnn", args.checkpoint_hnn),
                        "baseline": _checkpoint_map("--checkpoint-baseline", args.checkpoint_baseline)}
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the rows, print progress and the table, write ``control.md`` and ``results.json``."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    settings = QUICK_SETTINGS if args.quick else REFERENCE_SETTINGS
    command = "python scripts/control.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None
                                                                               else argv))
    print(f"control: {', '.join(args.envs)}; rows {', '.join(args.rows)}; seeds {' '.join(map(str, args.seeds))}"
          + ("; QUICK settings (not the reference)" if args.quick else "") + f" -> {out}", flush=True)
    start = time.perf_counter()
    rows: list[ControlRow] = []

    def log(line: str) -> None:
        print(line, flush=True)

    for env_id in args.envs:
        for row in args.rows:
            model, path = None, None
            if row in MODEL_CONFIGS:
                path = args.checkpoints[row].get(env_id)
                if path is None and args.train:
                    from hnn.experiments.table1 import quiet_training

                    log(f"  training the {row} model of {env_id} (seed {args.train_seed})")
                    with quiet_training(wandb=False):
                        path = train_model(env_id, row, out / "runs", args.train_seed, args.quick)
                if path is None:
                    log(f"  {env_id}: no {row} model (pass --checkpoint-{row} or --train): row skipped")
                    continue
                from hnn.models.dynamics import DynamicsModule
                from hnn.training.checkpoint import load

                model = load(path, expected_class=DynamicsModule)
            result = run_row(env_id, row, args.seeds, settings[env_id], model=model, max_steps=args.max_steps,
                             log=log)
            result.checkpoint = path
            rows.append(result)
            log(f"  {env_id} {ROWS[row]}: {_pm(result.mean, result.std)} over {len(args.seeds)} seeds "
                f"({result.seconds:.0f} s)")
    _normalise(rows)
    table = format_table(rows, quick=args.quick)
    atomic_write_text(out / "control.md", table + "\n")
    payload = {"command": command, "quick": args.quick, "seeds": args.seeds, "max_steps": args.max_steps,
               "std": "sample standard deviation over seeds (ddof = 1)",
               "settings": {env: settings[env].as_dict() for env in args.envs},
               "reference": {env: REFERENCE[env] for env in args.envs},
               "rows": [r.as_dict() for r in rows], "seconds": time.perf_counter() - start}
    atomic_write_text(out / "results.json", json.dumps(payload, indent=1) + "\n")
    print()
    print(table)
    print(f"\ntable:   {out / 'control.md'}\nresults: {out / 'results.json'}\n"
          f"wall time: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
