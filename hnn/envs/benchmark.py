"""Throughput of :class:`hnn.envs.LearnedVectorEnv` beside gymnasium's own vector env of the real env, same run.

``python scripts/benchmark.py envs`` prints :func:`format_table` of :func:`measure`. Each configuration is a vector
env of N envs stepped ``steps`` times with pre-drawn random actions (autoresets included); the figure is env steps per
second, N · steps / wall seconds, median over ``repeats`` timed runs after one untimed warm-up run
(:func:`hnn.experiments.timing.time_calls`). Compared, at each N:

- ``learned``: ``gymnasium.make_vec("hnn/Learned<env>", num_envs=N, model=...)``, one batched model step per env
  step. The model is an untrained :class:`hnn.nn.PortHamiltonianField` (``hidden_dim`` 64, one RK4 step of dt per
  env step) when hnn.nn has it, else (or with ``field="physics"``) :class:`PhysicsField`, the real env's continuous
  field in closed form (far cheaper than a network: the row then measures the env machinery);
- ``gymnasium sync``: ``gymnasium.make_vec(env, num_envs=N, vectorization_mode="sync")``, N real envs in a loop;
- ``gymnasium vector_entry_point``: gymnasium's own batched numpy env, where the real env has one (CartPole-v1).

Steps differ per row (``real_steps``: a sync env of 4096 envs takes tens of ms per step), so per-step times are
printed beside the rates. Everything runs on one device (CPU by default) with the torch thread count given.
"""
from __future__ import annotations

import platform
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import torch
from torch import Tensor, nn

from hnn.experiments.timing import time_calls
from hnn.systems.gym import gym_system
from hnn.validate import check_choice, check_int

__all__ = ["PhysicsField", "ThroughputRow", "benchmark_model", "measure", "format_table"]


class PhysicsField(nn.Module):
    """The real env's continuous dynamics ṡ = f(s, u) (``GymSystem.field``) as a controlled field: ``dim``, ``n_u``,
    ``angles``, ``vector_field(x, u)`` on the canonical state [q, q̇]. No parameters."""

    def __init__(self, env_id: str) -> None:
        super().__init__()
        self.system = gym_system(env_id)
        self.dim, self.n_u, self.angles = 2 * self.system.n_q, self.system.n_u, list(self.system.angles)

    def vector_field(self, x: Tensor, u: Tensor) -> Tensor:
        return self.system.field(x, u)


def benchmark_model(env_id: str, field: Literal["auto", "port_hamiltonian", "physics"] = "auto",
                    hidden_dim: int = 64) -> tuple[nn.Module, str]:
    """``(DynamicsModule, description)``: the model the learned rows step (module docstring), seeded (0)."""
    import hnn.nn
    from hnn.models.dynamics import DynamicsModule

    check_choice("field", field, ("auto", "port_hamiltonian", "physics"))
    gym_system(env_id)  # ValueError naming the supported envs
    port_hamiltonian = getattr(hnn.nn, "PortHamiltonianField", None)
    if field == "port_hamiltonian" and port_hamiltonian is None:
        raise ValueError("field='port_hamiltonian' needs hnn.nn.PortHamiltonianField, which this hnn does not have")
    integrator = "rk4"
    if field != "physics" and port_hamiltonian is not None:
        # the shipped config's field and integrator (phnn_gym_<env>.yaml), untrained: throughput needs no training
        import yaml

        from hnn.nn.fields import build_field
        from hnn.paths import config_file

        key = {"Pendulum-v1": "pendulum", "Acrobot-v1": "acrobot", "CartPole-v1": "cartpole",
               "MountainCarContinuous-v0": "mountaincar"}[env_id]
        model_config = yaml.safe_load(config_file(f"phnn_gym_{key}").read_text())["model"]["init_args"]
        field_config = dict(model_config["field"])
        field_config["init_args"] = {**field_config.get("init_args", {}), "hidden_dim": hidden_dim}
        torch.manual_seed(0)
        net = build_field(field_config)
        integrator = model_config.get("integrator", "rk4")
        args = field_config["init_args"]
        description = (f"untrained PortHamiltonianField as in configs/phnn_gym_{key}.yaml (hidden_dim {hidden_dim}, "
                       f"mass {args.get('mass', 'learned')}), one {integrator} step per env step")
    else:
        net = PhysicsField(env_id)
        description = "PhysicsField (the real env's closed-form continuous field), one RK4 step per env step"
    return DynamicsModule(field=net, integrator=integrator).eval(), description


