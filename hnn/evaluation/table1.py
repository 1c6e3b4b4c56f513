"""The Table 1 protocol of Greydanus, Dzamba & Yosinski (2019), "Hamiltonian Neural Networks", for baseline and HNN.

Metrics per (model, task, seed), all through :func:`hnn.evaluation.evaluate_rollouts`:

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

This module holds the protocols, the per-model evaluation, the table and the figure (pure functions of models and
results). Training, loading and export — the experiment that runs them — is :mod:`hnn.experiments.table1`
(``python scripts/evaluate.py``, ``hnn-table1``).
"""
from __future__ import annotations

import dataclasses
import os
import statistics
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor

from hnn.data.reference import ReferenceRollouts, RolloutGroup
from hnn.evaluation.metrics import RolloutReport, derivative_mse, evaluate_rollouts
from hnn.io import atomic_save_figure
from hnn.validate import check_choice, check_int

__all__ = [
    "TASKS", "MODELS", "MODEL_LABELS", "TASK_TITLES", "PAPER_ENERGY_MSE", "PROTOCOLS", "RunResult",
    "paper_protocol", "physical_protocol", "evaluation_datamodule", "evaluate_model", "format_table",
    "plot_table_figure", "sample_box_starts", "SPRING_TIME_RESCALE", "ROLLOUT_TOL", "PAPER_N_STARTS",
]

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
PHYSICAL_ENERGY_LABELS = {"spring": "q² + p²", "pendulum": "3(1 − cos q) + p²", "two_body": "total energy"}
EVAL_SEED_OFFSET = 1000  # generator seed of the paper-faithful starting points: EVAL_SEED_OFFSET + training seed
ROLLOUT_METHOD = "torchdiffeq:dopri5"
ROLLOUT_TOL = 1e-12
FIGURE_POINTS = 1000  # dense output times of the (b) rollouts, drawn in the figure's trajectory and energy panels


# ---------------------------------------------------------------------------------------------------- protocols
def sample_box_starts(n: int, generator: torch.Generator) -> Tensor:
    """The analysis notebooks' starting points, float64 ``[n, 2]``: each coordinate ±U[0.2, 1.0].

    ``x0 = rand(2)·1.6 − 0.8; x0 += 0.2·sign(x0)`` (a coordinate of exactly 0 — probability 0 — stays 0 there).
    """
    x0 = torch.rand(n, 2, generator=generator, dtype=torch.float64) * 1.6 - 0.8
    return x0 + 0.2 * torch.sign(x0)


def _quadratic_energy(x: Tensor) -> Tensor:
    """H_ref = q² + p² (the notebooks' ``energy_loss``: ``(x**2).sum(1)``)."""
    return x.square().sum(-1)


def _recorded_protocol(name: str, datamodule: Any) -> ReferenceRollouts:
    """The real pendulum: the data module's own reference, one rollout over the recorded test block."""
    reference = datamodule.reference_rollouts("test")
    if name == "physical":
        reference = dataclasses.replace(reference, description=reference.description + " (no ground-truth system: "
                                        "the recording is the only reference, as in (a))")
    return reference


