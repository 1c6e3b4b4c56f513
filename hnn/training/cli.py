"""The training program: a LightningCLI with hnn's defaults, run folders that resume in place, and the summary.

``hnn-train`` (installed) and ``python scripts/train.py`` both call :func:`main`. The default config is the shipped
``hnn_spring.yaml`` (an HNN on the paper's mass-spring), given to LightningCLI as its default config file; a
``--config`` of your own replaces it (it is not merged with it). Any ``class_path`` can be chosen; the data
module's ``dim`` is linked to the injected network's (``model.init_args.field.init_args.dim``), so configs never repeat
it. The optimizer is the model's injected ``optimizer`` (LightningCLI's separate ``optimizer:`` block
is switched off, so there is one place that sets it).

Defaults on top of Lightning's (each can be overridden):

- ``trainer.accelerator: auto``, ``trainer.inference_mode: false`` (HNNs differentiate H in validation/test),
  ``trainer.default_root_dir: runs``, ``seed_everything: 0``; one torch intra-op thread on the CPU (``--cpu_threads``);
- loggers: CSV always, plus wandb (offline unless ``WANDB_MODE`` or the user's wandb settings say otherwise; never
  prompts) when ``trainer.logger`` is left at ``true``; ``--trainer.logger false`` turns logging off;
- callbacks: :class:`~hnn.training.callbacks.RunCheckpoint` (Lightning's ``ModelCheckpoint``: the newest checkpoint +
  ``last.ckpt`` after each validation, or at each epoch end without one, and at the end of training; the loggers
  flushed at each checkpoint), :class:`FiniteLossGuard`,
  :class:`RolloutMonitor` (learned dynamics on ``HamiltonianDataModule``) or :class:`DensityFigure`
  (``EnergyModel``), :class:`FitTimer`, Lightning's TQDM progress bar redrawn every 20 steps
  (:class:`~hnn.training.callbacks.TrainingProgressBar`);
- ``trainer.profiler``: :class:`NoProfiler` (Lightning's no-op profiler without a context object per hook call);
- checkpoints written atomically (:class:`~hnn.training.checkpoint.AtomicCheckpointIO`).

Run layout: ``<default_root_dir>/<run_name>/version_<N>/`` holds ``metrics.csv``, ``config.yaml``,
``checkpoints/{epoch=E-step=S.ckpt,last.ckpt}``, ``phase_portraits/*.png`` and ``wandb/``; the run name defaults to
``<model>_<task>`` (``hnn_spring``). ``--ckpt_path last`` resumes the newest ``last.ckpt`` of the run name **in its
own version folder**: ``metrics.csv`` keeps the rows up to the checkpoint's step (later ones, logged after the
checkpoint by the interrupted run, are dropped) and continues; the wandb run resumes its id; a larger
``max_steps``/``max_epochs`` trains the remaining steps. A checkpoint from another place starts a new version.
"""
from __future__ import annotations

import configparser
import contextlib
import csv
import glob
import logging
import os
import re
import sys
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint, ProgressBar
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.loggers import CSVLogger, Logger
from pytorch_lightning.plugins.io import CheckpointIO
from pytorch_lightning.profilers import PassThroughProfiler

from hnn.io import atomic_write_text
from hnn.paths import config_file
from hnn.training.callbacks import (DensityFigure, FiniteLossGuard, FitTimer, FlushLogsAtCheckpoint,
                                    GANMonitor, NonFiniteLossError, RolloutMonitor, RunCheckpoint,
                                    TrainingProgressBar)
from hnn.training.checkpoint import AtomicCheckpointIO, CheckpointError, peek_class, read_checkpoint

__all__ = ["HNNLightningCLI", "build_cli", "run_training", "main", "TrainingResult", "wandb_mode", "DEFAULT_CONFIG",
           "run_name_of"]

DEFAULT_CONFIG = "hnn_spring.yaml"
TRAINER_DEFAULTS: dict[str, Any] = {"accelerator": "auto", "inference_mode": False, "default_root_dir": "runs"}