@dataclass
class ThroughputRow:
    """One configuration's timing: ``kind`` (learned / gymnasium sync / gymnasium vector_entry_point), N, steps per
    timed run, median and range of the run's wall seconds."""

    kind: str
    num_envs: int
    steps: int
    seconds: float
    spread: tuple[float, float]

    @property
    def steps_per_second(self) -> float:
        return self.num_envs * self.steps / self.seconds

    @property
    def ms_per_step(self) -> float:
        return 1e3 * self.seconds / self.steps


def _time_vector_env(venv: Any, steps: int, repeats: int, seed: int = 0) -> tuple[float, tuple[float, float]]:
    venv.reset(seed=seed)
    venv.action_space.seed(seed)
    actions = [venv.action_space.sample() for _ in range(16)]

    def run() -> None:
        for k in range(steps):
            venv.step(actions[k % len(actions)])

    timing = time_calls(run, repeats=repeats, warmup=1, keep_result=False)
    return timing.median, (timing.minimum, timing.maximum)


def _real_steps(num_envs: int, steps: int) -> int:
    """Steps per timed run of a real sync env: ``steps``, cut to about 20 000 env steps per run (but not below 5)."""
    return min(steps, max(5, 20_000 // num_envs))


def measure(env_id: str = "Pendulum-v1", num_envs: Sequence[int] = (1, 64, 4096), steps: int = 200,
            real_steps: int | None = None, repeats: int = 3, field: str = "auto",
            device: str = "cpu") -> tuple[list[ThroughputRow], str]:
    """Rows for every N in ``num_envs`` (learned, gymnasium sync, and gymnasium's vector_entry_point env where the
    real env has one), and the learned model's description. ``real_steps``: steps per timed run of the gymnasium
    rows (default ``steps`` cut to ~20 000 env steps per run)."""
    import hnn.envs

    learned_id = hnn.envs.learned_env_id(env_id)
    steps = check_int("steps", steps, minimum=1)
    repeats = check_int("repeats", repeats, minimum=1)
    if real_steps is not None:
        real_steps = check_int("real_steps", real_steps, minimum=1)
    sizes = [check_int("num_envs", n, minimum=1) for n in num_envs]
    model, description = benchmark_model(env_id, field)
    model = model.to(device)
    has_vector = gym.spec(env_id).vector_entry_point is not None
    rows: list[ThroughputRow] = []
    for n in sizes:
        venv = gym.make_vec(learned_id, num_envs=n, model=model)
        rows.append(ThroughputRow("learned", n, steps, *_time_vector_env(venv, steps, repeats)))
        venv.close()
        k = _real_steps(n, steps) if real_steps is None else real_steps
        venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync")
        rows.append(ThroughputRow("gymnasium sync", n, k, *_time_vector_env(venv, k, repeats)))
        venv.close()
        if has_vector:
            venv = gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point")
            rows.append(ThroughputRow("gymnasium vector_entry_point", n, steps, *_time_vector_env(venv, steps, repeats)))
            venv.close()
    return rows, description


def format_table(rows: Sequence[ThroughputRow], env_id: str, description: str) -> str:
    """The rows as a table, with the run's conditions and a one-line summary (learned vs sync at the largest N)."""
    lines = [f"Vector-env throughput, {env_id}: env steps per second (median of the timed runs; random actions, "
             f"autoresets included)",
             f"learned model: {description}",
             f"torch {torch.__version__}, gymnasium {gym.__version__}, {torch.get_num_threads()} torch thread(s), "
             f"{platform.processor() or platform.machine()}",
             "",
             f"{'vector env':<30} {'N':>6} {'steps':>6} {'env steps/s':>13} {'ms/step':>9}  range of a run (s)"]
    for r in rows:
        lines.append(f"{r.kind:<30} {r.num_envs:>6} {r.steps:>6} {r.steps_per_second:>13,.0f} {r.ms_per_step:>9.3f}"
                     f"  {r.spread[0]:.3g}–{r.spread[1]:.3g}")
    largest = max(r.num_envs for r in rows)
    learned = next((r for r in rows if r.kind == "learned" and r.num_envs == largest), None)
    sync = next((r for r in rows if r.kind == "gymnasium sync" and r.num_envs == largest), None)
    if learned is not None and sync is not None:
        ratio = learned.steps_per_second / sync.steps_per_second
        lines += ["", f"summary: at N = {largest} the learned vector env steps {learned.steps_per_second:,.0f} env "
                      f"steps/s, {ratio:.1f}x gymnasium's sync vector env of the real {env_id} "
                      f"({sync.steps_per_second:,.0f}/s)"]
    return "\n".join(lines)
