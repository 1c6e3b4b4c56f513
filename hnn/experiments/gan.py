"""The Hamiltonian-GAN experiment: ``python scripts/evaluate_gan.py``.

For each system (spring, pendulum) and motion model — the Hamiltonian GAN (``hgan_<system>.yaml``) and its twins,
the MLP vector field (``hgan_mlp_twin_<system>.yaml``) and the GRU (``hgan_gru_twin_<system>.yaml``), identical but
for the motion model:

1. **Learning rate**: the same grid (``--lrs``, default 2e-4 and 5e-4; both players) for every model, trained
   with the first training seed; the one with the lowest validation energy W₁ (``val`` split, ``--n`` generated
   sequences) is kept.
2. **Seeds**: the other training seeds (``--seeds``, default 0 1 2) at the chosen rate.
3. **Physics** (:func:`hnn.evaluation.gan_report`): ``--n`` generated sequences against the held-out ``test`` split,
   beside the floors of ``test`` against the disjoint ``reference`` split.

Prints per system and model the mean and range over seeds of energy W₁ (and W₁ / floor), energy drift, physics
residual, MMD² and the changed-dt residuals; the goals (the Hamiltonian GAN's drift and residual ≤ 0.5× the best
twin's, its W₁ ≤ 2× the floor) with met / MISSED; writes ``results.json`` (rewritten after every run,
``"complete": false`` until the end), ``gan.md`` and ``gan_<system>.png`` (real / Hamiltonian / twins, seed 0) to
``--out``, and logs the figures, the table and the goals to one wandb run (offline by default; off with
``WANDB_MODE=disabled``). The data is noiseless and generated on the fly (seed 0 for every run). ``--quick``: tiny runs for CI.

``--video``: the same protocol for the video GANs (``hgan_video_<model>_<system>.yaml``: pendulum clips, 32 px),
every metric read off the frames by the analytic probe (:func:`hnn.evaluation.gan_report`), plus the period match
and the frame MMD²; the figures are ``gan_video_<system>.gif`` (real / Hamiltonian / twins side by side) and
``gan_video_<system>.png`` (frame strips with the read-off energy under each), logged to wandb as a video and an
image.

``--prior CKPT [CKPT ...]``: no training; the energy-based prior (:func:`hnn.evaluation.canonical_prior_report`) of
trained Hamiltonian GANs, one checkpoint per training seed: the latent initial state drawn from exp(−H_θ/T) at
τ = T / T₀ in ``--temperatures``, the true energy of the generated motion against τ. Writes ``prior.json``,
``prior.md`` (median and range over the checkpoints) and ``prior_<system>.png``, and logs the figures and the table
to a wandb run named ``evaluate_gan_prior``.
"""
from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from hnn.experiments.jobs import run_jobs
from hnn.io import atomic_write_text
from hnn.paths import config_file
from hnn.validate import check_int

__all__ = ["GANRun", "training_argv", "run_one", "aggregate", "format_table", "draw_figures", "draw_video_figures",
           "recorded_data", "run_prior", "format_prior_table", "main", "MODELS", "SYSTEMS"]

SYSTEMS = ("spring", "pendulum")
MODELS = {"hgan": "Hamiltonian GAN (learned H, leapfrog)", "hgan_mlp_twin": "twin: MLP vector field (rk4)",
          "hgan_gru_twin": "twin: GRU"}
GOAL_RATIO_TO_TWIN = 0.5  # drift and residual of the Hamiltonian GAN ≤ this × the best twin's
GOAL_W1_TO_FLOOR = 2.0  # energy W₁ ≤ this × the real-vs-real floor
METRICS = ("energy_w1", "energy_drift", "physics_residual", "mmd2", "residual_half_dt", "residual_double_dt",
           "residual_reversed")
VIDEO_METRICS = ("period_error", "frame_mmd2")
VIDEO_SYSTEMS = ("pendulum",)  # the systems with video configs
QUICK = {"max_steps": 20, "n_data": 64, "n": 64, "permutations": 20}
PRIOR_TEMPERATURES = (0.25, 0.5, 1.0, 2.0, 4.0)  # τ = T / T₀, T₀ the learned energy's spread over the noise map
# the prior's sampler: replica exchange, since the pendulum's H_θ (an MLP of the unwrapped angle) has a well per
# turn the noise map reaches, and NUTS chains stayed in theirs (R-hat 1.10 at τ = 0.5; 1.01-1.02 with tempering)
PRIOR_SAMPLING = {"sampler": "tempering", "num_replicas": 8, "max_temperature": 20.0, "box_samples": 2000,
                  "num_warmup": 500, "chains": 4, "thin": 4}