class NoProfiler(PassThroughProfiler):
    """Lightning's default profiler (no profiling), without the generator-based context it opens around every hook
    and loop stage (about 75 a training step). ``profile`` returns one shared no-op context. The default when
    ``trainer.profiler`` is not set; any Lightning profiler given in the config replaces it."""

    _context = contextlib.nullcontext()

    def profile(self, action_name: str) -> contextlib.AbstractContextManager:  # type: ignore[override]
        return self._context
# short names of the runs (and of the shipped configs): <model>_<task>
_RUN_PREFIX = {"HamiltonianField": "hnn", "DissipativeField": "dhnn", "BaselineField": "baseline",
               "EnergyModel": "ebm", "PortHamiltonianField": "phnn", "ControlledBaselineField": "baseline"}
# the Hamiltonian GAN's runs, named by their motion model: the Hamiltonian one and its twins
_GAN_PREFIX = {"HamiltonianField": "hgan", "BaselineField": "hgan_mlp_twin", "GRUMotion": "hgan_gru_twin"}
_VERSION_ENV = "HNN_RUN_VERSION"
_WANDB_ID_FILE = "wandb_run_id"


def wandb_mode() -> str:
    """The wandb mode to use: ``WANDB_MODE`` if set, else the mode in the user's wandb settings, else offline."""
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return mode
    config_dir = os.environ.get("WANDB_CONFIG_DIR") or os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config"), "wandb")
    settings = configparser.ConfigParser()
    try:
        settings.read([os.path.join(config_dir, "settings"), os.path.join("wandb", "settings")])
        configured = settings.get("default", "mode", fallback=None)
    except configparser.Error:
        configured = None
    return configured or "offline"


class _LightningTipFilter(logging.Filter):
    """Drops Lightning's advertisement for its hosted logger (printed on every run; not about this run)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith("💡 Tip")


def _quiet_known_noise() -> None:
    """Silence what a clean run would otherwise print that is not about the run (each named here)."""
    tip_filter = _LightningTipFilter()
    for name in ("pytorch_lightning.utilities.rank_zero", "lightning.pytorch.utilities.rank_zero"):
        logging.getLogger(name).addFilter(tip_filter)
    # Lightning 2.6's own _pytree helper calls a torch API that torch 2.13 deprecates (not our call; harmless)
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")
    os.environ.setdefault("WANDB_SILENT", "true")


def _read_metrics_until(path: str, step: int) -> list[dict[str, str]]:
    """Rows of an existing metrics.csv logged before optimizer step ``step`` (the rows a run resumed from a
    checkpoint at ``global_step = step`` keeps: Lightning logs the k-th step's metrics as ``step = k - 1``)."""
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row for row in rows if row.get("step") not in (None, "") and float(row["step"]) < step]


def _continue_metrics(logger: CSVLogger, resume_step: int) -> None:
    """Start the CSV logger of a resumed run in its old folder, keeping the metrics rows up to ``resume_step``.

    Lightning's CSV writer deletes an existing metrics.csv when it opens a folder that is not empty; the kept rows are
    saved to a side file first (atomically), written back through the writer, and the side file removed.
    """
    path = os.path.join(logger.log_dir, "metrics.csv")
    kept = _read_metrics_until(path, resume_step)
    side = path + ".resume"
    if kept:
        with open(path, newline="") as handle:
            atomic_write_text(side, handle.read())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Experiment logs directory .* exists and is not empty")
        writer = logger.experiment  # deletes metrics.csv
    if kept:
        writer.metrics = [{k: v for k, v in row.items() if v != ""} for row in kept]
        writer.save()
        os.remove(side)


def _default_loggers(root: str, run_name: str, version: int, resume_step: int | None) -> list[Logger]:
    csv_logger = CSVLogger(save_dir=root, name=run_name, version=version)
    if resume_step is None:
        _ = csv_logger.experiment  # create the version folder now, before wandb writes into it
    else:
        _continue_metrics(csv_logger, resume_step)
    loggers: list[Logger] = [csv_logger]
    mode = wandb_mode()
    if mode != "disabled":
        from pytorch_lightning.loggers import WandbLogger

        id_file = os.path.join(csv_logger.log_dir, _WANDB_ID_FILE)
        if os.path.isfile(id_file):
            run_id = Path(id_file).read_text().strip()
        else:
            run_id = uuid.uuid4().hex[:8]
            atomic_write_text(id_file, run_id + "\n")
        wandb_logger = WandbLogger(save_dir=csv_logger.log_dir, project="hnn", name=f"{run_name}-v{version}",
                                   id=run_id, offline=(mode in ("offline", "dryrun")), log_model=False)
        # Lightning always passes anonymous=None, which this wandb version warns about at every init
        if wandb_logger._wandb_init.get("anonymous") is None:
            wandb_logger._wandb_init.pop("anonymous", None)
        loggers.append(wandb_logger)
    return loggers


