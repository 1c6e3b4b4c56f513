"""A policy trained only inside the learned Pendulum env, judged in the real Pendulum-v1: ``python scripts/policy.py``.

One invocation runs the whole comparison (needs the ``rl`` extra: stable-baselines3):

1. The learned model: a controlled model of Pendulum-v1 from ``--checkpoint PATH``, or ``--train`` (trained here
   by :func:`hnn.experiments.control.train_model` with ``configs/phnn_gym_pendulum.yaml``, seed ``--train-seed``),
   or by default the shipped pretrained model that ``hnn/LearnedPendulum-v1`` loads (:data:`hnn.envs.PRETRAINED`).
   Its real transitions are the ``n_transitions`` of the data module recorded in the checkpoint (train + val +
   test: every real transition the learned side ever saw).
2. ``learned``: SAC trained for ``--steps`` transitions only in ``hnn/LearnedPendulum-v1``, through
   :class:`hnn.envs.sb3.SB3VecEnvAdapter` (``--n-envs`` envs, wrapped in ``VecMonitor``); no real env is stepped.
3. ``real``: the same SAC configuration trained for the same number of transitions on the real Pendulum-v1
   (``DummyVecEnv`` of ``--n-envs`` ``gymnasium.make("Pendulum-v1")``, wrapped in ``VecMonitor``).
4. Both policies act deterministically (``predict(obs, deterministic=True)``) in the real Pendulum-v1
   (``gymnasium.make``, its 200-step time limit included) from ``env.reset(seed=s)`` for every evaluation seed
   (0–9); ``random`` is the uniformly random policy over the same seeds (:func:`hnn.control.random_episode`).

The SAC configuration (:data:`SAC_SETTINGS`) is rl-zoo's for Pendulum-v1 — ``MlpPolicy``, ``learning_rate`` 1e-3,
everything else stable-baselines3's defaults, ``n_timesteps`` 20 000 (the default ``--steps``) — run on
``--n-envs`` envs with ``train_freq`` 1 and ``gradient_steps`` −1: after every vector step, one gradient step per
collected transition (rl-zoo's one update per transition). Both sides use it unchanged. Both SAC runs are seeded
with ``--sac-seed`` (networks, exploration, replay sampling); their training envs reset from the seeds
:func:`training_env_seeds` (≥ :data:`TRAINING_ENV_SEED`), so no evaluation seed starts a training episode.

Scores (returns are negative for Pendulum, so "0.9 of the real return" needs a definition):

- ``normalised`` = (R_learned − R_random) / (R_real − R_random): the fraction of the real-env SAC's improvement
  over the random policy that the learned-env SAC achieves. **The goal is judged on this: normalised ≥ 0.9.**
- ``ratio`` = R_real / R_learned: the real-env SAC's cost as a fraction of the learned-env SAC's (1 when equal,
  below 1 when the learned-env policy is worse); reported alongside, with whether it is ≥ 0.9 too.

R is the mean return over the evaluation seeds; stds are sample standard deviations (ddof = 1). Reported per SAC
run: wall time of its training, real transitions used (learned: the model's training data; real: the SAC run's
transitions) and transitions in the learned env. Writes ``policy.md`` (the summary) and ``results.json`` (settings,
every episode) to ``--out``, atomically.

``--quick``: a smoke run, not the protocol — :data:`QUICK_STEPS` SAC transitions (unless ``--steps``), evaluation
seeds :data:`QUICK_SEEDS`, episodes cut at :data:`QUICK_MAX_STEPS` steps.
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
import torch

from hnn.io import atomic_write_text
from hnn.validate import check_int

__all__ = ["ENV_ID", "LEARNED_ENV_ID", "SAC_SETTINGS", "SEEDS", "GOAL", "TRAINING_ENV_SEED", "training_env_seeds",
           "model_transitions", "learned_vec_env", "real_vec_env", "train_sac", "policy_episode", "evaluate_policy",
           "scores", "format_summary", "parse_args", "main"]

ENV_ID = "Pendulum-v1"
LEARNED_ENV_ID = "hnn/LearnedPendulum-v1"
# rl-zoo's SAC hyperparameters for Pendulum-v1 (n_timesteps 20 000, the default --steps), plus the update schedule
# for several envs: one gradient step per collected transition
SAC_SETTINGS: dict[str, Any] = {"policy": "MlpPolicy", "learning_rate": 1e-3, "train_freq": 1, "gradient_steps": -1}
DEFAULT_STEPS = 20_000
DEFAULT_N_ENVS = 4
SEEDS = list(range(10))
GOAL = 0.9
TRAINING_ENV_SEED = 10_000  # training envs reset from TRAINING_ENV_SEED + n_envs·sac_seed + i, never an eval seed
QUICK_STEPS = 300
QUICK_SEEDS = [0, 1]
QUICK_MAX_STEPS = 50
PROGRESS_EVERY = 2000


def training_env_seeds(sac_seed: int, n_envs: int) -> list[int]:
    """The reset seeds of the ``n_envs`` training envs of a SAC run seeded ``sac_seed`` (disjoint across SAC seeds
    for a given ``n_envs``, and from the evaluation seeds)."""
    sac_seed, n_envs = check_int("sac_seed", sac_seed, minimum=0), check_int("n_envs", n_envs, minimum=1)
    return [TRAINING_ENV_SEED + n_envs * sac_seed + i for i in range(n_envs)]


def model_transitions(checkpoint: str | Path) -> tuple[int | None, dict[str, Any]]:
    """(real transitions, data settings) of the model in ``checkpoint``: the ``n_transitions`` of the data module
    recorded in it (None when it records none) and that record. A record of another env than Pendulum-v1 is a
    ValueError."""
    from hnn.training.checkpoint import read_checkpoint

    record = read_checkpoint(checkpoint).get("datamodule_hyper_parameters") or {}
    if not isinstance(record, dict):
        record = {}
    env_id = record.get("env_id")
    if env_id is not None and env_id != ENV_ID:
        raise ValueError(f"the checkpoint {str(checkpoint)!r} holds a model trained on {env_id} data, not {ENV_ID}")
    data = {k: v for k, v in record.items() if not str(k).startswith("_") and isinstance(v, (int, float, str, bool,
                                                                                              type(None)))}
    n = record.get("n_transitions")
    return (int(n) if isinstance(n, int) and not isinstance(n, bool) else None), data


def learned_vec_env(model: Any, n_envs: int) -> Any:
    """``VecMonitor(SB3VecEnvAdapter.make("hnn/LearnedPendulum-v1", n_envs, model=model))``."""
    from stable_baselines3.common.vec_env import VecMonitor

    from hnn.envs.sb3 import SB3VecEnvAdapter

    return VecMonitor(SB3VecEnvAdapter.make(LEARNED_ENV_ID, check_int("n_envs", n_envs, minimum=1), model=model))


def real_vec_env(n_envs: int) -> Any:
    """``VecMonitor(DummyVecEnv([gymnasium.make("Pendulum-v1")] * n_envs))`` (time limit included)."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    n_envs = check_int("n_envs", n_envs, minimum=1)
    return VecMonitor(DummyVecEnv([lambda: gym.make(ENV_ID) for _ in range(n_envs)]))