PRIOR_QUICK = {"sampler": "tempering", "num_replicas": 4, "max_temperature": 20.0, "box_samples": 100,
               "num_warmup": 50, "chains": 2}  # a smoke run


@dataclass(frozen=True)
class GANRun:
    """One training run to make: plain data, so it can go to a worker process."""

    system: str
    model: str
    seed: int
    lr: float
    out: str
    max_steps: int | None = None
    n: int = 2000
    permutations: int = 500
    quick: bool = False
    video: bool = False

    @property
    def config_name(self) -> str:
        """The shipped config: ``<model>_<system>``, or ``hgan_video[_twin]_<system>`` for the video GANs."""
        model = self.model.replace("hgan", "hgan_video", 1) if self.video else self.model
        return f"{model}_{self.system}"


@dataclass
class GANResult:
    system: str
    model: str
    seed: int
    lr: float
    checkpoint: str
    val_energy_w1: float
    report: dict[str, Any]
    train_seconds: float
    steps: int
    parameters: int
    seconds: float = 0.0
    chosen: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def training_argv(run: GANRun) -> list[str]:
    """The training program's arguments of ``run``: the shipped config, the seed, both learning rates."""
    name = run.config_name
    argv = ["--config", str(config_file(name)), "--seed_everything", str(run.seed),
            "--model.init_args.generator_optimizer.init_args.lr", repr(run.lr),
            "--model.init_args.discriminator_optimizer.init_args.lr", repr(run.lr),
            "--trainer.default_root_dir", str(Path(run.out) / "runs"),
            "--run_name", f"{name}_lr{run.lr:g}_seed{run.seed}",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--evaluate", "false"]
    if run.max_steps is not None:
        argv += ["--trainer.max_steps", str(run.max_steps)]
    if run.quick:
        # one validation (the physics monitor) in a video run's 5 epochs, every epoch otherwise
        argv += ["--trainer.max_steps", str(QUICK["max_steps"]), "--trainer.check_val_every_n_epoch",
                 "5" if run.video else "1"]
        for split in ("n_train", "n_val", "n_test", "n_reference"):
            argv += [f"--data.init_args.{split}", str(QUICK["n_data"])]
    return argv


def _log(line: str) -> None:
    print(line, flush=True)


def run_one(run: GANRun) -> GANResult:
    """Train ``run`` and measure it (validation W₁ and the test :func:`hnn.evaluation.gan_report`)."""
    from hnn.evaluation.gan import gan_report, validation_metrics
    from hnn.training.cli import run_training

    start = time.perf_counter()
    _log(f"  training {run.model} on {run.system} (lr {run.lr:g}, seed {run.seed})")
    result = run_training(training_argv(run))
    if result.last_checkpoint is None:
        raise RuntimeError(f"training {run.model} on {run.system} wrote no checkpoint")
    model, data = result.model.eval(), result.datamodule
    n = QUICK["n"] if run.quick else run.n
    permutations = QUICK["permutations"] if run.quick else run.permutations
    val = validation_metrics(model, data, n)["energy_w1"]
    report = gan_report(model, data, n=n, permutations=permutations)
    parameters = sum(p.numel() for p in model.field.parameters())
    return GANResult(run.system, run.model, run.seed, run.lr, result.last_checkpoint, val, report, result.seconds,
                     result.steps, parameters, seconds=time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------------- the table
def _stats(values: Sequence[float | None]) -> dict[str, Any] | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values), "values": values}