def _next_version(root: str, run_name: str) -> int:
    """The next free ``version_<N>`` under ``root/run_name``; DDP workers reuse the number rank 0 picked."""
    inherited = os.environ.get(_VERSION_ENV)
    if inherited is not None and os.environ.get("LOCAL_RANK", "0") != "0":
        return int(inherited)
    existing = []
    for path in glob.glob(os.path.join(root, run_name, "version_*")):
        suffix = os.path.basename(path)[len("version_"):]
        if suffix.isdigit():
            existing.append(int(suffix))
    return max(existing, default=-1) + 1


def _version_of_checkpoint(path: str) -> tuple[str, int] | None:
    """``(run folder's parent, N)`` when ``path`` is ``.../<run>/version_<N>/checkpoints/<file>``, else None."""
    parent = Path(path).resolve().parent
    match = re.fullmatch(r"version_(\d+)", parent.parent.name)
    if parent.name != "checkpoints" or match is None:
        return None
    return str(parent.parent.parent), int(match.group(1))


def run_name_of(config: Any) -> str:
    """``<model>_<task>`` from a parsed config (``hnn_spring``, ``baseline_two_body``, ``ebm_eight_gaussians``,
    ``phnn_Pendulum-v1``, ``hgan_pendulum``, ``hgan_video_pendulum``)."""
    model = config.get("model") or {}
    model_class = str(model.get("class_path", "model")).rsplit(".", 1)[-1]
    init_args = model.get("init_args") or {}
    field_config = init_args.get("field") if hasattr(init_args, "get") else None
    field_class = str(field_config["class_path"]).rsplit(".", 1)[-1] if hasattr(field_config, "get") and \
        field_config.get("class_path") else None
    if model_class == "HamiltonianGAN" and field_class:
        name = _GAN_PREFIX.get(field_class, f"hgan_{field_class.lower()}")
        if str((config.get("data") or {}).get("class_path", "")).endswith("VideoDataModule"):
            name = name.replace("hgan", "hgan_video", 1)  # hgan_video_pendulum, hgan_video_mlp_twin_pendulum
    else:
        if model_class == "DynamicsModule" and field_class:
            model_class = field_class
        name = _RUN_PREFIX.get(model_class, model_class.lower())
    data_args = (config.get("data") or {}).get("init_args") or {}
    task = next((data_args.get(k) for k in ("task", "density", "env_id", "system")
                 if hasattr(data_args, "get") and data_args.get(k)),
                None)
    return f"{name}_{task}" if task else name