def _progress_callback(label: str, total: int, every: int, log: Callable[[str], None]) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class Progress(BaseCallback):
        """Logs the transitions so far, the elapsed time, the training episodes ended so far and the mean return of
        the last 10 (read from the ``VecMonitor`` infos of each step)."""

        def _on_training_start(self) -> None:
            self.start, self.next, self.returns = time.perf_counter(), every, []

        def _on_step(self) -> bool:
            self.returns += [float(info["episode"]["r"]) for info in self.locals.get("infos", ()) if "episode" in info]
            if self.num_timesteps >= self.next or self.num_timesteps >= total:
                self.next = (self.num_timesteps // every + 1) * every
                last = self.returns[-10:]
                ret = f"{np.mean(last):8.1f}" if last else "     n/a"
                log(f"  [{time.perf_counter() - self.start:6.0f} s] {label:<7} {self.num_timesteps:6d}/{total} "
                    f"transitions, {len(self.returns):3d} training episodes, mean return of the last {len(last)} "
                    f"{ret}")
            return True

    return Progress()


def train_sac(venv: Any, steps: int, seed: int, label: str = "sac", log: Callable[[str], None] | None = print,
              every: int = PROGRESS_EVERY) -> tuple[Any, float]:
    """SAC with :data:`SAC_SETTINGS` (seed ``seed``, CPU) trained on the SB3 ``venv`` for ``steps`` transitions;
    (the model, wall time of ``learn`` in seconds). The training envs reset from :func:`training_env_seeds`."""
    from stable_baselines3 import SAC

    steps, seed = check_int("steps", steps, minimum=1), check_int("seed", seed, minimum=0)
    model = SAC(env=venv, seed=seed, device="cpu", verbose=0, **SAC_SETTINGS)
    venv.seed(training_env_seeds(seed, venv.num_envs)[0])  # VecEnv.seed gives env i the seed + i
    callback = None if log is None else _progress_callback(label, steps, every, log)
    start = time.perf_counter()
    model.learn(total_timesteps=steps, callback=callback)
    return model, time.perf_counter() - start


def policy_episode(policy: Any, seed: int, max_steps: int | None = None) -> Any:
    """One episode of ``policy.predict(obs, deterministic=True)`` in the real Pendulum-v1 from ``reset(seed=seed)``
    (until the time limit, or ``max_steps``): an :class:`hnn.control.Episode`."""
    return evaluate_policy(policy, [seed], max_steps)[0]


def evaluate_policy(policy: Any | None, seeds: Sequence[int], max_steps: int | None = None,
                    on_episode: Callable[[Any], None] | None = None) -> list[Any]:
    """Episodes of ``policy`` (deterministic ``predict``; None: the random policy) for each seed, side by side
    (:func:`hnn.control.policy_episodes`, :func:`hnn.control.random_episodes`)."""
    from hnn.control.evaluate import policy_episodes, random_episodes

    if policy is None:
        return random_episodes(ENV_ID, seeds, max_steps, on_episode)
    if not callable(getattr(policy, "predict", None)):
        raise TypeError(f"policy must have predict(obs, deterministic=True) (a stable-baselines3 model), got "
                        f"{type(policy).__name__}")
    return policy_episodes(ENV_ID, lambda obs: policy.predict(obs, deterministic=True)[0], seeds, max_steps,
                           on_episode)


def scores(learned: float, real: float, random: float) -> dict[str, Any]:
    """The scores of the learned-env policy's mean return against the real-env policy's and the random policy's
    (module docstring): ``normalised``, ``ratio``, and whether each reaches :data:`GOAL` (``goal_met``: the
    normalised one). A score whose denominator is 0 is None."""
    learned, real, random = (float(v) for v in (learned, real, random))
    if not all(math.isfinite(v) for v in (learned, real, random)):
        raise ValueError(f"returns must be finite, got learned {learned}, real {real}, random {random}")
    normalised = None if real == random else (learned - random) / (real - random)
    ratio = None if learned == 0 else real / learned
    return {"normalised": normalised, "ratio": ratio, "goal": GOAL,
            "goal_on": "normalised = (R_learned - R_random) / (R_real - R_random)",
            "goal_met": normalised is not None and normalised >= GOAL,
            "ratio_reaches_goal": ratio is not None and ratio >= GOAL}


def _pm(mean: float, std: float | None) -> str:
    return f"{mean:.1f}" + ("" if std is None else f" ± {std:.1f}")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def format_summary(results: dict[str, Any]) -> str:
    """Markdown: the three policies' returns, the scores, wall times and real transitions of a run's results."""
    rows = results["rows"]
    quick = results["quick"]
    lines = []
    if quick:
        lines += [f"**QUICK smoke run — not the protocol** ({results['steps']} SAC transitions, seeds "
                  f"{results['seeds']}, episodes cut at {results['max_steps']} steps).", ""]
    lines += ["| policy | trained in | return in real Pendulum-v1 (mean ± sample std) | seeds | SAC training s | "
              "real transitions used | learned-env transitions |", "|" + "---|" * 7]
    labels = {"random": ("random policy", "–"), "learned": ("SAC", LEARNED_ENV_ID), "real": ("SAC", ENV_ID)}
    for key in ("random", "learned", "real"):
        r = rows[key]
        real_used = r.get("real_transitions")
        lines.append("| " + " | ".join([
            labels[key][0], labels[key][1], _pm(r["mean"], r["std"]), str(len(r["episodes"])),
            "–" if r.get("train_seconds") is None else f"{r['train_seconds']:.0f}",
            "–" if key == "random" else ("unknown" if real_used is None else f"{real_used:,}"),
            "–" if r.get("learned_env_transitions") is None else f"{r['learned_env_transitions']:,}"]) + " |")
    s = results["scores"]
    verdict = "met" if s["goal_met"] else "NOT met"
    lines += ["",
              f"- normalised (R_learned − R_random)/(R_real − R_random) = {_fmt(s['normalised'])}: goal ≥ {s['goal']} "
              f"{verdict} (the goal is judged on this score)",
              f"- plain ratio R_real/R_learned = {_fmt(s['ratio'])} (≥ {s['goal']}: "
              f"{'yes' if s['ratio_reaches_goal'] else 'no'}); returns are negative, so this is the real-env SAC's "
              "cost as a fraction of the learned-env SAC's",
              f"- SAC (both sides): {results['sac']['describe']}",
              f"- SAC seed {results['sac_seed']}; training envs reset from seeds {results['training_env_seeds']}; "
              f"evaluation: deterministic actions, real {ENV_ID} from reset(seed=s), s in {results['seeds']}",
              f"- learned model: {results['model']['checkpoint']}"
              + (f" (trained here in {results['model']['train_seconds']:.0f} s)"
                 if results['model'].get("train_seconds") is not None else "")
              + "; its real transitions: "
              + ("unknown (not recorded in the checkpoint)" if results['model']['n_transitions'] is None
                 else f"{results['model']['n_transitions']:,} (its data module's n_transitions, train + val + test)"),
              "- std: sample standard deviation over seeds (ddof = 1); wall time of the whole run "
              f"{results['seconds']:.0f} s ({results['threads']} torch thread(s))"]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="policy.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", default=None, help="the learned Pendulum-v1 model (.ckpt)")
    parser.add_argument("--train", action="store_true", help="train the learned model here (configs/"
                                                             "phnn_gym_pendulum.yaml) instead of --checkpoint")
    parser.add_argument("--train-seed", type=int, default=0, help="seed of --train (default 0)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"SAC transitions per side (default {DEFAULT_STEPS}; --quick: {QUICK_STEPS})")
    parser.add_argument("--n-envs", type=int, default=DEFAULT_N_ENVS,
                        help=f"parallel envs of each SAC run (default {DEFAULT_N_ENVS})")
    parser.add_argument("--sac-seed", type=int, default=0, help="seed of both SAC runs (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", default="results/policy")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_STEPS} SAC transitions, seeds {QUICK_SEEDS}, {QUICK_MAX_STEPS}-step "
                             "episodes (not the protocol)")
    args = parser.parse_args(argv)
    if args.steps is None:
        args.steps = QUICK_STEPS if args.quick else DEFAULT_STEPS
    check_int("--steps", args.steps, minimum=1)
    check_int("--n-envs", args.n_envs, minimum=1)
    if args.steps < args.n_envs:
        raise ValueError(f"--steps ({args.steps}) must be at least --n-envs ({args.n_envs}): every vector step "
                         "collects one transition per env")
    check_int("--sac-seed", args.sac_seed, minimum=0)
    check_int("--train-seed", args.train_seed, minimum=0)
    check_int("--threads", args.threads, minimum=1)
    if args.checkpoint is not None and args.train:
        raise ValueError("pass either --checkpoint PATH or --train, not both")
    if args.checkpoint is None and not args.train:
        from hnn.envs.core import PRETRAINED

        if PRETRAINED.get(ENV_ID) is None:
            raise ValueError("the learned env needs a model: pass --checkpoint PATH (a controlled Pendulum-v1 model) "
                             "or --train (trains one with configs/phnn_gym_pendulum.yaml)")
        from hnn.training.pretrained import pretrained_path

        args.checkpoint = pretrained_path(PRETRAINED[ENV_ID])  # the model hnn/LearnedPendulum-v1 loads by default
    if args.checkpoint is not None and not Path(args.checkpoint).is_file():
        raise ValueError(f"--checkpoint: no such file {args.checkpoint!r}")
    args.seeds = QUICK_SEEDS if args.quick else SEEDS
    args.max_steps = QUICK_MAX_STEPS if args.quick else None
    return args