def aggregate(results: Sequence[GANResult]) -> dict[str, Any]:
    """Per system and model (chosen learning rate only): mean / min / max over seeds of every metric and of the
    floors, and the goals."""
    table: dict[str, Any] = {}
    for system in SYSTEMS:
        rows = {}
        for model in MODELS:
            chosen = [r for r in results if r.system == system and r.model == model and r.chosen]
            if not chosen:
                continue
            row = {key: _stats([r.report.get(key) for r in chosen]) for key in METRICS + VIDEO_METRICS}
            row["w1_to_floor"] = _stats([r.report["energy_w1"] / r.report["energy_w1_floor"] for r in chosen])
            row.update(lr=chosen[0].lr, seeds=[r.seed for r in chosen], parameters=chosen[0].parameters,
                       floors={key: _stats([r.report.get(key) for r in chosen]) for key in
                               ("energy_w1_floor", "energy_drift_data", "physics_residual_data", "mmd2_floor",
                                "period_error_data", "frame_mmd2_floor")},
                       train_seconds=_stats([r.train_seconds for r in chosen]))
            rows[model] = row
        if not rows:
            continue
        goals = {}
        twins = [rows[m] for m in rows if m != "hgan"]
        if "hgan" in rows and twins:
            h = rows["hgan"]
            for key in ("energy_drift", "physics_residual"):
                best = min(t[key]["mean"] for t in twins)
                goals[key] = {"hgan": h[key]["mean"], "best_twin": best, "ratio": h[key]["mean"] / best,
                              "goal": GOAL_RATIO_TO_TWIN, "met": h[key]["mean"] <= GOAL_RATIO_TO_TWIN * best}
        if "hgan" in rows:
            ratio = rows["hgan"]["w1_to_floor"]["mean"]
            goals["energy_w1"] = {"ratio": ratio, "goal": GOAL_W1_TO_FLOOR, "met": ratio <= GOAL_W1_TO_FLOOR}
        table[system] = {"rows": rows, "goals": goals}
    return table


def _mr(s: dict[str, Any] | None, fmt: str = ".3g") -> str:
    if s is None:
        return "–"
    if len(s["values"]) == 1 or s["min"] == s["max"]:
        return format(s["mean"], fmt)
    return f"{s['mean']:{fmt}} ({s['min']:{fmt}}–{s['max']:{fmt}})"


def format_table(table: dict[str, Any], quick: bool = False) -> str:
    """Markdown: per system a row per model (mean (min–max) over seeds), the floors, the goals."""
    lines = []
    for system, entry in table.items():
        rows = entry["rows"]
        floors = next(iter(rows.values()))["floors"]
        video = any(row.get("frame_mmd2") is not None for row in rows.values())
        extra = " period error | frame MMD² |" if video else ""
        lines += [f"### {system}" + (" (videos: states read off the frames)" if video else "")
                  + (" (QUICK: not a result)" if quick else ""), "",
                  "| motion model | lr | params | energy W₁ | W₁ / floor | energy drift | physics residual | MMD² | "
                  "residual dt/2 | residual 2dt | residual reversed |" + extra, "|" + "---|" * (13 if video else 11)]
        for model, row in rows.items():
            keys = ("energy_w1", "w1_to_floor", "energy_drift", "physics_residual", "mmd2", "residual_half_dt",
                    "residual_double_dt", "residual_reversed") + (VIDEO_METRICS if video else ())
            cells = [MODELS[model], f"{row['lr']:g}", str(row["parameters"])] + [_mr(row[k]) for k in keys]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append(f"| real data (floor) | – | – | {_mr(floors['energy_w1_floor'])} | 1 | "
                     f"{_mr(floors['energy_drift_data'])} | {_mr(floors['physics_residual_data'])} | "
                     f"{_mr(floors['mmd2_floor'])} | – | – | – |"
                     + (f" {_mr(floors['period_error_data'])} | {_mr(floors['frame_mmd2_floor'])} |" if video else ""))
        lines.append("")
        for key, g in entry["goals"].items():
            if key == "energy_w1":
                lines.append(f"- goal energy W₁ ≤ {g['goal']:g}× floor: {g['ratio']:.2f}× — "
                             f"{'met' if g['met'] else 'MISSED'}")
            else:
                lines.append(f"- goal {key.replace('_', ' ')} ≤ {g['goal']:g}× the best twin's: {g['hgan']:.3g} vs "
                             f"{g['best_twin']:.3g} ({g['ratio']:.2f}×) — {'met' if g['met'] else 'MISSED'}")
        lines.append("")
    lines.append("Mean (min–max) over training seeds at the learning rate chosen on validation energy W₁; "
                 "metrics on generated sequences against the held-out test split, floors: test against the "
                 "disjoint reference split (noiseless data); residual: one-step distance from the exact flow over "
                 "the step length; changed dt: the same noise with the latent step ×½, ×2 and −1 (reversed)."
                 + (" Videos: every state is read off the frames by the analytic probe (the floors too); period "
                    "error: median |ω_dom/ω_E − 1| of the read-off q(t); frame MMD²: RBF MMD² of 1 000 frames "
                    "(floor: test vs reference); FVD needs I3D weights and is not computed."
                    if any(row.get("frame_mmd2") is not None for entry in table.values()
                           for row in entry["rows"].values()) else ""))
    return "\n".join(lines)