class HNNLightningCLI(LightningCLI):
    """LightningCLI with hnn's defaults, run folders and resume (see the module docstring)."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--ckpt_path", type=str | None, default=None,
                            help="checkpoint to resume from, or 'last' for the newest last.ckpt of this run name")
        parser.add_argument("--run_name", type=str | None, default=None,
                            help="run folder name under trainer.default_root_dir (default: <model>_<task>)")
        parser.add_argument("--cpu_threads", type=int, default=1,
                            help="torch intra-op threads when training on the CPU (0: torch's default). Default 1: "
                                 "the paper's models are small, and two spinning OpenMP threads on a busy 2-core "
                                 "machine were measured 10x slower than one. OMP_NUM_THREADS, if set, wins.")
        parser.add_argument("--test", type=bool, default=True, help="run the test loop after training")
        parser.add_argument("--evaluate", type=bool, default=True,
                            help="print the energy-MSE evaluation after training (needs reference rollouts)")
        parser.link_arguments("data.dim", "model.init_args.field.init_args.dim", apply_on="instantiate")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """A ``--config`` of the user's replaces the default config file instead of being merged over it."""
        given = sys.argv[1:] if args is None else args
        if isinstance(given, (list, tuple)) and any(a == "--config" or str(a).startswith("--config=") for a in given):
            parser.default_config_files = []
        super().parse_arguments(parser, args)

    # ------------------------------------------------------------------ checkpoint to resume
    def before_instantiate_classes(self) -> None:
        """Resolve and check ``--ckpt_path`` before any class is built (a bad file leaves no run folder)."""
        self.resume_path: str | None = None
        self.resume_step: int | None = None
        self.root_dir = str(self.config["trainer"].get("default_root_dir") or "runs")
        self.run_name = str(self.config.get("run_name") or run_name_of(self.config))
        self.version = None
        ckpt_path = self.config.get("ckpt_path")
        if ckpt_path is None:
            return
        if ckpt_path == "last":
            candidates = glob.glob(os.path.join(self.root_dir, self.run_name, "version_*", "checkpoints", "last.ckpt"))
            if not candidates:
                print(f"--ckpt_path last: no last.ckpt under {os.path.join(self.root_dir, self.run_name)}; "
                      "starting from scratch", file=sys.stderr)
                return
            ckpt_path = max(candidates, key=os.path.getmtime)
            print(f"resuming from {ckpt_path}", file=sys.stderr)
        elif not os.path.isfile(ckpt_path):
            raise FileNotFoundError(f"--ckpt_path {ckpt_path!r}: no such checkpoint file")
        found_cls = peek_class(ckpt_path)  # reads the file safely; refuses corrupt, unsafe or hnn-0.1 files
        model = self.config.get("model") or {}
        configured = str(model.get("class_path", ""))
        if found_cls is not None and configured.rsplit(".", 1)[-1] != found_cls.__name__:
            raise CheckpointError(f"--ckpt_path {ckpt_path!r} holds a {found_cls.__name__} checkpoint, but the "
                                  f"configured model is {configured}; pass the config that trained it")
        checkpoint = read_checkpoint(ckpt_path)
        self.resume_path, self.resume_step = ckpt_path, int(checkpoint.get("global_step", 0))
        located = _version_of_checkpoint(ckpt_path)
        run_folder = os.path.join(self.root_dir, self.run_name)
        if located is not None and os.path.isdir(run_folder) and os.path.samefile(located[0], run_folder):
            self.version = located[1]  # continue in the checkpoint's own run folder

    # ------------------------------------------------------------------ trainer
    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        trainer_config = self.config_init.get("trainer") or {}
        resuming_in_place = self.version is not None
        if self.version is None:
            self.version = _next_version(self.root_dir, self.run_name)
        os.environ[_VERSION_ENV] = str(self.version)  # inherited by processes Lightning launches for DDP
        self.run_dir = os.path.join(self.root_dir, self.run_name, f"version_{self.version}")
        logger = trainer_config.get("logger")
        if logger is None or logger is True:
            kwargs["logger"] = _default_loggers(self.root_dir, self.run_name, self.version,
                                                self.resume_step if resuming_in_place else None)
        callbacks = list(trainer_config.get("callbacks") or [])
        if not any(isinstance(c, ModelCheckpoint) for c in callbacks) and \
                trainer_config.get("enable_checkpointing", True) is not False:
            # the newest checkpoint + last.ckpt in this run's own folder, no monitor (Lightning writes last.ckpt only
            # with a top-k file). Written after each validation when the data has a validation split, else at each
            # epoch end: Lightning 2.6 resumes a checkpoint written at the end of an epoch that also validated as if
            # that epoch had not finished, and replays it with no batches (a lost epoch of a max_epochs budget).
            # RunCheckpoint also flushes the loggers at each checkpoint and writes last.ckpt at the end of a run that
            # stops inside a validation interval
            callbacks.append(RunCheckpoint(dirpath=os.path.join(self.run_dir, "checkpoints"), save_top_k=1,
                                           save_last=True, save_on_train_epoch_end=not self._validates(trainer_config)))
        elif not any(isinstance(c, (RunCheckpoint, FlushLogsAtCheckpoint)) for c in callbacks):
            callbacks.append(FlushLogsAtCheckpoint())
        from hnn.models import DynamicsModule, EnergyModel, HamiltonianGAN

        if isinstance(self.model, DynamicsModule) and callable(getattr(self.datamodule, "reference_rollouts", None)) \
                and not any(isinstance(c, RolloutMonitor) for c in callbacks):
            callbacks.append(RolloutMonitor(plot_dir=os.path.join(self.run_dir, "phase_portraits")))
        if isinstance(self.model, HamiltonianGAN) and not any(isinstance(c, GANMonitor) for c in callbacks):
            callbacks.append(GANMonitor(path=os.path.join(self.run_dir, "gan_trajectories.png")))
        if isinstance(self.model, EnergyModel) and not any(isinstance(c, DensityFigure) for c in callbacks):
            callbacks.append(DensityFigure(path=os.path.join(self.run_dir, "ebm_density.png")))
        if trainer_config.get("enable_progress_bar") is not False and not any(
                isinstance(c, ProgressBar) for c in callbacks):
            # Lightning's TQDM bar redrawn every 20 steps, once per redraw (a redraw with its metrics costs ~1-2 ms,
            # a step of the paper's models ~8 ms; every 20 steps is still several redraws a second)
            callbacks.append(TrainingProgressBar(refresh_rate=20))
        if not any(isinstance(c, FiniteLossGuard) for c in callbacks):
            callbacks.append(FiniteLossGuard())
        callbacks.append(FitTimer())
        kwargs["callbacks"] = callbacks
        plugins = trainer_config.get("plugins")
        plugins = [] if plugins is None else list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            plugins.append(AtomicCheckpointIO())
        kwargs["plugins"] = plugins
        if trainer_config.get("profiler") is None and not trainer_config.get("barebones"):
            kwargs["profiler"] = NoProfiler()
        return super().instantiate_trainer(**kwargs)


    def _validates(self, trainer_config: Any) -> bool:
        """Whether this run has a validation loop (a data module with a validation split, not switched off)."""
        if trainer_config.get("limit_val_batches") in (0, 0.0):
            return False
        datamodule = self.datamodule
        if datamodule is None or type(datamodule).val_dataloader is pl.LightningDataModule.val_dataloader:
            return False
        return float(getattr(datamodule, "val_fraction", 1.0)) > 0.0  # HamiltonianDataModule's empty split


