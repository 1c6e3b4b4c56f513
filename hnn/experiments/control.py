"""Model-predictive control through learned dynamics, judged in the real envs: ``python scripts/control.py``.

For each env and each row, episodes in the real gymnasium env from ``reset(seed=s)`` for every evaluation seed,
run side by side (:mod:`hnn.control.evaluate`):

- ``random``:   uniformly random actions (``env.action_space.sample()``, seeded);
- ``true``:     the CEM planner (:mod:`hnn.control`) planning through the exact batched copy of the env from
  ``env.unwrapped.state``;
- ``hnn``:      the same planner through the learned port-Hamiltonian model (``configs/phnn_gym_<env>.yaml``);
- ``baseline``: the same planner through the learned baseline (``configs/baseline_gym_<env>.yaml``).

The learned rows run when a model is available: ``--checkpoint-hnn ENV=PATH`` / ``--checkpoint-baseline ENV=PATH``
(repeatable: one row per checkpoint), or ``--train``, which trains one model per training seed (``--train-seeds``,
default 0 1 2) and per data size (``--transitions``, default the config's 10 000 real transitions) through the
training program (:func:`hnn.training.cli.run_training`). The training data are the configs' non-expert
transitions (smooth random actions from wide starts, collection seed = training seed); evaluation seeds 0–9 are
gymnasium reset seeds, a different stream from the collection's. Every planner row uses the env's
:data:`hnn.control.REFERENCE_SETTINGS` (``--quick``: :data:`hnn.control.QUICK_SETTINGS`, two seeds, one training
seed, episodes cut at 50 steps — a smoke run, not the reference protocol). ``--jobs 2`` runs the (env, row, model)
units in two worker processes.

Each row reports the mean ± sample standard deviation (ddof = 1) of the return over seeds, how many episodes
terminated (Acrobot: reached the line; MountainCarContinuous: reached the goal; CartPole: the pole fell or the cart
left the track), and the normalised score (R − R_random)/(R_true − R_random), with R_random this invocation's
random row and R_true the higher of this invocation's true-dynamics row and :data:`REFERENCE` (this run's row only
under ``--quick``). Learned rows also report their training seed, the real transitions the model was trained on
(train + validation + test, all collected from the env) and the share of them where a clip or a wall acted. Per
(env, model, data size): the mean and the worst normalised score over the training seeds against :data:`GOALS`.
With several ``--transitions`` the data-efficiency table and ``data_efficiency.png`` (score against transitions,
both models, the range over training seeds shaded) are written too; ``--merge`` adds the rows of earlier runs'
``results.json`` to the tables and the plot. Writes ``control.md`` (the tables) and
``results.json`` (every episode; rewritten as each row finishes, with ``"complete": false`` until the run ends) to
``--out``, atomically.
"""
from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from hnn.control import (QUICK_SETTINGS, REFERENCE_SETTINGS, Episode, PlannerSettings, evaluate, learned_dynamics,
                         make_planner, mean_std, true_dynamics)
from hnn.experiments.jobs import run_jobs
from hnn.io import atomic_write_text
from hnn.paths import config_file
from hnn.validate import check_choice, check_int

__all__ = ["ENVS", "ROWS", "REFERENCE", "GOALS", "ControlUnit", "ControlRow", "parse_args", "training_argv",
           "train", "train_model", "run_row", "run_unit", "merged_rows", "normalise", "format_table", "summary",
           "plot_data_efficiency", "pretrained_name", "export_pretrained", "main"]

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
# seconds of one learned row (training + 10 planned episodes, one job of two on 2 cores) as measured by the
# 10 000-transition runs: only used to start the longest rows first, so the workers finish together
ROW_SECONDS = {("Pendulum-v1", "hnn"): 500, ("Pendulum-v1", "baseline"): 450, ("Acrobot-v1", "hnn"): 1150,
               ("Acrobot-v1", "baseline"): 85, ("CartPole-v1", "hnn"): 1600, ("CartPole-v1", "baseline"): 400,
               ("MountainCarContinuous-v0", "hnn"): 800, ("MountainCarContinuous-v0", "baseline"): 550}