def _seed_runs(results: Sequence[GANResult], seed: int):
    """Per system with runs: (system, {model: chosen-lr run of training seed ``seed``}, the first one loaded)."""
    import hnn

    for system in SYSTEMS:
        chosen = {r.model: r for r in results if r.system == system and r.chosen and r.seed == seed}
        if chosen:
            yield system, chosen, hnn.load(next(iter(chosen.values())).checkpoint)


def draw_video_figures(results: Sequence[GANResult], out: Path, seed: int = 0, n_show: int = 4) -> list[str]:
    """``gan_video_<system>.gif`` (clips: real / Hamiltonian GAN / twins side by side, training seed ``seed``, chosen
    lr) and ``gan_video_<system>.png`` (a frame strip of each with the energy read off its clips under it)."""
    import hnn
    from hnn.data import VideoDataModule
    from hnn.evaluation.figures import draw_clip_strips, write_clips_gif
    from hnn.evaluation.video import read_states

    paths = []
    for system, chosen, first in _seed_runs(results, seed):
        size = int(first.decoder.image_size)
        data = VideoDataModule(system, image_size=size, steps=first.hparams.steps, dt=first.hparams.dt, n_train=1,
                               n_val=1, n_test=n_show, n_reference=1)
        panels = {"real": data.clips("test")}
        generator_seed = torch.Generator().manual_seed(1)
        for model, r in chosen.items():
            gan = hnn.load(r.checkpoint).eval()
            with torch.no_grad():
                panels[MODELS[model].split(" (")[0].replace("twin: ", "")] = gan.generate(
                    n_show, generator=generator_seed).detach().cpu()
        with torch.no_grad():
            energies = {k: data.system.hamiltonian(read_states(v, data.spec, data.dt)) for k, v in panels.items()}
        paths.append(write_clips_gif(str(out / f"gan_video_{system}.gif"), panels, n_show=n_show))
        paths.append(draw_clip_strips(str(out / f"gan_video_{system}.png"), panels, energies, data.times(),
                                      n_show=n_show, title=f"{system} videos: real and generated (training seed "
                                                           f"{seed}; energy read off the frames)"))
    return paths


def draw_figures(results: Sequence[GANResult], out: Path, seed: int = 0, n_show: int = 8) -> list[str]:
    """``gan_<system>.png``: real / Hamiltonian GAN / twins (training seed ``seed``, chosen lr) side by side."""
    import hnn
    from hnn.data import TrajectoryDataModule
    from hnn.evaluation.figures import draw_trajectory_panels

    paths = []
    for system, chosen, first in _seed_runs(results, seed):
        data = TrajectoryDataModule(system, steps=first.hparams.steps, dt=first.hparams.dt, n_train=1, n_val=1,
                                    n_test=n_show, n_reference=1)
        panels = {"real": data.trajectories("test")}
        generator_seed = torch.Generator().manual_seed(1)
        for model, r in chosen.items():
            gan = hnn.load(r.checkpoint)
            with torch.no_grad():
                panels[MODELS[model].split(" (")[0]] = gan.read_state(gan.generate(n_show, generator=generator_seed))
        energies = {k: data.system.hamiltonian(v.double()) for k, v in panels.items()}
        path = str(out / f"gan_{system}.png")
        paths.append(draw_trajectory_panels(path, panels, energies, data.times(),
                                            title=f"{system}: real and generated trajectories (training seed {seed})",
                                            n_show=n_show))
    return paths