def build_cli(argv: list[str] | None = None) -> HNNLightningCLI:
    """Parse ``argv`` (default: the command line) and instantiate model, data and trainer (no training)."""
    _quiet_known_noise()
    with warnings.catch_warnings():
        # hnn-table1 and the tests call the program from Python with args= while their own sys.argv is set
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        return _build(argv)


def _build(argv: list[str] | None) -> HNNLightningCLI:
    return HNNLightningCLI(
        model_class=pl.LightningModule,
        datamodule_class=pl.LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        trainer_defaults=TRAINER_DEFAULTS,
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
        auto_configure_optimizers=False,
        parser_kwargs={"allow_abbrev": False,  # a misspelt --trainer.max_step must fail, not match max_steps
                       "default_config_files": [str(config_file(DEFAULT_CONFIG))],
                       "description": "Train a learned-dynamics model (hnn). Without --config, the shipped "
                                      f"{DEFAULT_CONFIG} is used."},
        args=argv,
        run=False,
    )


@dataclass
class TrainingResult:
    """What a training run produced (paths and figures for the summary)."""

    model: pl.LightningModule
    datamodule: pl.LightningDataModule | None
    trainer: pl.Trainer
    run_dir: str
    last_checkpoint: str | None
    resumed_from: str | None
    plot_path: str | None
    steps: int  # this run
    total_steps: int
    seconds: float  # this run's training loop
    total_seconds: float  # over this run and the runs it resumed
    cpu_seconds: float = 0.0
    test_metrics: dict[str, float] = field(default_factory=dict)
    config_path: str | None = None
    evaluate: bool = True


