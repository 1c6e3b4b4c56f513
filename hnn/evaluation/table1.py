"""The Table 1 protocol of Greydanus, Dzamba & Yosinski (2019), "Hamiltonian Neural Networks", for baseline and HNN.

Metrics per (model, task, seed):

- train / test MSE of derivatives: mean ‖f_θ(x) − ẋ‖² over the split's (x, ẋ) pairs (float32, as trained);
- energy MSE: mean over starting points k and times t_j of (H_ref(x̂_k(t_j)) − H_ref(x_k(t_j)))², where x_k is the
  reference trajectory and x̂_k the model's rollout by ``torchdiffeq:dopri5`` at rtol = atol = 1e-12 on a float64
  copy of the model (the same solver for baseline and HNN; the learned H is never used as the yardstick).

Two energy protocols, both reported and labelled:

(a) **paper-faithful** — starting points, horizon and H_ref exactly as the paper's analysis notebooks
    (``analyze-spring.ipynb``, ``analyze-pend.ipynb``, ``analyze-real.ipynb``, ``analyze-2body.ipynb``):

    - spring and pendulum: 15 starting points with both coordinates ±U[0.2, 1.0]
      (``x0 = rand(2)·1.6 − 0.8; x0 += 0.2·sign(x0)``), 100 evenly spaced times, H_ref = q² + p² — also for the
      pendulum, whose notebook reuses the spring's ``energy_loss``. Pendulum: t ∈ [0, 20].
      Spring: the notebook's ``integrate_models`` "rescales time to compensate for noise effects":
      ``t_span[1] *= 1 + 0.9·noise_std; t_eval *= 1 + 0.9·noise_std`` (noise_std = 0.1, factor r = 1.09), applied
      *in place* to the caller's arrays after the reference trajectory is computed and before the models are
      integrated. Because the arrays are the notebook's globals, the rescale compounds: the cell before the loop
      leaves t_span = [0, 20·r], so the i-th starting point (i = 0..14) is compared on a reference grid
      linspace(0, 20·r^(i+1), 100) against model rollouts on linspace(0, 20·r^(i+2), 100) — model horizons from
      23.8 to 79.4 time units. (The reference energy of the spring is constant, so only the model horizon
      matters.) This is what produced the published numbers, so it is what column (a) does.
    - real pendulum: one rollout from the first recorded state of the test block over the test block's
      recording times, compared with the recorded states, H_ref = 2.4(1 − cos q) + p² (the paper's fitted
      analysis Hamiltonian, ``experiment-real/data.py``).
    - two-body: 15 orbits drawn from the training distribution (the paper's ``random_config``), t ∈ [0, 25] at
      500 points, H_ref = total energy (kinetic + gravitational, unit masses, G = 1).

(b) **physical** — H_ref = the system's true Hamiltonian (spring q² + p²; pendulum 3(1 − cos q) + p²; two-body
    total energy), starting points = the noiseless first states of the test trajectories (drawn from the training
    distribution, never trained on), same times as (a) without any rescale. The real pendulum has no ground-truth
    system: its only reference is the recording, so (b) is the same rollout as (a) there.

The paper's own numbers (``PAPER_ENERGY_MSE``) were computed with SciPy's RK45 at rtol 1e-12 (1e-9 for two-body)
on float32 models, with one training seed and random starting points; ours use seeded generators.

Training goes through the project's own path: ``hnn.models.cli.run_training`` with ``configs/<model>_<task>.yaml``
(the paper's recipe) plus command-line overrides for the seed and ``val_fraction = 0`` (the paper's exact training
set: the configs hold out 10 % of it for validation monitors, which this table does not use).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from hnn.io import atomic_save_figure, atomic_write_text, sha256_of_file
from torch import Tensor

import hnn.integrators as _integrators

__all__ = [
    "TASKS",
    "MODELS",
    "TASK_TITLES",
    "PAPER_ENERGY_MSE",
    "PROTOCOLS",
    "RolloutGroup",
    "EnergyProtocol",
    "ProtocolResult",
    "RunResult",
    "paper_protocol",
    "physical_protocol",
    "evaluate_protocol",
    "evaluate_model",
    "train_model",
    "load_checkpoint_runs",
    "format_table",
    "plot_table_figure",
    "export_pretrained",
    "run_table1",
    "Table1Output",
    "sample_box_starts",
    "SPRING_TIME_RESCALE",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / "configs"

TASKS = ("spring", "pendulum", "real_pendulum", "two_body")
MODELS = ("baseline", "hnn")
MODEL_LABELS = {"baseline": "baseline", "hnn": "HNN"}
TASK_TITLES = {
    "spring": "ideal mass-spring",
    "pendulum": "ideal pendulum",
    "real_pendulum": "real pendulum",
    "two_body": "two-body",
}
# Greydanus et al. 2019, Table 1 (energy MSE), as printed by the analysis notebooks.
PAPER_ENERGY_MSE = {
    "spring": {"baseline": 1.71e-1, "hnn": 3.84e-4},
    "pendulum": {"baseline": 4.15e-2, "hnn": 2.49e-2},
    "real_pendulum": {"baseline": 3.86e-1, "hnn": 1.45e-2},
    "two_body": {"baseline": 6.33e-2, "hnn": 3.88e-5},
}
PROTOCOLS = ("paper", "physical")
PROTOCOL_LABELS = {"paper": "(a) paper-faithful", "physical": "(b) physical"}

# analyze-spring.ipynb: t_span[1] *= 1 + .9 * noise_std, with the data's noise_std = 0.1
SPRING_TIME_RESCALE = 1.0 + 0.9 * 0.1
PAPER_N_STARTS = 15  # "splits = 5; samples = 3" (spring, pendulum) and "trials = 5*3" (two-body)
PAPER_HORIZON = {"spring": 20.0, "pendulum": 20.0, "two_body": 25.0}
PAPER_N_TIMES = {"spring": 100, "pendulum": 100, "two_body": 500}
# (b) uses at most this many test trajectories' starting states (two-body has 200; 50 keep the dopri5 runs short)
PHYSICAL_MAX_STARTS = {"spring": 25, "pendulum": 25, "two_body": 50}
EVAL_SEED_OFFSET = 1000  # generator seed of the paper-faithful starting points: EVAL_SEED_OFFSET + training seed
ROLLOUT_METHOD = "torchdiffeq:dopri5"
ROLLOUT_TOL = 1e-12
FIGURE_POINTS = 1000  # dense output times of the (b) rollouts, drawn in the figure's trajectory and energy panels


# ---------------------------------------------------------------------------------------------------- protocols
@dataclass
class RolloutGroup:
    """Starting points that share one time grid.

    ``x0 [K, dim]`` (float64), model rollout times ``t_model [T]``, reference times ``t_truth [T]`` (equal to
    ``t_model`` except in the paper's spring protocol) and reference states ``truth [T, K, dim]``.
    """

    x0: Tensor
    t_model: Tensor
    t_truth: Tensor
    truth: Tensor


@dataclass
class EnergyProtocol:
    """A set of rollouts and the energy they are judged by."""

    name: str  # "paper" or "physical"
    task: str
    groups: list[RolloutGroup]
    energy: Callable[[Tensor], Tensor]
    energy_label: str
    description: str
    system: Any = None  # the ground-truth system (None: the reference is a recording)

    @property
    def n_starts(self) -> int:
        return sum(int(g.x0.shape[0]) for g in self.groups)


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; the Table 1 tasks are: {', '.join(TASKS)}")


def _check_count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def sample_box_starts(n: int, generator: torch.Generator) -> Tensor:
    """The analysis notebooks' starting points, float64 ``[n, 2]``: each coordinate ±U[0.2, 1.0].

    ``x0 = rand(2)·1.6 − 0.8; x0 += 0.2·sign(x0)`` (a coordinate of exactly 0 — probability 0 — stays 0 there).
    """
    x0 = torch.rand(n, 2, generator=generator, dtype=torch.float64) * 1.6 - 0.8
    return x0 + 0.2 * torch.sign(x0)


def _quadratic_energy(x: Tensor) -> Tensor:
    """H_ref = q² + p² (the notebooks' ``energy_loss``: ``(x**2).sum(1)``)."""
    return x.square().sum(-1)


def _real_pendulum_test_block() -> tuple[Tensor, Tensor]:
    """Times (from 0) and recorded states ``[T, dim]`` of the real pendulum's test block, float64."""
    from hnn.data.real import load_recording

    recorded = load_recording("real_pendulum")
    t, x = recorded.trajectory("test")
    return (t - t[0]).to(torch.float64), x[0].to(torch.float64)


def _real_pendulum_protocol(name: str, datamodule: Any) -> EnergyProtocol:
    t, x = _real_pendulum_test_block()
    system = datamodule.system  # H = 2.4 (1 − cos q) + p², the paper's analysis Hamiltonian
    group = RolloutGroup(x0=x[:1], t_model=t, t_truth=t, truth=x.unsqueeze(1))
    note = "" if name == "paper" else " (no ground-truth system: the recording is the only reference, as in (a))"
    return EnergyProtocol(
        name=name, task="real_pendulum", groups=[group], energy=system.hamiltonian,
        energy_label="2.4(1 − cos q) + p²",
        description=f"one rollout from the first test state over the recorded test block ({len(t)} samples, "
                    f"{float(t[-1]):.1f} s, dropped frames kept as longer intervals), compared with the recording"
                    + note,
    )


def paper_protocol(task: str, datamodule: Any, seed: int = 0, n_starts: int = PAPER_N_STARTS) -> EnergyProtocol:
    """Protocol (a): starting points, horizon and H_ref exactly as the paper's analysis notebook of ``task``.

    ``datamodule`` provides the ground-truth ``system`` (a ``HamiltonianDataModule`` of the task); random starting
    points come from a ``torch.Generator`` seeded with ``EVAL_SEED_OFFSET + seed``. See the module docstring.
    """
    _check_task(task)
    _check_count("n_starts", n_starts)
    if task == "real_pendulum":
        return _real_pendulum_protocol("paper", datamodule)
    system = datamodule.system
    generator = torch.Generator().manual_seed(EVAL_SEED_OFFSET + int(seed))
    horizon, n_times = PAPER_HORIZON[task], PAPER_N_TIMES[task]
    if task == "two_body":
        x0 = system.sample_initial(n_starts, generator, dtype=torch.float64)
        t = torch.linspace(0.0, horizon, n_times, dtype=torch.float64)
        group = RolloutGroup(x0=x0, t_model=t, t_truth=t, truth=system.trajectory(x0, t))
        return EnergyProtocol(
            name="paper", task=task, groups=[group], energy=system.hamiltonian, energy_label="total energy",
            system=system, description=f"{n_starts} orbits from the training distribution, t in [0, {horizon:g}] ({n_times} points)",
        )
    x0 = sample_box_starts(n_starts, generator)
    if task == "pendulum":
        t = torch.linspace(0.0, horizon, n_times, dtype=torch.float64)
        group = RolloutGroup(x0=x0, t_model=t, t_truth=t, truth=system.trajectory(x0, t))
        return EnergyProtocol(
            name="paper", task=task, groups=[group], energy=_quadratic_energy, energy_label="q² + p²",
            system=system, description=f"{n_starts} starts with coordinates ±U[0.2, 1.0], t in [0, {horizon:g}] ({n_times} points)",
        )
    # spring: the notebook's compounding in-place time rescale (module docstring)
    r = SPRING_TIME_RESCALE
    groups = []
    for i in range(n_starts):
        t_truth = torch.linspace(0.0, horizon * r ** (i + 1), n_times, dtype=torch.float64)
        t_model = torch.linspace(0.0, horizon * r ** (i + 2), n_times, dtype=torch.float64)
        start = x0[i:i + 1]
        groups.append(RolloutGroup(x0=start, t_model=t_model, t_truth=t_truth,
                                   truth=system.trajectory(start, t_truth)))
    last = horizon * r ** (n_starts + 1)
    return EnergyProtocol(
        name="paper", task=task, groups=groups, energy=_quadratic_energy, energy_label="q² + p²",
        system=system, description=f"{n_starts} starts with coordinates ±U[0.2, 1.0], {n_times} points; the notebook's in-place "
                    f"time rescale x{r:g} compounds: model horizon 20·{r:g}^(i+2) = {horizon * r ** 2:.1f} .. "
                    f"{last:.1f}",
    )


def physical_protocol(task: str, datamodule: Any, max_starts: int | None = None) -> EnergyProtocol:
    """Protocol (b): the system's true H, the noiseless first states of the test trajectories, the paper's times.

    ``datamodule`` is a ``HamiltonianDataModule`` of ``task`` (its test split provides the starting states).
    """
    _check_task(task)
    if task == "real_pendulum":
        return _real_pendulum_protocol("physical", datamodule)
    limit = PHYSICAL_MAX_STARTS[task] if max_starts is None else _check_count("max_starts", max_starts)
    system = datamodule.system
    _, x_true = datamodule.trajectories("test", noiseless=True)
    x0 = x_true[:limit, 0].to(torch.float64)
    horizon, n_times = PAPER_HORIZON[task], PAPER_N_TIMES[task]
    t = torch.linspace(0.0, horizon, n_times, dtype=torch.float64)
    group = RolloutGroup(x0=x0, t_model=t, t_truth=t, truth=system.trajectory(x0, t))
    label = {"spring": "q² + p²", "pendulum": "3(1 − cos q) + p²", "two_body": "total energy"}[task]
    return EnergyProtocol(
        name="physical", task=task, groups=[group], energy=system.hamiltonian, energy_label=label,
        system=system, description=f"the first states of {x0.shape[0]} test trajectories (training distribution, unseen), "
                    f"t in [0, {horizon:g}] ({n_times} points)",
    )


# ---------------------------------------------------------------------------------------------------- metrics
@dataclass
class ProtocolResult:
    """Energy MSE of one model under one protocol, with the rollouts (for the figure)."""

    protocol: str
    energy_mse: float  # mean over starts of the per-start mean over times of (H_ref(x̂) − H_ref(x))²
    per_start: list[float]
    state_mse: float  # mean ‖x̂ − x‖² / dim over starts and times
    preds: list[Tensor]  # one [T, K, dim] rollout per group
    seconds: float
    dense_t: Tensor | None = None  # optional dense output of the same rollout (for drawing)
    dense: Tensor | None = None  # [T_dense, K_total, dim]


def _float64_runner(model: Any) -> Any:
    """A float64 eval-mode copy of a torch module (solver tolerance, not float32 round-off, sets the error)."""
    if isinstance(model, torch.nn.Module):
        from hnn.models.metrics import float64_copy

        return float64_copy(model)
    return model  # e.g. a ground-truth system object: already float64-capable


def evaluate_protocol(model: Any, protocol: EnergyProtocol, method: str = ROLLOUT_METHOD,
                      rtol: float = ROLLOUT_TOL, atol: float = ROLLOUT_TOL,
                      dense_points: int | None = None) -> ProtocolResult:
    """Roll ``model`` out on every group of ``protocol`` (float64, no graph) and compute the energy MSE.

    ``model`` is anything ``hnn.integrate`` accepts (a trained LightningModule, a ground-truth system, ...).
    All starting points are integrated as one batch from the common start time to the last requested time, and
    each group reads its own times from the solver's output (dopri5 steps by its error control and interpolates
    at the requested times, so the extra output times do not change the steps). ``dense_points`` adds that many
    evenly spaced output times (kept as ``dense_t``/``dense``, for plotting).
    """
    runner = _float64_runner(model)
    options = {"rtol": rtol, "atol": atol} if method.startswith("torchdiffeq") else {}
    start = time.perf_counter()
    groups = protocol.groups
    t0 = float(groups[0].t_model[0])
    if any(float(g.t_model[0]) != t0 for g in groups):
        raise ValueError("all rollout groups of a protocol must start at the same time")
    t_end = max(float(g.t_model[-1]) for g in groups)
    times = [g.t_model for g in groups]
    dense_t = None
    if dense_points is not None:
        dense_t = torch.linspace(t0, t_end, _check_count("dense_points", dense_points, 2), dtype=torch.float64)
        times.append(dense_t)
    t_all = torch.unique(torch.cat(times))  # sorted
    x0_all = torch.cat([g.x0 for g in groups], dim=0)
    with torch.no_grad():
        out = _integrators.integrate(runner, x0_all, t_all, method=method, **options)  # [T_all, K_total, dim]
    if not bool(torch.isfinite(out).all()):
        raise RuntimeError(f"{protocol.task}: the {protocol.name} rollout of {type(model).__name__} produced "
                           "non-finite states")
    per_start: list[float] = []
    state_sq: list[Tensor] = []
    preds: list[Tensor] = []
    row = 0
    for group in groups:
        k = group.x0.shape[0]
        index = torch.searchsorted(t_all, group.t_model)
        pred = out[index, row:row + k]
        row += k
        sq = (protocol.energy(pred) - protocol.energy(group.truth)) ** 2  # [T, K]
        per_start.extend(float(v) for v in sq.mean(dim=0))
        state_sq.append(((pred - group.truth) ** 2).mean(dim=-1).flatten())
        preds.append(pred)
    dense = None if dense_t is None else out[torch.searchsorted(t_all, dense_t)]
    return ProtocolResult(
        protocol=protocol.name, energy_mse=float(sum(per_start) / len(per_start)), per_start=per_start,
        state_mse=float(torch.cat(state_sq).mean()), preds=preds, seconds=time.perf_counter() - start,
        dense_t=dense_t, dense=dense,
    )


@dataclass
class RunResult:
    """Everything measured for one trained (model, task, seed)."""

    model_kind: str
    task: str
    seed: int
    train_mse: float
    test_mse: float
    energy: dict[str, ProtocolResult]
    checkpoint: str | None = None
    config: str | None = None
    train_seconds: float | None = None
    steps: int | None = None
    model: Any = None
    data_hparams: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Plain-type record (for results.json and the pretrained manifest)."""
        return {
            "model": self.model_kind, "task": self.task, "seed": self.seed,
            "train_mse": self.train_mse, "test_mse": self.test_mse,
            **{f"energy_mse_{name}": r.energy_mse for name, r in self.energy.items()},
            **{f"state_mse_{name}": r.state_mse for name, r in self.energy.items()},
            **{f"energy_mse_{name}_per_start": r.per_start for name, r in self.energy.items()},
            "checkpoint": self.checkpoint, "config": self.config, "train_seconds": self.train_seconds,
            "steps": self.steps,
        }


def _evaluation_datamodule(task: str, data_hparams: dict[str, Any], cache_dir: str | None) -> Any:
    """A float64 twin of the training data module (same task, seed, split) for evaluation."""
    from hnn.data import HamiltonianDataModule

    keep = ("seed", "val_fraction", "n_trajectories", "drop_gap_pairs")  # the train split as trained on
    kwargs = {k: data_hparams[k] for k in keep if data_hparams.get(k) is not None}
    data = HamiltonianDataModule(task=task, dtype="float64", cache_dir=cache_dir, verbose=False, **kwargs)
    data.setup("test")
    return data


def evaluate_model(model: Any, model_kind: str, task: str, seed: int, data_hparams: dict[str, Any],
                   cache_dir: str | None, n_starts: int = PAPER_N_STARTS, max_physical_starts: int | None = None,
                   rtol: float = ROLLOUT_TOL, atol: float = ROLLOUT_TOL) -> RunResult:
    """Train/test derivative MSE and both energy protocols of one trained model."""
    from hnn.models.metrics import derivative_mse

    data = _evaluation_datamodule(task, data_hparams, cache_dir)
    param = next(model.parameters(), None) if isinstance(model, torch.nn.Module) else None
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else torch.device("cpu")
    mse = {}
    for split in ("train", "test"):
        x, dxdt = data.pairs(split)
        mse[split] = derivative_mse(model, x.to(device=device, dtype=dtype), dxdt.to(device=device, dtype=dtype))
    energy = {}
    for protocol in (paper_protocol(task, data, seed=seed, n_starts=n_starts),
                     physical_protocol(task, data, max_starts=max_physical_starts)):
        dense = FIGURE_POINTS if protocol.name == "physical" else None
        energy[protocol.name] = evaluate_protocol(model, protocol, rtol=rtol, atol=atol, dense_points=dense)
    return RunResult(model_kind=model_kind, task=task, seed=seed, train_mse=mse["train"], test_mse=mse["test"],
                     energy=energy, model=model)


# ---------------------------------------------------------------------------------------------------- training
@dataclass
class TrainedModel:
    model: Any
    data_hparams: dict[str, Any]
    checkpoint: str | None
    config: str | None
    seconds: float
    steps: int


def config_path(model_kind: str, task: str) -> Path:
    """``configs/<model>_<task>.yaml`` (the paper's recipe for that pair)."""
    if model_kind not in MODELS:
        raise ValueError(f"unknown model {model_kind!r}; choose one of {list(MODELS)}")
    _check_task(task)
    return CONFIG_DIR / f"{model_kind}_{task}.yaml"


def training_overrides(seed: int, cache_dir: str | None, max_steps: int | None = None,
                       n_trajectories: int | None = None) -> list[str]:
    """Command-line overrides this table adds to a config (recorded in the pretrained manifest)."""
    args = ["--seed_everything", str(seed), "--data.init_args.seed", str(seed),
            "--data.init_args.val_fraction", "0"]
    if cache_dir is not None:
        args += ["--data.init_args.cache_dir", str(cache_dir)]
    if max_steps is not None:
        args += ["--trainer.max_steps", str(max_steps)]
    if n_trajectories is not None:
        args += ["--data.init_args.n_trajectories", str(n_trajectories)]
    return args


def train_model(model_kind: str, task: str, seed: int, root_dir: str | os.PathLike, cache_dir: str | None,
                max_steps: int | None = None, n_trajectories: int | None = None) -> TrainedModel:
    """Train one (model, task, seed) through ``scripts/train.py``'s path (``hnn.models.cli.run_training``).

    The config is ``configs/<model>_<task>.yaml``; overrides: the seed (model init and data), ``val_fraction 0``
    (the paper's exact training set), the run folder, no progress bar, no test loop (evaluated here instead).
    """
    from hnn.models.cli import run_training

    config = config_path(model_kind, task)
    argv = ["--config", str(config), *training_overrides(seed, cache_dir, max_steps, n_trajectories),
            "--data.init_args.verbose", "false",
            "--trainer.default_root_dir", os.fspath(root_dir), "--run_name", f"{model_kind}_{task}_seed{seed}",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--test", "false", "--evaluate", "false"]
    start = time.perf_counter()
    result = run_training(argv)
    seconds = time.perf_counter() - start
    data_hparams = dict(getattr(result.datamodule, "hparams", {}) or {})
    if result.last_checkpoint is None:
        raise RuntimeError(f"training {model_kind} on {task} wrote no checkpoint")
    from hnn.models.checkpoint import load, read_checkpoint

    # evaluate exactly what the checkpoint holds (and check that it is the end of training)
    saved_step = int(read_checkpoint(result.last_checkpoint).get("global_step", -1))
    if saved_step != int(result.steps):
        raise RuntimeError(f"{result.last_checkpoint} holds step {saved_step}, training ended at {result.steps}")
    model = load(result.last_checkpoint)
    return TrainedModel(model=model, data_hparams=data_hparams, checkpoint=result.last_checkpoint,
                        config=result.config_path, seconds=seconds, steps=int(result.steps))


def _checkpoint_name(model_kind: str, task: str, seed: int) -> list[str]:
    names = [f"{model_kind}_{task}_seed{seed}.ckpt"]
    if seed == 0:
        names.append(f"{model_kind}_{task}.ckpt")
    return names


def load_checkpoint_runs(directory: str | os.PathLike, model_kind: str, task: str,
                         seeds: Sequence[int]) -> list[tuple[int, str]]:
    """``(seed, path)`` of the checkpoints in ``directory`` for one (model, task): files named
    ``<model>_<task>_seed<k>.ckpt`` or, for seed 0, ``<model>_<task>.ckpt`` (the shipped pretrained names)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"--checkpoints {str(directory)!r}: no such directory")
    found = []
    for seed in seeds:
        for name in _checkpoint_name(model_kind, task, seed):
            if (directory / name).is_file():
                found.append((seed, str(directory / name)))
                break
    if not found:
        expected = " or ".join(n for s in seeds for n in _checkpoint_name(model_kind, task, s))
        raise FileNotFoundError(f"no checkpoint for {model_kind} on {task} in {str(directory)!r} (expected {expected})")
    return found


# ---------------------------------------------------------------------------------------------------- table
def _mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    values = [float(v) for v in values]
    mean = statistics.fmean(values)
    return mean, (statistics.stdev(values) if len(values) > 1 else None)


def _fmt(values: Sequence[float]) -> str:
    if not values:
        return "—"
    mean, std = _mean_std(values)
    return f"{mean:.2e}" if std is None else f"{mean:.2e} ± {std:.1e}"


def format_table(results: Sequence[RunResult], protocols: dict[str, dict[str, EnergyProtocol]] | None = None,
                 tol: float = ROLLOUT_TOL) -> str:
    """The markdown Table 1: one row per (task, model), mean ± sample std over seeds, paper's numbers beside.

    ``protocols`` (task -> name -> protocol, e.g. of seed 0) adds the protocol descriptions as notes.
    """
    by_key: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        by_key.setdefault((r.task, r.model_kind), []).append(r)
    tasks = [t for t in TASKS if any(k[0] == t for k in by_key)]
    lines = [
        "| task | model | seeds | train MSE (ẋ) | test MSE (ẋ) | energy MSE (a) paper-faithful | "
        "energy MSE (b) physical | paper energy MSE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task in tasks:
        for kind in MODELS:
            rows = by_key.get((task, kind), [])
            if not rows:
                continue
            seeds = ",".join(str(r.seed) for r in sorted(rows, key=lambda r: r.seed))
            lines.append(
                f"| {TASK_TITLES[task]} | {MODEL_LABELS[kind]} | {seeds} | {_fmt([r.train_mse for r in rows])} | "
                f"{_fmt([r.test_mse for r in rows])} | {_fmt([r.energy['paper'].energy_mse for r in rows])} | "
                f"{_fmt([r.energy['physical'].energy_mse for r in rows])} | {PAPER_ENERGY_MSE[task][kind]:.2e} |")
    lines.append("")
    lines.append("Values: mean ± sample standard deviation over the listed training seeds (one value: one seed).")
    lines.append("Energy MSE: mean over starting points and times of (H_ref(x̂(t)) − H_ref(x(t)))², x̂ the model's "
                 f"rollout by {ROLLOUT_METHOD} at rtol = atol = {tol:g} (float64 copy of the model), "
                 "x the reference trajectory.")
    checks = []
    for task in tasks:
        hnn_rows, base_rows = by_key.get((task, "hnn"), []), by_key.get((task, "baseline"), [])
        if not hnn_rows:
            continue
        hnn_a = _mean_std([r.energy["paper"].energy_mse for r in hnn_rows])[0]
        hnn_b = _mean_std([r.energy["physical"].energy_mse for r in hnn_rows])[0]
        parts = [f"HNN (a) {'≤' if hnn_a <= PAPER_ENERGY_MSE[task]['hnn'] else '>'} paper's HNN"]
        if base_rows:
            base_a = _mean_std([r.energy["paper"].energy_mse for r in base_rows])[0]
            base_b = _mean_std([r.energy["physical"].energy_mse for r in base_rows])[0]
            parts.append(f"HNN {'<' if hnn_a < base_a else '≥'} baseline in (a)")
            parts.append(f"HNN {'<' if hnn_b < base_b else '≥'} baseline in (b)")
        checks.append(f"- {TASK_TITLES[task]}: " + "; ".join(parts) + " (means)")
    if checks:
        lines += ["", "Goals (HNN at or below the paper's HNN energy MSE; HNN below the baseline):", *checks]
    if protocols:
        lines += ["", "Protocols:"]
        for task in tasks:
            for name in PROTOCOLS:
                p = protocols.get(task, {}).get(name)
                if p is not None:
                    lines.append(f"- {TASK_TITLES[task]}, {PROTOCOL_LABELS[name]}: H_ref = {p.energy_label}; "
                                 f"{p.description}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------- figure
_COLORS = {"truth": "black", "baseline": "tab:red", "hnn": "tab:blue"}


def _dense_rollouts(runs: dict[str, RunResult], protocol: EnergyProtocol) -> tuple[Tensor, Tensor, Tensor,
                                                                                    dict[str, Tensor]]:
    """Truth and model rollouts of the protocol's first start on the dense grid of the (b) evaluation.

    Returns ``(t_truth, truth [T, dim], t_model, {kind: pred [T', dim]})``; a recording keeps its own samples.
    """
    group = protocol.groups[0]
    some_run = next(iter(runs.values()))
    t_dense = some_run.energy["physical"].dense_t
    if t_dense is None:
        raise ValueError("plot_table_figure needs the dense output of the (b) rollouts (evaluate_model keeps it)")
    if protocol.system is not None:
        t_truth, truth = t_dense, protocol.system.trajectory(group.x0[:1], t_dense)[:, 0]
    else:
        t_truth, truth = group.t_truth, group.truth[:, 0]
    preds = {kind: run.energy["physical"].dense[:, 0] for kind, run in runs.items()}
    return t_truth, truth, t_dense, preds


def plot_table_figure(path: str | os.PathLike, runs: dict[str, dict[str, RunResult]],
                      protocols: dict[str, dict[str, EnergyProtocol]], tol: float = ROLLOUT_TOL) -> str:
    """One row per task: a trajectory, H_ref along it, and the squared energy error over time (log scale).

    ``runs``: task -> model kind -> RunResult of one seed (with its ``model``); ``protocols``: task -> name ->
    protocol of that seed. Panels 1-2 show the first starting point of protocol (b) (the system's own H, no time
    rescale), rolled out densely; panel 3 the mean over all (b) starts of (H(x̂) − H(x))² at the protocol's times.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    tasks = [t for t in TASKS if t in runs]
    row_height = 3.7
    fig = Figure(figsize=(16.0, row_height * len(tasks) + 0.7))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(tasks), 3, squeeze=False)
    for row, task in enumerate(tasks):
        protocol = protocols[task]["physical"]
        group = protocol.groups[0]
        models = {kind: runs[task][kind] for kind in MODELS if kind in runs[task]}
        title = TASK_TITLES[task]
        truth_label = "recording" if protocol.system is None else "ground truth"
        t_truth, truth, t_dense, preds = _dense_rollouts(models, protocol)
        # 1: trajectory of the first starting point
        ax = axes[row, 0]
        if task == "two_body":
            for body, style in ((0, "-"), (1, "--")):
                ax.plot(truth[:, 2 * body], truth[:, 2 * body + 1], style, color=_COLORS["truth"], lw=2.4,
                        label=truth_label if body == 0 else None)
                for kind, pred in preds.items():
                    ax.plot(pred[:, 2 * body], pred[:, 2 * body + 1], style, color=_COLORS[kind], lw=1.2,
                            label=MODEL_LABELS[kind] if body == 0 else None)
            ax.set_xlabel("x")
            ax.set_ylabel("y")
            ax.set_aspect("equal", adjustable="datalim")
            ax.set_title(f"{title}: orbits of body 1 (solid) and 2 (dashed)", fontsize=10)
        else:
            ax.plot(truth[:, 0], truth[:, 1], "-", color=_COLORS["truth"], lw=2.4, label=truth_label)
            for kind, pred in preds.items():
                ax.plot(pred[:, 0], pred[:, 1], "-", color=_COLORS[kind], lw=1.2, label=MODEL_LABELS[kind])
            ax.plot(float(truth[0, 0]), float(truth[0, 1]), "o", color="black", ms=6, label="start")
            ax.set_xlabel("q")
            ax.set_ylabel("p")
            ax.set_title(f"{title}: phase space, t in [0, {float(t_dense[-1]):.3g}]", fontsize=10)
        ax.legend(fontsize=8, loc="upper right")
        # 2: H_ref along that trajectory
        ax = axes[row, 1]
        with torch.no_grad():
            ax.plot(t_truth, protocol.energy(truth), "-", color=_COLORS["truth"], lw=2.4, label=truth_label)
            for kind, pred in preds.items():
                ax.plot(t_dense, protocol.energy(pred), "-", color=_COLORS[kind], lw=1.2, label=MODEL_LABELS[kind])
        ax.set_xlabel("t")
        ax.set_ylabel(f"H = {protocol.energy_label}")
        ax.set_title("energy along that rollout", fontsize=10)
        ax.legend(fontsize=8, loc="best")
        # 3: squared energy error over time, mean over the protocol's starting points (t = 0 is exact: skipped)
        ax = axes[row, 2]
        lows = []
        with torch.no_grad():
            e_true = protocol.energy(group.truth)
            for kind, run in models.items():
                sq = ((protocol.energy(run.energy["physical"].preds[0]) - e_true) ** 2).mean(dim=1)[1:]
                lows.append(float(sq.min()))
                a, b = run.energy["paper"].energy_mse, run.energy["physical"].energy_mse
                ax.plot(group.t_model[1:], sq, "-", color=_COLORS[kind], lw=1.5,
                        label=f"{MODEL_LABELS[kind]}: energy MSE (a) {a:.1e}, (b) {b:.1e}")
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(min(lows) / 3.0, 1e-18))
        ax.set_xlabel("t")
        ax.set_ylabel("(H(x̂) − H(x))²")
        ax.set_title(f"squared energy error, mean over the {group.x0.shape[0]} start(s) of (b)", fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
    seeds = sorted({run.seed for per in runs.values() for run in per.values()})
    fig.suptitle("Greydanus et al. 2019, Table 1 protocol: baseline (red) vs HNN (blue) vs truth (black); "
                 f"seed {', '.join(map(str, seeds))} models, {ROLLOUT_METHOD} at rtol = atol = {tol:g}",
                 fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / (row_height * len(tasks) + 0.7)))
    return str(atomic_save_figure(fig, path, dpi=90))


# ---------------------------------------------------------------------------------------------------- outputs
_atomic_write_text = atomic_write_text
_sha256 = sha256_of_file


# keys of a Lightning checkpoint that a weights-only model file needs (hnn.load, load_from_checkpoint)
_SLIM_KEYS = ("state_dict", "hyper_parameters", "hnn_model_class", "datamodule_hyper_parameters",
              "pytorch-lightning_version", "epoch", "global_step")


def export_pretrained(runs: Sequence[RunResult], directory: str | os.PathLike, command: str,
                      cache_dir: str | None) -> dict[str, Any]:
    """Write seed-0 checkpoints of ``runs`` as ``<model>_<task>.ckpt`` (optimizer state stripped: weights,
    hyperparameters, class record) into ``directory`` and update its ``manifest.json``; return the manifest."""
    from hnn.models.checkpoint import atomic_torch_save, load, read_checkpoint

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / "manifest.json"
    manifest: dict[str, Any] = {"format": 1, "models": {}}
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest.setdefault("models", {})
    for run in runs:
        if run.seed != 0:
            continue
        if run.checkpoint is None:
            raise ValueError(f"{run.model_kind} on {run.task}: no checkpoint file to export")
        name = f"{run.model_kind}_{run.task}"
        full = read_checkpoint(run.checkpoint)
        slim = {k: full[k] for k in _SLIM_KEYS if k in full}
        if isinstance(slim.get("datamodule_hyper_parameters"), dict):  # no machine-specific paths in shipped files
            slim["datamodule_hyper_parameters"] = {**slim["datamodule_hyper_parameters"], "cache_dir": "datasets/cache"}
        target = directory / f"{name}.ckpt"
        atomic_torch_save(slim, target)
        reloaded = load(target)  # the shipped file must load (weights only) and hold the evaluated weights
        evaluated = load(run.checkpoint)
        for key, value in evaluated.state_dict().items():
            if not torch.equal(reloaded.state_dict()[key], value):
                raise RuntimeError(f"{target}: weight {key!r} differs from the evaluated checkpoint")
        manifest["models"][name] = {
            "file": target.name,
            "sha256": _sha256(target),
            "bytes": target.stat().st_size,
            "class": full.get("hnn_model_class"),
            "task": run.task,
            "seed": run.seed,
            "config": f"configs/{name}.yaml",
            "overrides": training_overrides(run.seed, None),
            "steps": run.steps,
            "metrics": {
                "train_mse": run.train_mse, "test_mse": run.test_mse,
                "energy_mse_paper": run.energy["paper"].energy_mse,
                "energy_mse_physical": run.energy["physical"].energy_mse,
            },
            "evaluated_by": command,
            "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    _atomic_write_text(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


# ---------------------------------------------------------------------------------------------------- driver
@dataclass
class Table1Output:
    table: str
    table_path: str
    figure_path: str
    results_path: str
    results: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class UnitSpec:
    """One (model, task, seed) to train (or load) and evaluate; plain data, so it can go to a worker process."""

    task: str
    kind: str
    seed: int
    tag: str
    out_dir: str
    cache_dir: str | None
    checkpoints: str | None
    quick: bool
    threads: int | None = None


def _quiet_lightning() -> None:
    """Lightning's per-run banners off and its warning about the empty validation loader (val_fraction 0)."""
    import logging
    import warnings

    for name in ("pytorch_lightning", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*Total length of .* across ranks is zero")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


def run_unit(spec: UnitSpec, progress: Callable[[str], None] | None = None) -> RunResult:
    """Train (or load) and evaluate one (model, task, seed); prints progress lines (flushed) by default."""
    say = progress or (lambda line: print(line, flush=True))
    if spec.threads is not None:  # a worker process: set up like the parent
        torch.set_num_threads(spec.threads)
        _quiet_lightning()
    n_starts = 3 if spec.quick else PAPER_N_STARTS
    max_physical = 5 if spec.quick else None
    tol = 1e-8 if spec.quick else ROLLOUT_TOL
    if spec.checkpoints is not None:
        from hnn.models.checkpoint import load, read_checkpoint

        path = dict(load_checkpoint_runs(spec.checkpoints, spec.kind, spec.task, [spec.seed]))[spec.seed]
        raw = read_checkpoint(path)
        data_hparams = dict(raw.get("datamodule_hyper_parameters") or {"seed": spec.seed, "val_fraction": 0.0})
        trained = TrainedModel(model=load(path), data_hparams=data_hparams, checkpoint=path, config=None,
                               seconds=0.0, steps=int(raw.get("global_step", 0)))
        say(f"{spec.tag}: loaded {path}")
    else:
        say(f"{spec.tag}: training ({config_path(spec.kind, spec.task).relative_to(REPO_ROOT)}) ...")
        n_traj = 40 if (spec.quick and spec.task == "two_body") else None
        trained = train_model(spec.kind, spec.task, spec.seed, Path(spec.out_dir) / "runs", spec.cache_dir,
                              max_steps=40 if spec.quick else None, n_trajectories=n_traj)
        say(f"{spec.tag}: trained {trained.steps} steps in {trained.seconds:.1f} s")
    start = time.perf_counter()
    run = evaluate_model(trained.model, spec.kind, spec.task, spec.seed, trained.data_hparams, spec.cache_dir,
                         n_starts=n_starts, max_physical_starts=max_physical, rtol=tol, atol=tol)
    run.checkpoint, run.config = trained.checkpoint, trained.config
    run.train_seconds, run.steps = trained.seconds, trained.steps
    run.data_hparams = trained.data_hparams
    run.model = None  # results travel between processes; the weights stay in the checkpoint file
    say(f"{spec.tag}: train MSE {run.train_mse:.2e}, test MSE {run.test_mse:.2e}, energy MSE (a) "
        f"{run.energy['paper'].energy_mse:.2e}, (b) {run.energy['physical'].energy_mse:.2e} "
        f"(evaluated in {time.perf_counter() - start:.1f} s)")
    return run


def run_table1(
    tasks: Sequence[str] = TASKS,
    seeds: Sequence[int] = (0, 1, 2),
    out_dir: str | os.PathLike = "results/table1",
    cache_dir: str | None = str(REPO_ROOT / "datasets" / "cache"),
    checkpoints: str | os.PathLike | None = None,
    quick: bool = False,
    seeds_per_task: dict[str, Sequence[int]] | None = None,
    export_dir: str | os.PathLike | None = None,
    command: str = "",
    jobs: int = 1,
    progress: Callable[[str], None] = print,
) -> Table1Output:
    """Train (or load) baseline and HNN per task and seed, evaluate both protocols, write table, figure, JSON.

    ``quick``: 40 training steps, 3 paper-faithful starts, 5 physical starts, 40 two-body orbits and solver
    tolerance 1e-8 instead of 1e-12 (a smoke test of the whole path, not a reproduction).
    ``seeds_per_task`` overrides ``seeds`` for some tasks (e.g. fewer two-body seeds). ``jobs > 1`` runs that many
    (model, task, seed) units at once in worker processes (each single-threaded, printing its own progress).
    Writes ``table1.md``, ``table1.png`` and ``results.json`` to ``out_dir`` (atomically) and training runs to
    ``out_dir/runs``.
    """
    if not tasks:
        raise ValueError(f"no tasks given; choose from {', '.join(TASKS)}")
    for task in tasks:
        _check_task(task)
    if not seeds:
        raise ValueError("no seeds given")
    for s in [*seeds, *(v for vs in (seeds_per_task or {}).values() for v in vs)]:
        _check_count("seed", s, minimum=0)
    _check_count("jobs", jobs)
    if checkpoints is not None and not Path(checkpoints).is_dir():
        raise FileNotFoundError(f"--checkpoints {os.fspath(checkpoints)!r}: no such directory")
    out_dir = Path(out_dir)
    start_all = time.perf_counter()
    tol = 1e-8 if quick else ROLLOUT_TOL
    seeds_of = {task: list((seeds_per_task or {}).get(task, seeds)) for task in tasks}
    if checkpoints is not None:  # evaluate the seeds whose files are there (both models needed)
        for task in tasks:
            found = [{seed for seed, _ in load_checkpoint_runs(checkpoints, kind, task, seeds_of[task])}
                     for kind in MODELS]
            available = sorted(set.intersection(*found))
            missing = sorted(set(seeds_of[task]) - set(available))
            if not available:
                raise FileNotFoundError(f"{checkpoints}: no seed of {task} has both a baseline and an HNN checkpoint")
            if missing:
                progress(f"{task}: no checkpoints for seed(s) {', '.join(map(str, missing))}; evaluating "
                         f"{', '.join(map(str, available))}")
            seeds_of[task] = available
    # two-body first: its 10k-step trainings are the longest units
    order = sorted(tasks, key=lambda task: task != "two_body")
    plan = [(task, kind, seed) for task in order for seed in seeds_of[task] for kind in MODELS]
    specs = [UnitSpec(task=task, kind=kind, seed=seed, tag=f"[{i}/{len(plan)}] {MODEL_LABELS[kind]} on {task}, "
                      f"seed {seed}", out_dir=os.fspath(out_dir), cache_dir=cache_dir,
                      checkpoints=None if checkpoints is None else os.fspath(checkpoints), quick=quick)
             for i, (task, kind, seed) in enumerate(plan, start=1)]
    if jobs > 1 and len(specs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if checkpoints is None and cache_dir is not None:  # generate each dataset once, before the workers race
            from hnn.data import HamiltonianDataModule

            for task in order:
                if task != "real_pendulum":
                    for seed in seeds_of[task]:
                        HamiltonianDataModule(task=task, seed=seed, val_fraction=0.0, cache_dir=cache_dir,
                                              n_trajectories=40 if (quick and task == "two_body") else None,
                                              verbose=False).prepare_data()
        threads = torch.get_num_threads()
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(run_unit, UnitSpec(**{**spec.__dict__, "threads": threads})) for spec in specs]
            results = [future.result() for future in futures]
    else:
        results = [run_unit(spec, progress) for spec in specs]
    results.sort(key=lambda r: (TASKS.index(r.task), r.seed, MODELS.index(r.model_kind)))
    figure_runs: dict[str, dict[str, RunResult]] = {}
    figure_protocols: dict[str, dict[str, EnergyProtocol]] = {}
    for run in results:
        if run.seed != min(seeds_of[run.task]):
            continue
        figure_runs.setdefault(run.task, {})[run.model_kind] = run
        if run.task not in figure_protocols:
            data = _evaluation_datamodule(run.task, run.data_hparams, cache_dir)
            figure_protocols[run.task] = {
                "paper": paper_protocol(run.task, data, seed=run.seed, n_starts=3 if quick else PAPER_N_STARTS),
                "physical": physical_protocol(run.task, data, max_starts=5 if quick else None),
            }
    table = format_table(results, figure_protocols, tol=tol)
    header = ("# Table 1 of Greydanus et al. 2019, reproduced\n\n"
              + (f"Command: `{command}`\n\n" if command else "")
              + ("Models: trained by scripts/train.py's path with configs/<model>_<task>.yaml (val_fraction 0)."
                 if checkpoints is None else f"Models: checkpoints from {checkpoints}.")
              + ("  QUICK MODE (tiny training, few starts): not a reproduction.\n\n" if quick else "\n\n"))
    table_path = out_dir / "table1.md"
    figure_path = out_dir / "table1.png"
    results_path = out_dir / "results.json"
    _atomic_write_text(table_path, header + table)
    plot_table_figure(figure_path, figure_runs, figure_protocols, tol=tol)
    seconds = time.perf_counter() - start_all
    payload = {"command": command, "quick": quick, "seconds": seconds, "runs": [r.summary() for r in results]}
    _atomic_write_text(results_path, json.dumps(payload, indent=2) + "\n")
    if export_dir is not None:
        export_pretrained(results, export_dir, command, cache_dir)
        progress(f"exported seed-0 checkpoints and manifest.json to {export_dir}")
    return Table1Output(table=table, table_path=str(table_path), figure_path=str(figure_path),
                        results_path=str(results_path), results=results, seconds=seconds)