def log_to_wandb(out: Path, table: dict[str, Any], text: str, figures: Sequence[str],
                 name: str = "evaluate_gan") -> str | None:
    """One wandb run (offline unless the user's settings say otherwise; none when ``WANDB_MODE=disabled``) with the
    comparison figures, the table as text and the goals in its summary; returns the mode used, None when off."""
    from hnn.training.cli import wandb_mode

    mode = wandb_mode()
    if mode == "disabled":
        return None
    import wandb

    run = wandb.init(project="hnn", name=name, dir=str(out), mode="offline" if mode == "dryrun" else mode,
                     job_type="evaluation")
    try:
        media = {Path(p).stem + ("_video" if p.endswith(".gif") else ""):
                 wandb.Video(p, format="gif") if p.endswith(".gif") else wandb.Image(p) for p in figures}
        run.log(media | {"table": wandb.Html(f"<pre>{text}</pre>")})
        for system, entry in table.items():
            for key, goal in entry["goals"].items():
                run.summary[f"{system}/{key}_ratio"] = goal["ratio"]
                run.summary[f"{system}/{key}_met"] = goal["met"]
    finally:
        run.finish()
    return mode


# ---------------------------------------------------------------------------------------------------- the prior
def recorded_data(checkpoint: str | Path, model: Any) -> Any:
    """The data module a GAN checkpoint was trained on, rebuilt from the settings recorded in it (a clip module
    for a frame GAN, else a trajectory module); a checkpoint with no recorded data settings is a ValueError."""
    import inspect

    from hnn.data import TrajectoryDataModule, VideoDataModule
    from hnn.training.checkpoint import read_checkpoint

    record = read_checkpoint(checkpoint).get("datamodule_hyper_parameters")
    if not isinstance(record, dict) or "system" not in record:
        raise ValueError(f"{str(checkpoint)!r} records no data settings (no datamodule_hyper_parameters with a "
                         "system); it was not written by scripts/train.py")
    cls = VideoDataModule if getattr(model, "frames", False) else TrajectoryDataModule
    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in record.items() if k in accepted})


def run_prior(checkpoints: Sequence[str], temperatures: Sequence[float] = PRIOR_TEMPERATURES, n: int = 500,
              quick: bool = False) -> list[dict[str, Any]]:
    """:func:`hnn.evaluation.canonical_prior_report` of each checkpoint (a trained Hamiltonian GAN), with its
    ``system``, ``checkpoint`` and ``label`` (the run folder's name) added; prints a line per temperature."""
    import hnn
    from hnn.evaluation.gan import canonical_prior_report
    from hnn.models import HamiltonianGAN

    reports = []
    for checkpoint in checkpoints:
        model = hnn.load(checkpoint, expected_class=HamiltonianGAN)
        data = recorded_data(checkpoint, model)
        system = str(data.hparams.system)
        folders = [part for part in Path(checkpoint).parent.parts
                   if part != "checkpoints" and not part.startswith("version_")]
        label = folders[-1] if folders else Path(checkpoint).stem  # the run's name: runs/<name>/version_k/checkpoints
        _log(f"  prior of {label} ({system}, {checkpoint})")
        report = canonical_prior_report(model, data, temperatures=tuple(temperatures), n=n,
                                        progress=lambda line: _log("    " + line),
                                        **(PRIOR_QUICK if quick else PRIOR_SAMPLING))
        reports.append({"system": system, "checkpoint": str(checkpoint), "label": label, **report})
    return reports


def _median_range(values: Sequence[float], fmt: str = ".3g") -> str:
    if len(values) == 1 or min(values) == max(values):
        return format(values[0], fmt)
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"