ENDED = {"Pendulum-v1": None, "Acrobot-v1": "reached", "CartPole-v1": "fell", "MountainCarContinuous-v0": "reached"}
# the goal on the normalised score of the learned Hamiltonian model (mean over training seeds); None: reported only
GOALS: dict[str, float | None] = {"Pendulum-v1": 0.95, "Acrobot-v1": 0.8, "CartPole-v1": 0.95,
                                  "MountainCarContinuous-v0": None}
BUDGET = 10_000  # real transitions per model in the configs
QUICK_SEEDS = [0, 1]
QUICK_MAX_STEPS = 50



@dataclass(frozen=True)
class ControlUnit:
    """One row to run: plain data, so it can go to a worker process. A learned row trains its model unless
    ``checkpoint`` is given."""

    env: str
    row: str
    seeds: tuple[int, ...]
    settings: PlannerSettings
    out: str
    max_steps: int | None = None
    quick: bool = False
    checkpoint: str | None = None
    train_seed: int | None = None
    transitions: int | None = None  # None: the config's


@dataclass
class ControlRow:
    """One (env, row[, model]): its episodes and summary."""

    env: str
    row: str
    settings: dict[str, Any] | None
    episodes: list[Episode]
    seconds: float
    checkpoint: str | None = None
    train_seed: int | None = None
    transitions: int | None = None
    constrained_share: float | None = None
    train_seconds: float | None = None
    mean: float = field(init=False)
    std: float | None = field(init=False)
    normalised: float | None = None

    def __post_init__(self) -> None:
        self.mean, self.std = mean_std([e.ret for e in self.episodes])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ControlRow":
        """The row of :meth:`as_dict` (its normalised score is recomputed by :func:`normalise`)."""
        try:
            row = cls(env=_env_id(data["env"]), row=check_choice("row", data["row"], ROWS), settings=data["settings"],
                      episodes=[Episode(**e) for e in data["episodes"]], seconds=float(data["seconds"]),
                      checkpoint=data.get("checkpoint"), train_seed=data.get("train_seed"),
                      transitions=data.get("transitions"), constrained_share=data.get("constrained_share"),
                      train_seconds=data.get("train_seconds"))
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a row of control.py's results.json: {err}") from err
        return row

    @property
    def terminated(self) -> int:
        return sum(e.terminated for e in self.episodes)

    def as_dict(self) -> dict[str, Any]:
        return {"env": self.env, "row": self.row, "label": ROWS[self.row], "settings": self.settings,
                "checkpoint": self.checkpoint, "train_seed": self.train_seed, "transitions": self.transitions,
                "constrained_share": self.constrained_share, "train_seconds": self.train_seconds,
                "mean": self.mean, "std": self.std, "normalised": self.normalised, "terminated": self.terminated,
                "seconds": self.seconds, "episodes": [e.as_dict() for e in self.episodes]}


def _env_id(name: str) -> str:
    if name in ENVS.values():
        return name
    return ENVS[check_choice("env", name, list(ENVS) + list(ENVS.values()))]


def _env_key(env_id: str) -> str:
    return next(k for k, v in ENVS.items() if v == env_id)


def _checkpoint_map(option: str, items: Sequence[str] | None) -> dict[str, list[str]]:
    paths: dict[str, list[str]] = {}
    for item in items or []:
        env, sep, path = item.partition("=")
        if not sep or not path:
            raise ValueError(f"{option} takes ENV=PATH (e.g. pendulum=runs/phnn/last.ckpt), got {item!r}")
        env_id = _env_id(env)
        if not Path(path).is_file():
            raise ValueError(f"{option} {item!r}: no such file {path!r}")
        paths.setdefault(env_id, []).append(path)
    return paths