def paper_protocol(task: str, datamodule: Any, seed: int = 0, n_starts: int = PAPER_N_STARTS) -> ReferenceRollouts:
    """Protocol (a): starting points, horizon and H_ref exactly as the paper's analysis notebook of ``task``.

    ``datamodule`` provides the ground-truth ``system`` (a ``HamiltonianDataModule`` of the task); random starting
    points come from a ``torch.Generator`` seeded with ``EVAL_SEED_OFFSET + seed``. See the module docstring.
    """
    check_choice("task", task, TASKS)
    check_int("n_starts", n_starts, minimum=1)
    if task == "real_pendulum":
        return _recorded_protocol("paper", datamodule)
    system = datamodule.system
    generator = torch.Generator().manual_seed(EVAL_SEED_OFFSET + int(seed))
    horizon, n_times = PAPER_HORIZON[task], PAPER_N_TIMES[task]
    common = {"system": system, "conservative": True}
    if task == "two_body":
        x0 = system.sample_initial(n_starts, generator, dtype=torch.float64)
        t = torch.linspace(0.0, horizon, n_times, dtype=torch.float64)
        return ReferenceRollouts.single(
            x0, t, system.trajectory(x0, t), energy=system.hamiltonian, energy_label="total energy", **common,
            description=f"{n_starts} orbits from the training distribution, t in [0, {horizon:g}] ({n_times} points)")
    x0 = sample_box_starts(n_starts, generator)
    box = f"{n_starts} starts with coordinates ±U[0.2, 1.0]"
    if task == "pendulum":
        t = torch.linspace(0.0, horizon, n_times, dtype=torch.float64)
        return ReferenceRollouts.single(x0, t, system.trajectory(x0, t), energy=_quadratic_energy,
                                        energy_label="q² + p²", **common,
                                        description=f"{box}, t in [0, {horizon:g}] ({n_times} points)")
    # spring: the notebook's compounding in-place time rescale (module docstring)
    r = SPRING_TIME_RESCALE
    groups = []
    for i in range(n_starts):
        t_truth = torch.linspace(0.0, horizon * r ** (i + 1), n_times, dtype=torch.float64)
        t_model = torch.linspace(0.0, horizon * r ** (i + 2), n_times, dtype=torch.float64)
        start = x0[i:i + 1]
        groups.append(RolloutGroup(x0=start, t_model=t_model, t_truth=t_truth, truth=system.trajectory(start, t_truth)))
    last = horizon * r ** (n_starts + 1)
    return ReferenceRollouts(
        groups=groups, energy=_quadratic_energy, energy_label="q² + p²", **common,
        description=f"{box}, {n_times} points; the notebook's in-place time rescale x{r:g} compounds: model horizon "
                    f"20·{r:g}^(i+2) = {horizon * r ** 2:.1f} .. {last:.1f}")


def physical_protocol(task: str, datamodule: Any, max_starts: int | None = None) -> ReferenceRollouts:
    """Protocol (b): the data module's own reference rollouts of the test split (noiseless test starts, the system's
    true H) at the paper's horizon and number of times."""
    check_choice("task", task, TASKS)
    if task == "real_pendulum":
        return _recorded_protocol("physical", datamodule)
    limit = PHYSICAL_MAX_STARTS[task] if max_starts is None else check_int("max_starts", max_starts, minimum=1)
    reference = datamodule.reference_rollouts("test", n_starts=limit, horizon=PAPER_HORIZON[task],
                                              n_times=PAPER_N_TIMES[task])
    return dataclasses.replace(reference, energy_label=PHYSICAL_ENERGY_LABELS[task])


# ---------------------------------------------------------------------------------------------------- metrics
@dataclass
class RunResult:
    """Everything measured for one trained (model, task, seed)."""

    model_kind: str
    task: str
    seed: int
    train_mse: float
    test_mse: float
    energy: dict[str, RolloutReport]
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


def evaluation_datamodule(task: str, data_hparams: dict[str, Any], cache_dir: str | None) -> Any:
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
    data = evaluation_datamodule(task, data_hparams, cache_dir)
    param = next(model.parameters(), None) if isinstance(model, torch.nn.Module) else None
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else torch.device("cpu")
    mse = {}
    for split in ("train", "test"):
        x, dxdt = data.pairs(split)
        mse[split] = derivative_mse(model, x.to(device=device, dtype=dtype), dxdt.to(device=device, dtype=dtype))
    energy = {}
    for name, protocol in (("paper", paper_protocol(task, data, seed=seed, n_starts=n_starts)),
                           ("physical", physical_protocol(task, data, max_starts=max_physical_starts))):
        report = evaluate_rollouts(model, protocol, method=ROLLOUT_METHOD, rtol=rtol, atol=atol,
                                   dense_points=FIGURE_POINTS if name == "physical" else None)
        if not report.finite:
            raise RuntimeError(f"{task}: the {name} rollout of {type(model).__name__} produced non-finite states")
        energy[name] = report
    return RunResult(model_kind=model_kind, task=task, seed=seed, train_mse=mse["train"], test_mse=mse["test"],
                     energy=energy, model=model)


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


def format_table(results: Sequence[RunResult], protocols: dict[str, dict[str, ReferenceRollouts]] | None = None,
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
    lines.append("Values: mean ± sample standard deviation (n − 1) over the listed training seeds (one value: one seed).")
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


def _dense_rollouts(runs: dict[str, RunResult], protocol: ReferenceRollouts) -> tuple[Tensor, Tensor, Tensor,
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
                      protocols: dict[str, dict[str, ReferenceRollouts]], tol: float = ROLLOUT_TOL) -> str:
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