def format_prior_table(reports: Sequence[dict[str, Any]], quick: bool = False) -> str:
    """Markdown: per system a row per τ, median (min–max) over the checkpoints of the generated sequences' true
    energy (median, 10 % and 90 % quantiles, mean), the mean learned H_θ of the starts and the energy drift; the
    data's and the noise map's true energy beside them."""
    lines = []
    for system in sorted({r["system"] for r in reports}):
        runs = [r for r in reports if r["system"] == system]
        lines += [f"### {system}: latent starts from exp(−H_θ/T), T = τ·T₀ ({len(runs)} run(s))"
                  + (" (QUICK: not a result)" if quick else ""), "",
                  "| τ | T | true energy: median | q10 | q90 | mean | mean / T | mean H_θ of the starts | "
                  "energy drift |", "|" + "---|" * 9]
        for j, row in enumerate(runs[0]["rows"]):
            cells = [f"{row['tau']:g}", _median_range([r["rows"][j]["temperature"] for r in runs])]
            cells += [_median_range([r["rows"][j][k] for r in runs]) for k in ("median", "q10", "q90", "mean")]
            cells.append(_median_range([r["rows"][j]["mean"] / r["rows"][j]["temperature"] for r in runs]))
            cells += [_median_range([r["rows"][j][k] for r in runs]) for k in ("learned_energy_mean", "energy_drift")]
            lines.append("| " + " | ".join(cells) + " |")
        for name, key in (("noise map (the trained prior)", "noise_map"), ("data (test split)", "data")):
            cells = [name, "–"] + [_median_range([r[key][k] for r in runs]) for k in ("median", "q10", "q90", "mean")]
            lines.append("| " + " | ".join(cells) + " | – | – | – |")
        lines.append("")
    lines.append("Median (min–max) over the checkpoints; T₀ = std of H_θ over the noise map's starts; the starts are "
                 "confined to the box the noise map covers (±10 %); true energy: the system's H averaged over a "
                 "generated sequence, read back as the GAN protocol reads it. mean / T is 1 when H_θ = H + const on "
                 "a quadratic H with one degree of freedom (equipartition: ⟨q² + p²⟩ = T), until the box truncates "
                 "the ensemble.")
    return "\n".join(lines)


def prior_main(args: argparse.Namespace, command: str) -> int:
    from hnn.evaluation.figures import draw_canonical_prior

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n = QUICK["n"] if args.quick else args.n
    print(f"evaluate_gan --prior: {len(args.prior)} checkpoint(s), τ {list(args.temperatures)}, {n} starts each "
          f"-> {out}" + (" (QUICK)" if args.quick else ""), flush=True)
    start = time.perf_counter()
    reports = run_prior(args.prior, args.temperatures, n=n, quick=args.quick)
    payload = {"command": command, "quick": args.quick, "temperatures": list(args.temperatures), "n": n,
               "reports": reports, "seconds": time.perf_counter() - start}
    atomic_write_text(out / "prior.json", json.dumps(payload, indent=1) + "\n")
    text = format_prior_table(reports, quick=args.quick)
    atomic_write_text(out / "prior.md", text + "\n")
    figures = [draw_canonical_prior(str(out / f"prior_{system}.png"), [r for r in reports if r["system"] == system],
                                    title=f"{system}: a Hamiltonian GAN's latent starts drawn from exp(−H_θ/T)")
               for system in sorted({r["system"] for r in reports})]
    logged = log_to_wandb(out, {}, text, figures, name="evaluate_gan_prior")
    print()
    print(text)
    print(f"wrote {out / 'prior.json'}, {out / 'prior.md'}, {', '.join(figures)} in "
          f"{time.perf_counter() - start:.0f} s" + (f"; wandb ({logged}) under {out / 'wandb'}" if logged else ""))
    return 0