def _sac_description(model: Any, n_envs: int) -> tuple[dict[str, Any], str]:
    """The SAC settings as actually built (read back from the model) and a one-line description."""
    import stable_baselines3

    used = {"policy": SAC_SETTINGS["policy"], "learning_rate": SAC_SETTINGS["learning_rate"], "n_envs": n_envs,
            "train_freq": f"{model.train_freq.frequency} {model.train_freq.unit.value}",
            "gradient_steps": model.gradient_steps, "buffer_size": model.buffer_size, "batch_size": model.batch_size,
            "learning_starts": model.learning_starts, "gamma": model.gamma, "tau": model.tau,
            "ent_coef": "auto" if model.ent_coef_optimizer is not None else model.ent_coef,
            "net_arch": getattr(model.policy, "net_arch", None), "stable_baselines3": stable_baselines3.__version__}
    text = (f"rl-zoo's Pendulum-v1 settings (MlpPolicy, learning_rate {used['learning_rate']:g}, the rest SB3 "
            f"{used['stable_baselines3']} defaults: buffer {used['buffer_size']:,}, batch {used['batch_size']}, "
            f"learning_starts {used['learning_starts']}, gamma {used['gamma']}, tau {used['tau']}, ent_coef "
            f"{used['ent_coef']}, net_arch {used['net_arch']}); {n_envs} envs, train_freq {used['train_freq']}, "
            f"gradient_steps {used['gradient_steps']} (one gradient step per collected transition)")
    return used, text