def run_training(argv: list[str] | None = None, cli: HNNLightningCLI | None = None) -> TrainingResult:
    """Train (and test) as configured by ``argv``; see the module docstring."""
    cli = cli or build_cli(argv)
    trainer, model, datamodule = cli.trainer, cli.model, cli.datamodule
    threads = int(cli.config.get("cpu_threads") or 0)
    if threads > 0 and "OMP_NUM_THREADS" not in os.environ and trainer.strategy.root_device.type == "cpu" \
            and trainer.world_size == 1:
        torch.set_num_threads(threads)
    try:
        with warnings.catch_warnings():
            # resuming in place: the checkpoint folder is this run's own and is meant to hold its checkpoints
            warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
            trainer.fit(model, datamodule=datamodule, ckpt_path=cli.resume_path)
    except RuntimeError as err:
        if cli.resume_path is not None and "state_dict" in str(err):
            raise CheckpointError(f"--ckpt_path {cli.resume_path!r} does not fit the configured model (pass the "
                                  f"config that trained it): {str(err).splitlines()[0]}") from None
        raise
    test_metrics: dict[str, float] = {}
    if cli.config.get("test") and datamodule is not None and _has_loader(datamodule, "test_dataloader"):
        results = trainer.test(model, datamodule=datamodule, verbose=False)
        if results:
            test_metrics = {k: float(v) for k, v in results[0].items()}
    for logger in trainer.loggers:  # close this run's wandb run (a second run in the process starts its own)
        if type(logger).__name__ == "WandbLogger" and logger._experiment is not None:
            logger.experiment.finish()
    timer = next(c for c in trainer.callbacks if isinstance(c, FitTimer))
    plot_path = next((c.last_plot_path for c in trainer.callbacks if isinstance(c, (RolloutMonitor, DensityFigure,
                                                                                     GANMonitor))),
                     None)
    checkpoint = trainer.checkpoint_callback
    last = getattr(checkpoint, "last_model_path", None) or None
    config_path = os.path.join(cli.run_dir, "config.yaml")
    return TrainingResult(
        model=model, datamodule=datamodule, trainer=trainer, run_dir=cli.run_dir, last_checkpoint=last,
        resumed_from=cli.resume_path, plot_path=plot_path, steps=timer.steps, total_steps=trainer.global_step,
        seconds=timer.seconds, total_seconds=timer.total_seconds, cpu_seconds=timer.cpu_seconds,
        test_metrics=test_metrics, config_path=config_path if os.path.exists(config_path) else None,
        evaluate=bool(cli.config.get("evaluate", True)),
    )


def _has_loader(datamodule: pl.LightningDataModule, name: str) -> bool:
    method = getattr(type(datamodule), name, None)
    return method is not None and method is not getattr(pl.LightningDataModule, name, None)