# ---------------------------------------------------------------------------------------------------- the program
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="training seeds (the first picks the lr)")
    p.add_argument("--lrs", nargs="+", type=float, default=[2e-4, 5e-4],
                   help="the learning-rate grid, both players (default 2e-4, the HGAN paper's, and 5e-4: at 2e-4 the "
                        "spring GAN was still improving after 3000 steps)")
    p.add_argument("--max-steps", type=int, default=None, help="training steps (default: the configs')")
    p.add_argument("--n", type=int, default=2000, help="generated sequences per measurement")
    p.add_argument("--permutations", type=int, default=500, help="MMD permutations")
    p.add_argument("--jobs", type=int, default=1, help="worker processes, one training run each")
    p.add_argument("--out", default="gan_eval")
    p.add_argument("--quick", action="store_true", help="smoke run: 20 steps on 64 trajectories, one lr, one seed")
    p.add_argument("--video", action="store_true",
                   help="the video GANs (hgan_video_*.yaml; pendulum only), judged from their pixels; GIF and PNG")
    p.add_argument("--prior", nargs="+", metavar="CKPT", default=None,
                   help="no training: the energy-based prior of these trained Hamiltonian GANs (one per seed)")
    p.add_argument("--temperatures", nargs="+", type=float, default=list(PRIOR_TEMPERATURES),
                   help="--prior: τ = T / T₀ (default %(default)s)")
    args = p.parse_args(argv)
    if any(not t > 0 or t != t or t == float("inf") for t in args.temperatures):
        p.error(f"--temperatures must be finite and > 0, got {args.temperatures}")
    if args.video:
        given = sys.argv[1:] if argv is None else argv
        if not any(a == "--systems" or a.startswith("--systems=") for a in given):
            args.systems = list(VIDEO_SYSTEMS)
        unknown = [s for s in args.systems if s not in VIDEO_SYSTEMS]
        if unknown:
            p.error(f"--video: no video configs for {', '.join(unknown)} (only {', '.join(VIDEO_SYSTEMS)})")
    check_int("jobs", args.jobs, minimum=1)
    check_int("n", args.n, minimum=2)
    if args.quick:
        args.seeds, args.lrs = args.seeds[:1], args.lrs[:1]
    for lr in args.lrs:
        if not lr > 0:
            raise SystemExit(f"error: --lrs must be positive, got {lr!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python scripts/evaluate_gan.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None
                                                                                   else argv))
    if args.prior:
        return prior_main(args, command)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    common = dict(out=str(out), max_steps=args.max_steps, n=args.n, permutations=args.permutations, quick=args.quick,
                  video=args.video)
    first, rest = args.seeds[0], args.seeds[1:]
    units = [GANRun(system, model, first, lr, **common) for system in args.systems for model in args.models
             for lr in args.lrs]
    print(f"evaluate_gan{' (videos)' if args.video else ''}: {', '.join(args.systems)} × {', '.join(args.models)}; lr grid {args.lrs} on seed {first}, "
          f"then seeds {rest or '–'}; {len(units)} + {len(args.systems) * len(args.models) * len(rest)} runs on "
          f"{args.jobs} worker(s) -> {out}" + (" (QUICK)" if args.quick else ""), flush=True)
    start = time.perf_counter()
    results: list[GANResult] = []

    def write(complete: bool) -> dict[str, Any]:
        table = aggregate(results)
        payload = {"command": command, "complete": complete, "quick": args.quick, "lrs": args.lrs,
                   "seeds": args.seeds, "n": args.n, "permutations": args.permutations, "table": table,
                   "runs": [r.as_dict() for r in results], "seconds": time.perf_counter() - start}
        atomic_write_text(out / "results.json", json.dumps(payload, indent=1) + "\n")
        return table

    def finished(index: int, result: GANResult) -> list[GANRun]:
        results.append(result)
        _log(f"  done [{time.perf_counter() - start:6.0f} s] {result.model} on {result.system} (lr {result.lr:g}, "
             f"seed {result.seed}): val W₁ {result.val_energy_w1:.4g}, test W₁ {result.report['energy_w1']:.4g} "
             f"(floor {result.report['energy_w1_floor']:.3g}), drift {result.report['energy_drift']:.3g}, residual "
             f"{result.report['physics_residual']:.3g} ({result.train_seconds:.0f} s training)")
        more: list[GANRun] = []
        grid = [r for r in results if r.system == result.system and r.model == result.model and r.seed == first]
        if result.seed == first and len(grid) == len(args.lrs):
            best = min(grid, key=lambda r: r.val_energy_w1)
            best.chosen = True
            _log(f"  {result.model} on {result.system}: lr {best.lr:g} chosen (val W₁ "
                 + ", ".join(f"{r.lr:g}: {r.val_energy_w1:.4g}" for r in sorted(grid, key=lambda r: r.lr)) + ")")
            more = [GANRun(result.system, result.model, seed, best.lr, **common) for seed in rest]
        elif result.seed != first:
            result.chosen = True
        write(complete=False)
        return more

    if args.jobs > 1:
        run_jobs(run_one, units, jobs=args.jobs, on_result=finished)
    else:
        queue, index = list(units), 0
        while queue:
            unit = queue.pop(0)
            queue += finished(index, run_one(unit))
            index += 1
    table = write(complete=True)
    text = format_table(table, quick=args.quick)
    atomic_write_text(out / "gan.md", text + "\n")
    figures = (draw_video_figures if args.video else draw_figures)(results, out, seed=first)
    logged = log_to_wandb(out, table, text, figures)
    print()
    print(text)
    print(f"\n{len(results)} runs in {time.perf_counter() - start:.0f} s; results {out / 'results.json'}, table "
          f"{out / 'gan.md'}" + "".join(f", figure {p}" for p in figures)
          + (f"; wandb ({logged}) under {out / 'wandb'}" if logged else ""))
    return 0