def _env_classes(venv: Any) -> str:
    """What a SAC run stepped: ``"SB3VecEnvAdapter(LearnedVectorEnv)"``, ``"DummyVecEnv(PendulumEnv)"``."""
    base = venv.unwrapped
    inner = getattr(base, "venv", None)
    if inner is not None:
        inside = type(inner.unwrapped).__name__
    else:
        envs = getattr(base, "envs", None)
        inside = ", ".join(sorted({type(e.unwrapped).__name__ for e in envs})) if envs else "?"
    return f"{type(base).__name__}({inside})"


def _row(episodes: list[Any], **extra: Any) -> dict[str, Any]:
    from hnn.control.evaluate import mean_std

    mean, std = mean_std([e.ret for e in episodes])
    return {"mean": mean, "std": std, "episodes": [e.as_dict() for e in episodes], **extra}


def main(argv: list[str] | None = None) -> int:
    """Run the protocol (module docstring), print progress and the summary, write ``policy.md`` and
    ``results.json``."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    command = "python scripts/policy.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None
                                                                              else argv))

    def log(line: str) -> None:
        print(line, flush=True)

    log(f"policy: SAC in {LEARNED_ENV_ID} vs SAC in {ENV_ID}, {args.steps} transitions each, {args.n_envs} envs, "
        f"SAC seed {args.sac_seed}; evaluation seeds {' '.join(map(str, args.seeds))}"
        + (f"; QUICK smoke run, episodes cut at {args.max_steps} steps (not the protocol)" if args.quick else "")
        + f" -> {out}")
    start = time.perf_counter()
    model_train_seconds = None
    checkpoint = args.checkpoint
    if checkpoint is None:
        from hnn.experiments.control import train_model
        from hnn.experiments.table1 import quiet_training

        log(f"  training the learned {ENV_ID} model (seed {args.train_seed}"
            + (", quick: not a usable model" if args.quick else "") + ")")
        t0 = time.perf_counter()
        with quiet_training(wandb=False):
            checkpoint = train_model(ENV_ID, "hnn", out / "runs", args.train_seed, quick=args.quick)
        model_train_seconds = time.perf_counter() - t0
        log(f"  trained in {model_train_seconds:.0f} s: {checkpoint}")
    from hnn.models.dynamics import DynamicsModule
    from hnn.training.checkpoint import load

    n_transitions, data = model_transitions(checkpoint)
    model = load(checkpoint, expected_class=DynamicsModule)
    log(f"  learned model {checkpoint}: trained on "
        + ("an unrecorded number of" if n_transitions is None else f"{n_transitions:,}") + " real transitions")

    learned_env = learned_vec_env(model, args.n_envs)
    learned_class = _env_classes(learned_env)
    learned_sac, learned_seconds = train_sac(learned_env, args.steps, args.sac_seed, "learned", log)
    sac_used, sac_text = _sac_description(learned_sac, args.n_envs)
    learned_steps = int(learned_sac.num_timesteps)
    learned_env.close()
    log(f"  learned-env SAC: {learned_steps} transitions in {learned_seconds:.0f} s")

    real_env = real_vec_env(args.n_envs)
    real_class = _env_classes(real_env)
    real_sac, real_seconds = train_sac(real_env, args.steps, args.sac_seed, "real", log)
    real_steps = int(real_sac.num_timesteps)
    real_env.close()
    log(f"  real-env SAC: {real_steps} transitions in {real_seconds:.0f} s")

    def report(name: str) -> Callable[[Any], None]:
        return lambda e: log(f"  {name:<7} seed {e.seed}: return {e.ret:9.2f} in {e.steps} steps")

    t0 = time.perf_counter()
    episodes = {"random": evaluate_policy(None, args.seeds, args.max_steps, report("random")),
                "learned": evaluate_policy(learned_sac, args.seeds, args.max_steps, report("learned")),
                "real": evaluate_policy(real_sac, args.seeds, args.max_steps, report("real"))}
    eval_seconds = time.perf_counter() - t0
    rows = {"random": _row(episodes["random"]),
            "learned": _row(episodes["learned"], env=LEARNED_ENV_ID, training_env_class=learned_class,
                            train_seconds=learned_seconds, real_transitions=n_transitions,
                            learned_env_transitions=learned_steps),
            "real": _row(episodes["real"], env=ENV_ID, training_env_class=real_class, train_seconds=real_seconds,
                         real_transitions=real_steps, learned_env_transitions=None)}
    results = {"command": command, "quick": args.quick,
               "protocol": "not the protocol (quick smoke run)" if args.quick else "the protocol",
               "steps": args.steps, "n_envs": args.n_envs, "sac_seed": args.sac_seed,
               "training_env_seeds": training_env_seeds(args.sac_seed, args.n_envs), "seeds": list(args.seeds),
               "max_steps": args.max_steps, "deterministic": True,
               "sac": {**sac_used, "describe": sac_text},
               "model": {"checkpoint": str(checkpoint), "n_transitions": n_transitions, "data": data,
                         "train_seconds": model_train_seconds, "train_seed": args.train_seed if args.train else None},
               "rows": rows,
               "scores": scores(rows["learned"]["mean"], rows["real"]["mean"], rows["random"]["mean"]),
               "std": "sample standard deviation over seeds (ddof = 1)", "eval_seconds": eval_seconds,
               "threads": args.threads, "versions": _versions()}
    results["seconds"] = time.perf_counter() - start
    summary = format_summary(results)
    atomic_write_text(out / "results.json", json.dumps(results, indent=1) + "\n")
    atomic_write_text(out / "policy.md", summary + "\n")
    print()
    print(summary)
    print(f"\nsummary: {out / 'policy.md'}\nresults: {out / 'results.json'}\nwall time: {results['seconds']:.0f} s")
    return 0


def _versions() -> dict[str, str]:
    import stable_baselines3

    return {"torch": torch.__version__, "gymnasium": gym.__version__, "stable_baselines3": stable_baselines3.__version__}


if __name__ == "__main__":
    sys.exit(main())