def summary_lines(result: TrainingResult) -> list[str]:
    """The human-readable end-of-run summary (printed by :func:`main`)."""
    from hnn.evaluation.metrics import evaluate_rollouts

    model, data = result.model, result.datamodule
    name = type(getattr(model, "field", model)).__name__
    if callable(getattr(model, "generate", None)):
        name = f"{type(model).__name__} ({name} motion)"
    task = getattr(data, "task", None) or getattr(data, "env_id", None) or type(data).__name__
    head = f"\n== {name} on {task}: {result.steps} steps in {result.seconds:.1f} s"
    if result.resumed_from is not None:
        head = (f"\n== {name} on {task}: {result.steps} steps in this run ({result.seconds:.1f} s); "
                f"{result.total_steps} in total ({result.total_seconds:.1f} s)")
        if result.steps == 0:
            head += " — the checkpoint had already reached the configured max_steps/max_epochs"
    lines = [head]
    for key, value in sorted(result.test_metrics.items()):
        lines.append(f"   {key:<16} {value:.4e}")
    if result.evaluate and callable(getattr(data, "reference_rollouts", None)) and hasattr(model, "field"):
        # the data module decides what this means for its data (simulated starts, or the recorded test block)
        reference = data.reference_rollouts("test", n_starts=15, horizon=20.0, n_times=100)
        report = evaluate_rollouts(model.field, reference, method="torchdiffeq:dopri5", rtol=1e-9, atol=1e-9)
        if report.energy_mse is not None:
            lines.append(f"   energy MSE       {report.energy_mse:.4e}   ({reference.description}; dopri5 at "
                         "rtol = atol = 1e-9, float64)")
        else:
            lines.append("   energy MSE       n/a (this data has no reference energy)")
        lines.append(f"   rollout MSE      {report.state_mse:.4e}")
    if result.evaluate and isinstance(getattr(data, "env_id", None), str) and getattr(getattr(model, "field", None),
                                                                                     "n_u", None):
        from hnn.evaluation.openloop import open_loop_accuracy

        report = open_loop_accuracy(model, data.env_id, n_starts=100, horizon=50)
        errors = " / ".join(f"{report.median_error(k):.3g}" for k in (1, 10, 50))
        lines.append(f"   open-loop error  {errors} after 1 / 10 / 50 steps (median max-abs observation error, 100 "
                     "held-out starts over the whole state space, random actions)")
        capped = "≥ " if report.median_vpt >= report.horizon else ""
        lines.append(f"   valid for        {capped}{report.median_vpt:.0f} steps (median; error <= {report.threshold:g})")
    if result.evaluate and callable(getattr(model, "generate", None)) and callable(getattr(data, "trajectories",
                                                                                          None)):
        lines += gan_summary_lines(model, data)
    if result.last_checkpoint:
        lines.append(f"   checkpoint       {result.last_checkpoint}")
    elif result.resumed_from:
        lines.append(f"   checkpoint       {result.resumed_from} (resumed from; no new checkpoint: no new steps)")
    else:
        lines.append("   checkpoint       none (checkpointing off)")
    if result.plot_path:
        lines.append(f"   figure           {result.plot_path}")
    if os.path.isdir(result.run_dir):
        contents = [n for n in ("metrics.csv", "config.yaml", "wandb") if os.path.exists(os.path.join(result.run_dir,
                                                                                                        n))]
        lines.append(f"   run folder       {result.run_dir}" + (f"  ({', '.join(contents)})" if contents else ""))
    return lines


def gan_summary_lines(model: pl.LightningModule, data: pl.LightningDataModule, n: int = 2000) -> list[str]:
    """The physics of ``n`` generated sequences against the held-out test split (:func:`hnn.evaluation.gan_report`),
    each beside its real-data floor."""
    from hnn.evaluation.gan import gan_report

    r = gan_report(model, data, n=n, permutations=200)
    lines = [f"   energy W1        {r['energy_w1']:.4g}   (floor, real vs real: {r['energy_w1_floor']:.4g}; "
             f"{r['n_generated']} generated vs {r['n_real']} held-out "
             + ("clips, states read off the frames)" if getattr(model, "frames", False) else "trajectories)"),
             f"   energy drift     {r['energy_drift']:.4g}   (the data's: {r['energy_drift_data']:.3g})",
             f"   physics residual {r['physics_residual']:.4g}   (the data's: {r['physics_residual_data']:.3g}; "
             "one-step distance from the exact flow / step length)",
             f"   MMD²             {r['mmd2']:.4g}, p = {r['mmd_p']:.3g}   (real vs real: {r['mmd2_floor']:.4g}, "
             f"p = {r['mmd_p_floor']:.3g})"]
    if r["residual_half_dt"] is not None:
        lines.append(f"   changed dt       residual {r['residual_half_dt']:.4g} at dt/2, {r['residual_double_dt']:.4g} "
                     f"at 2dt, {r['residual_reversed']:.4g} run backwards (same noise)")
    return lines


def main(argv: list[str] | None = None) -> int:
    """``hnn-train`` / ``python scripts/train.py``: train, test, print the summary. Exit codes: 0 done, 1 the loss
    became NaN/inf, 2 bad input (config, arguments, checkpoint). A bug gets its traceback."""
    try:
        cli = build_cli(argv)
    except (CheckpointError, FileNotFoundError, ValueError, TypeError) as err:  # bad config or --ckpt_path
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        result = run_training(cli=cli)
    except NonFiniteLossError as err:
        print(f"\nerror: {err}", file=sys.stderr)
        return 1
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if result.trainer.is_global_zero:
        print("\n".join(summary_lines(result)))
    return 0