def training_argv(env_id: str, model: str, root: str | Path, seed: int = 0, quick: bool = False,
                  transitions: int | None = None) -> list[str]:
    """The training program's arguments for the ``model`` (``"hnn"`` or ``"baseline"``) of ``env_id``: its shipped
    config, ``seed`` for the weights and the data collection, ``transitions`` real transitions (None: the
    config's). ``quick``: 50 steps on 2000 transitions (a smoke run, not a usable model)."""
    check_choice("model", model, MODEL_CONFIGS)
    check_int("seed", seed, minimum=0)
    key = _env_key(_env_id(env_id))
    size = "" if transitions is None else f"_n{check_int('transitions', transitions, minimum=2)}"
    argv = ["--config", str(config_file(f"{MODEL_CONFIGS[model]}_{key}")),
            "--seed_everything", str(seed), "--data.init_args.seed", str(seed), "--data.init_args.verbose", "false",
            "--trainer.default_root_dir", str(root), "--run_name", f"{model}_{key}{size}_seed{seed}",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--evaluate", "false"]
    if quick:
        argv += ["--trainer.max_steps", "50", "--data.init_args.n_transitions", "2000"]
    if transitions is not None:
        argv += ["--data.init_args.n_transitions", str(transitions)]
    return argv


def train(env_id: str, model: str, root: str | Path, seed: int = 0, quick: bool = False,
          transitions: int | None = None) -> Any:
    """Train the ``model`` of ``env_id`` (:func:`training_argv`); the :class:`hnn.training.cli.TrainingResult`,
    which has written a checkpoint."""
    from hnn.training.cli import run_training

    result = run_training(training_argv(env_id, model, root, seed, quick, transitions))
    if result.last_checkpoint is None:
        raise RuntimeError(f"training the {model} model of {env_id} wrote no checkpoint")
    return result


def train_model(env_id: str, model: str, root: str | Path, seed: int = 0, quick: bool = False,
                transitions: int | None = None) -> str:
    """Train the ``model`` of ``env_id`` (:func:`train`); the checkpoint path."""
    return str(train(env_id, model, root, seed, quick, transitions).last_checkpoint)


def run_row(env_id: str, row: str, seeds: Sequence[int], settings: PlannerSettings | None = None,
            model: Any = None, max_steps: int | None = None, log: Any = print, tag: str = "") -> ControlRow:
    """The episodes of one row (``random``, ``true``, or a learned row with its ``model``) over ``seeds``, run side
    by side; progress lines go to ``log`` (``tag`` names the model in them)."""
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
    name = f"{row}{tag}"

    def report(episode: Episode) -> None:
        log(f"  [{time.perf_counter() - start:6.0f} s] {env_id:<24} {name:<16} seed {episode.seed}: return "
            f"{episode.ret:9.2f} in {episode.steps:3d} steps{' (terminated)' if episode.terminated else ''}")

    last = [start]

    def progress(steps: int, live: int) -> None:  # a line every 30 s while the episodes run side by side
        now = time.perf_counter()
        if live and now - last[0] >= 30.0:
            last[0] = now
            log(f"  [{now - start:6.0f} s] {env_id:<24} {name:<16} step {steps}, {live} of {len(seeds)} episodes "
                "running")

    episodes = evaluate(env_id, planner, seeds, max_steps=max_steps, on_episode=report, on_step=progress)
    used = None if row == "random" else (settings or REFERENCE_SETTINGS[env_id]).as_dict()
    return ControlRow(env=env_id, row=row, settings=used, episodes=episodes, seconds=time.perf_counter() - start)


def _log(line: str) -> None:
    print(line, flush=True)


def run_unit(unit: ControlUnit) -> ControlRow:
    """Run one :class:`ControlUnit`: train (or load) its model if it is a learned row, then its episodes."""
    model, checkpoint, train_seconds, share, transitions = None, unit.checkpoint, None, None, unit.transitions
    tag = ""
    if unit.row in MODEL_CONFIGS:
        from hnn.models.dynamics import DynamicsModule
        from hnn.training.checkpoint import load

        if checkpoint is None:
            from hnn.experiments.table1 import quiet_training

            seed = 0 if unit.train_seed is None else unit.train_seed
            size = "" if transitions is None else f", {transitions} transitions"
            _log(f"  training the {unit.row} model of {unit.env} (seed {seed}{size})")
            with quiet_training(wandb=False):
                result = train(unit.env, unit.row, Path(unit.out) / "runs", seed, unit.quick, transitions)
            checkpoint, train_seconds = str(result.last_checkpoint), result.seconds
            share = result.datamodule.constrained_share
            transitions = int(result.datamodule.hparams.n_transitions)
            _log(f"  trained the {unit.row} model of {unit.env} (seed {seed}{size}) in {train_seconds:.0f} s: "
                 f"{transitions} real transitions, {100 * share:.2f} % constrained")
        model = load(checkpoint, expected_class=DynamicsModule)
        tag = "" if unit.train_seed is None else f" seed {unit.train_seed}"
        if unit.transitions is not None:
            tag += f" n {unit.transitions}"
    row = run_row(unit.env, unit.row, list(unit.seeds), unit.settings, model=model, max_steps=unit.max_steps,
                  log=_log, tag=tag)
    row.checkpoint, row.train_seed, row.transitions = checkpoint, unit.train_seed, transitions
    row.constrained_share, row.train_seconds = share, train_seconds
    return row


def merged_rows(paths: Sequence[str | Path], settings: dict[str, PlannerSettings]) -> list[ControlRow]:
    """The rows of earlier runs' ``results.json`` files; ValueError for a row planned with other settings."""
    rows = []
    for path in paths:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        for item in data.get("rows", []):
            row = ControlRow.from_dict(item)
            if row.settings is not None and row.settings != settings[row.env].as_dict():
                raise ValueError(f"--merge {path}: its {row.env} {row.row} row was planned with {row.settings}, "
                                 f"this run with {settings[row.env].as_dict()}")
            rows.append(row)
    return rows


def normalise(rows: list[ControlRow], quick: bool = False) -> None:
    """Set each row's normalised score (module docstring) from the env's random and true rows."""
    for env in {r.env for r in rows}:
        low = next((r for r in rows if r.env == env and r.row == "random"), None)
        high = next((r for r in rows if r.env == env and r.row == "true"), None)
        if low is None or high is None:
            continue
        top = high.mean if quick else max(high.mean, REFERENCE[env]["true"][0])
        for r in rows:
            if r.env == env and top != low.mean:
                r.normalised = (r.mean - low.mean) / (top - low.mean)


def _pm(mean: float, std: float | None) -> str:
    digits = 1 if abs(mean) < 100 else 0
    return f"{mean:.{digits}f}" + ("" if std is None else f" ± {std:.{digits}f}")


def _row_key(r: ControlRow) -> tuple:
    return (list(ENVS.values()).index(r.env), list(ROWS).index(r.row), r.transitions or 0,
            -1 if r.train_seed is None else r.train_seed, r.checkpoint or "")


def summary(rows: Sequence[ControlRow]) -> list[dict[str, Any]]:
    """Per (env, learned row, data size): the normalised scores over the models, their mean and worst, and the
    env's goal (:data:`GOALS`; judged for the Hamiltonian model)."""
    groups: dict[tuple, list[ControlRow]] = {}
    for r in sorted(rows, key=_row_key):
        if r.row in MODEL_CONFIGS and r.normalised is not None:
            groups.setdefault((r.env, r.row, r.transitions), []).append(r)
    out = []
    for (env, row, transitions), members in groups.items():
        scores = [m.normalised for m in members]
        goal = GOALS[env] if row == "hnn" else None
        mean = sum(scores) / len(scores)
        out.append({"env": env, "row": row, "transitions": transitions,
                    "train_seeds": [m.train_seed for m in members], "normalised": scores, "mean": mean,
                    "worst": min(scores), "goal": goal, "met": None if goal is None else mean >= goal,
                    "returns": [m.mean for m in members]})
    return out


def format_table(rows: Sequence[ControlRow], quick: bool = False) -> str:
    """Markdown: one line per row (in the order of :data:`ENVS` and :data:`ROWS`), then the per-model summary."""
    lines = ["| env | policy | training seed | real transitions (constrained) | return (mean ± sample std) | seeds | "
             "terminated | normalised | reference | s / episode | row s |", "|" + "---|" * 11]
    for r in sorted(rows, key=_row_key):
        ended = ENDED[r.env]
        term = "–" if ended is None else f"{ended} {r.terminated}/{len(r.episodes)}"
        ref = REFERENCE[r.env].get(r.row)
        data = "–" if r.transitions is None else (
            f"{r.transitions}" + ("" if r.constrained_share is None else f" ({100 * r.constrained_share:.1f} %)"))
        seed = "–" if r.train_seed is None else str(r.train_seed)
        if r.row in MODEL_CONFIGS and r.train_seed is None:
            seed = "checkpoint"
        cells = [r.env, ROWS[r.row], seed, data, _pm(r.mean, r.std), str(len(r.episodes)), term,
                 "–" if r.normalised is None else f"{r.normalised:.3f}",
                 "–" if ref is None or quick else _pm(*ref),
                 f"{r.seconds / len(r.episodes):.1f}", f"{r.seconds:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    groups = summary(rows)
    if groups:
        lines += ["", "| env | model | real transitions | normalised per model | mean | worst | goal |",
                  "|" + "---|" * 7]
        for g in groups:
            goal = "–" if g["goal"] is None else f"≥ {g['goal']:g}: {'met' if g['met'] else 'MISSED'}"
            lines.append(f"| {g['env']} | {ROWS[g['row']]} | {g['transitions'] or '–'} | "
                         f"{', '.join(f'{s:.3f}' for s in g['normalised'])} | {g['mean']:.3f} | {g['worst']:.3f} | "
                         f"{goal} |")
    settings = QUICK_SETTINGS if quick else REFERENCE_SETTINGS
    notes = ["", "Planner settings" + (" (QUICK: not the reference settings; episodes cut at "
                                       f"{QUICK_MAX_STEPS} steps)" if quick else "") + ":"]
    notes += [f"- {env}: {settings[env].describe()}" for env in ENVS.values() if any(r.env == env for r in rows)]
    top = "this run's true row" if quick else "the higher of this run's true row and the reference"
    notes.append("- std: sample standard deviation over seeds (ddof = 1); normalised: (R − R_random)/(R_true − "
                 f"R_random) with this run's random row and R_true {top}; terminated: Acrobot reached the line, MountainCar the goal, CartPole's pole fell; "
                 "real transitions: all the model was trained on (train + validation + test), constrained: the "
                 "share where a clip or a wall acted; s / episode: the row's wall time over its episodes (the "
                 "episodes of a row run side by side, planned in one batch).")
    return "\n".join(lines + notes)


def plot_data_efficiency(rows: Sequence[ControlRow], path: str | Path) -> str | None:
    """``data_efficiency.png``: normalised score against real transitions per env (one panel each), both models,
    the median over training seeds as a line and their range shaded. None when fewer than two data sizes."""
    groups = [g for g in summary(rows) if g["transitions"] is not None]
    envs = [env for env in ENVS.values() if len({g["transitions"] for g in groups if g["env"] == env}) > 1]
    if not envs:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hnn.io import atomic_save_figure

    fig, axes = plt.subplots(1, len(envs), figsize=(5.0 * len(envs), 3.8), squeeze=False)
    colours = {"hnn": "tab:blue", "baseline": "tab:orange"}
    for ax, env in zip(axes[0], envs):
        for row in MODEL_CONFIGS:
            g = sorted((g for g in groups if g["env"] == env and g["row"] == row), key=lambda g: g["transitions"])
            if not g:
                continue
            n = [x["transitions"] for x in g]
            median = [statistics.median(x["normalised"]) for x in g]
            ax.fill_between(n, [min(x["normalised"]) for x in g], [max(x["normalised"]) for x in g],
                            color=colours[row], alpha=0.2, linewidth=0)
            ax.plot(n, median, "o-", color=colours[row],
                    label=f"{ROWS[row].replace('CEM, ', '')} (median, range over {len(g[0]['normalised'])} seeds)")
        goal = GOALS[env]
        if goal is not None:
            ax.axhline(goal, color="grey", linestyle="--", linewidth=1, label=f"goal {goal:g}")
        ax.axhline(1.0, color="grey", linewidth=0.5, zorder=0)
        ax.set_xscale("log")
        sizes = sorted({x["transitions"] for x in groups if x["env"] == env})
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("real transitions the model was trained on")
        ax.set_ylabel("normalised planner score")
        ax.set_title(f"{env}: CEM through the learned model")
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=120)
    plt.close(fig)
    return str(path)


def pretrained_name(env_id: str, row: str) -> str:
    """The shipped name of the controlled model of ``env_id``: its config's stem (``phnn_gym_pendulum``)."""
    return f"{MODEL_CONFIGS[check_choice('row', row, MODEL_CONFIGS)]}_{_env_key(_env_id(env_id))}"


def export_pretrained(rows: Sequence[ControlRow], directory: str | Path, command: str) -> list[str]:
    """Ship the training-seed-0 models of the learned rows trained on the config's data (no ``--transitions``) as
    :func:`pretrained_name` into ``directory`` (:func:`hnn.training.pretrained.export_pretrained_model`), with their
    open-loop accuracy (:func:`hnn.evaluation.openloop.open_loop_accuracy`, its default protocol) and this run's
    planner score as metrics; the names written."""
    from hnn.evaluation.openloop import open_loop_accuracy
    from hnn.models.dynamics import DynamicsModule
    from hnn.training.checkpoint import load
    from hnn.training.pretrained import export_pretrained_model

    written = []
    for r in sorted(rows, key=_row_key):
        if r.row not in MODEL_CONFIGS or r.train_seed != 0 or r.checkpoint is None:
            continue
        if r.transitions != BUDGET:
            continue
        name = pretrained_name(r.env, r.row)
        report = open_loop_accuracy(load(r.checkpoint, expected_class=DynamicsModule), r.env)
        export_pretrained_model(r.checkpoint, directory, name, {
            "description": f"{ROWS[r.row].replace('CEM, ', '')} controlled model of {r.env}, training seed 0",
            "task": f"gym:{r.env}",
            "env_id": r.env,
            "seed": 0,
            "config": f"configs/{name}.yaml",
            "overrides": ["--seed_everything", "0", "--data.init_args.seed", "0"],
            "real_transitions": r.transitions,
            "metrics": {
                "open_loop_median_error_1": report.median_error(1),
                "open_loop_median_error_50": report.median_error(50),
                "open_loop_median_vpt": report.median_vpt,
                "open_loop_protocol": f"{report.k_step_error.shape[1]} wide starts, random actions, max-abs "
                                      f"observation error, VPT threshold {report.threshold:g}",
                "planner_return_mean": r.mean, "planner_return_std": r.std, "planner_normalised": r.normalised,
                "planner_seeds": [e.seed for e in r.episodes], "planner_settings": r.settings,
            },
            "evaluated_by": command,
        })
        written.append(name)
    return written


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="control.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(ENVS), help=f"of {', '.join(ENVS)} (or the gym ids)")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), help=f"of {', '.join(ROWS)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=None,
                        help="evaluation seeds (default 0-9; --quick: 0 1)")
    parser.add_argument("--checkpoint-hnn", action="append", metavar="ENV=PATH",
                        help="a learned Hamiltonian model of ENV (repeatable: one row per checkpoint)")
    parser.add_argument("--checkpoint-baseline", action="append", metavar="ENV=PATH",
                        help="a learned baseline of ENV (repeatable)")
    parser.add_argument("--train", action="store_true", help="train the learned models that were not given")
    parser.add_argument("--train-seeds", nargs="+", type=int, default=None,
                        help="training (and data-collection) seeds of the trained models (default 0 1 2; --quick: 0)")
    parser.add_argument("--transitions", nargs="+", type=int, default=None,
                        help="real transitions per trained model, one model per value (default: the config's "
                             "10000); several values add the data-efficiency table and plot")
    parser.add_argument("--max-steps", type=int, default=None, help="cut every episode after this many steps")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes, one row each (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job (default 1)")
    parser.add_argument("--out", default="results/control")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: small planner settings, 2 seeds, 50-step episodes (not the reference)")
    parser.add_argument("--merge", nargs="+", default=[], metavar="RESULTS",
                        help="add the rows of earlier runs' results.json (same planner settings) to this run's "
                             "tables and plot, normalised with this run's random and true rows (theirs are used "
                             "only for envs this run has none of)")
    parser.add_argument("--export-pretrained", default=None, metavar="DIR",
                        help="ship the training-seed-0 models trained on the config's data into DIR "
                             "(datasets/pretrained) with their open-loop and planner metrics")
    args = parser.parse_args(argv)
    args.envs = list(dict.fromkeys(_env_id(e) for e in args.envs))
    for row in args.rows:
        check_choice("--rows", row, ROWS)
    if args.seeds is None:
        args.seeds = QUICK_SEEDS if args.quick else list(range(10))
    for seed in args.seeds:
        check_int("--seeds", seed, minimum=0)
    if len(set(args.seeds)) != len(args.seeds):
        raise ValueError(f"--seeds must be distinct, got {args.seeds}")
    if args.train_seeds is None:
        args.train_seeds = [0] if args.quick else [0, 1, 2]
    for seed in args.train_seeds:
        check_int("--train-seeds", seed, minimum=0)
    for n in args.transitions or []:
        check_int("--transitions", n, minimum=2)
    if args.max_steps is None and args.quick:
        args.max_steps = QUICK_MAX_STEPS
    if args.max_steps is not None:
        check_int("--max-steps", args.max_steps, minimum=1)
    check_int("--jobs", args.jobs, minimum=1)
    check_int("--threads", args.threads, minimum=1)
    for path in args.merge:
        if not Path(path).is_file():
            raise ValueError(f"--merge: no such file {path!r}")
    args.checkpoints = {"hnn": _checkpoint_map("--checkpoint-hnn", args.checkpoint_hnn),
                        "baseline": _checkpoint_map("--checkpoint-baseline", args.checkpoint_baseline)}
    return args


def _units(args: argparse.Namespace) -> list[ControlUnit]:
    settings = QUICK_SETTINGS if args.quick else REFERENCE_SETTINGS
    learned, fixed = [], []
    for env_id in args.envs:
        common = dict(env=env_id, seeds=tuple(args.seeds), settings=settings[env_id], out=str(args.out),
                      max_steps=args.max_steps, quick=args.quick)
        for row in args.rows:
            if row not in MODEL_CONFIGS:
                fixed.append(ControlUnit(row=row, **common))
                continue
            paths = args.checkpoints[row].get(env_id, [])
            learned += [ControlUnit(row=row, checkpoint=path, **common) for path in paths]
            if not paths and args.train:
                learned += [ControlUnit(row=row, train_seed=seed, transitions=n, **common)
                            for n in (args.transitions or [None]) for seed in args.train_seeds]
            elif not paths:
                _log(f"  {env_id}: no {row} model (pass --checkpoint-{row} or --train): row skipped")
    learned.sort(key=lambda u: -ROW_SECONDS.get((u.env, u.row), 0))  # stable: longest first (ROW_SECONDS)
    return learned + fixed  # the long rows first, so the workers finish together


def main(argv: list[str] | None = None) -> int:
    """Run the rows, print progress and the tables, write ``control.md``, ``results.json`` (and the plot)."""
    args = parse_args(argv)
    out = Path(args.out)
    settings = QUICK_SETTINGS if args.quick else REFERENCE_SETTINGS
    command = "python scripts/control.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None
                                                                               else argv))
    units = _units(args)
    print(f"control: {', '.join(args.envs)}; rows {', '.join(args.rows)}; evaluation seeds "
          f"{' '.join(map(str, args.seeds))}; {len(units)} rows on {args.jobs} worker(s)"
          + ("; QUICK settings (not the reference)" if args.quick else "") + f" -> {out}", flush=True)
    start = time.perf_counter()

    done: list[ControlRow] = []

    def write_results(rows: list[ControlRow], complete: bool) -> None:
        payload = {"command": command, "complete": complete, "quick": args.quick, "seeds": args.seeds,
                   "max_steps": args.max_steps, "train_seeds": args.train_seeds, "transitions": args.transitions,
                   "std": "sample standard deviation over seeds (ddof = 1)",
                   "settings": {env: settings[env].as_dict() for env in args.envs},
                   "reference": {env: REFERENCE[env] for env in args.envs},
                   "rows": [r.as_dict() for r in sorted(rows, key=_row_key)], "summary": summary(rows),
                   "seconds": time.perf_counter() - start}
        atomic_write_text(out / "results.json", json.dumps(payload, indent=1) + "\n")

    def finished(index: int, row: ControlRow) -> None:
        model = "" if row.train_seed is None else f" (training seed {row.train_seed}" + (
            "" if row.transitions is None else f", {row.transitions} transitions") + ")"
        _log(f"  done [{time.perf_counter() - start:6.0f} s] {row.env} {ROWS[row.row]}{model}: "
             f"{_pm(row.mean, row.std)} over {len(row.episodes)} seeds ({row.seconds:.0f} s)")
        done.append(row)
        write_results(done, complete=False)  # a stopped run keeps the rows it finished ("complete": false)

    if args.jobs > 1 and len(units) > 1:
        rows = run_jobs(run_unit, units, jobs=args.jobs, threads=args.threads, on_result=finished)
    else:
        previous = torch.get_num_threads()
        torch.set_num_threads(args.threads)
        try:
            rows = []
            for index, unit in enumerate(units):
                rows.append(run_unit(unit))
                finished(index, rows[-1])
        finally:
            torch.set_num_threads(previous)
    own = {(r.env, r.row) for r in rows if r.row not in MODEL_CONFIGS}
    # merged random / true rows only stand in for envs this run has none of
    rows = list(rows) + [r for r in merged_rows(args.merge, settings) if (r.env, r.row) not in own]
    normalise(rows, quick=args.quick)
    table = format_table(rows, quick=args.quick)
    atomic_write_text(out / "control.md", table + "\n")
    figure = plot_data_efficiency(rows, out / "data_efficiency.png")
    write_results(rows, complete=True)
    if args.export_pretrained is not None:
        names = export_pretrained(rows, args.export_pretrained, command)
        _log(f"  shipped {', '.join(names) or 'no model'} to {args.export_pretrained}")
    print()
    print(table)
    print(f"\ntable:   {out / 'control.md'}\nresults: {out / 'results.json'}"
          + ("" if figure is None else f"\nfigure:  {figure}") + f"\nwall time: {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
