"""The training command line (LightningCLI) behind ``scripts/train.py``.

``run_training(argv)`` parses a YAML config plus command-line overrides, trains, tests and returns a
:class:`TrainingResult`. Any LightningModule / LightningDataModule can be chosen by ``class_path`` (subclass
mode); the data module's ``dim`` is linked to the model's ``dim`` at instantiation, so configs never repeat it.

Defaults added on top of Lightning's (each can be overridden):

- ``trainer.accelerator: auto``, ``trainer.inference_mode: false`` (HNNs differentiate H in validation/test),
  ``trainer.default_root_dir: runs``, ``seed_everything: 0``;
- one torch intra-op thread on the CPU (``--cpu_threads``; see its help);
- loggers: CSV always, plus wandb (offline unless ``WANDB_MODE`` or the user's wandb settings say otherwise;
  never prompts) when ``trainer.logger`` is left at ``true``; ``--trainer.logger false`` turns logging off;
- callbacks: ``ModelCheckpoint`` (newest epoch + ``last.ckpt`` at every epoch end) when none is configured, and
  :class:`~hnn.models.callbacks.FiniteLossGuard` (a NaN/inf loss stops the run naming the step and the last
  good checkpoint);
- Lightning's TQDM progress bar, redrawn every 10 steps;
- checkpoint writing through :class:`~hnn.models.checkpoint.AtomicCheckpointIO` (temp file + ``os.replace``).

Run layout: ``<default_root_dir>/<run_name>/version_<N>/`` holds ``metrics.csv``, ``config.yaml``,
``checkpoints/{epoch=E-step=S.ckpt,last.ckpt}``, ``phase_portraits/*.png`` and ``wandb/``. ``--ckpt_path last`` resumes
from the newest ``last.ckpt`` of the same run name.
"""
from __future__ import annotations

import configparser
import glob
import importlib
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint, ProgressBar, TQDMProgressBar
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.loggers import CSVLogger, Logger
from pytorch_lightning.plugins.io import CheckpointIO

from hnn.models.callbacks import FiniteLossGuard, NonFiniteLossError, last_good_checkpoint
from hnn.models.checkpoint import AtomicCheckpointIO

__all__ = ["HNNLightningCLI", "run_training", "TrainingResult", "wandb_mode", "DEFAULT_CONFIG"]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "configs" / "hnn_spring.yaml"

TRAINER_DEFAULTS: dict[str, Any] = {
    "accelerator": "auto",
    "inference_mode": False,
    "default_root_dir": "runs",
}


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


def _default_loggers(root: str, run_name: str, version: int) -> list[Logger]:
    csv = CSVLogger(save_dir=root, name=run_name, version=version)
    _ = csv.experiment  # create the version folder now, before wandb writes into it
    loggers: list[Logger] = [csv]
    mode = wandb_mode()
    if mode != "disabled":
        try:
            import wandb  # noqa: F401
            from pytorch_lightning.loggers import WandbLogger
        except ImportError:  # pragma: no cover - wandb is a dependency, but stay usable without it
            return loggers
        os.environ.setdefault("WANDB_SILENT", "true")
        loggers.append(WandbLogger(save_dir=csv.log_dir, project="hnn", name=f"{run_name}-v{version}",
                                   offline=(mode in ("offline", "dryrun")), log_model=False))
    return loggers


_VERSION_ENV = "HNN_RUN_VERSION"


def _run_version(root: str, run_name: str) -> int:
    """The next free ``version_<N>`` under ``root/run_name``; DDP workers reuse the number rank 0 picked."""
    inherited = os.environ.get(_VERSION_ENV)
    if inherited is not None and os.environ.get("LOCAL_RANK", "0") != "0":
        return int(inherited)
    existing = []
    for path in glob.glob(os.path.join(root, run_name, "version_*")):
        suffix = os.path.basename(path)[len("version_"):]
        if suffix.isdigit():
            existing.append(int(suffix))
    version = max(existing, default=-1) + 1
    os.environ[_VERSION_ENV] = str(version)  # inherited by processes Lightning launches for DDP
    return version


def _find_last_checkpoint(root: str, run_name: str) -> str | None:
    candidates = glob.glob(os.path.join(root, run_name, "version_*", "checkpoints", "last*.ckpt"))
    return max(candidates, key=os.path.getmtime) if candidates else None


class HNNLightningCLI(LightningCLI):
    """LightningCLI with hnn's defaults (see the module docstring)."""

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
                            help="print the energy-MSE evaluation after training (needs ground truth)")
        parser.link_arguments("data.dim", "model.init_args.dim", apply_on="instantiate")

    # ------------------------------------------------------------------ checkpoint to resume
    def before_instantiate_classes(self) -> None:
        """Resolve and check ``--ckpt_path`` before any class is built (a bad file leaves no run folder)."""
        self.resume_path: str | None = None
        ckpt_path = self.config.get("ckpt_path")
        if ckpt_path is None:
            return
        root = str(self.config["trainer"].get("default_root_dir") or "runs")
        if ckpt_path == "last":
            found = _find_last_checkpoint(root, self._run_name())
            if found is None:
                print(f"--ckpt_path last: no last.ckpt under {os.path.join(root, self._run_name())}; "
                      "starting from scratch", file=sys.stderr)
                return
            print(f"resuming from {found}", file=sys.stderr)
            ckpt_path = found
        elif not os.path.isfile(ckpt_path):
            raise FileNotFoundError(f"--ckpt_path {ckpt_path!r}: no such checkpoint file")
        from hnn.models.checkpoint import CheckpointError, peek_class

        found_cls = peek_class(ckpt_path)  # reads the file safely; refuses corrupt or unsafe files
        class_path = str(self.config["model"]["class_path"]) if self.config.get("model") else ""
        module_name, _, attr = class_path.rpartition(".")
        try:
            configured = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError, ValueError):
            configured = None
        if found_cls is not None and isinstance(configured, type) and not issubclass(configured, found_cls):
            raise CheckpointError(f"--ckpt_path {ckpt_path!r} holds a {found_cls.__name__} checkpoint, but the "
                                  f"configured model is {class_path}; pass the config that trained it")
        self.resume_path = ckpt_path

    # ------------------------------------------------------------------ trainer
    def _run_name(self) -> str:
        config = self.config
        if config.get("run_name"):
            return str(config["run_name"])
        model_path = str(config["model"]["class_path"]) if config.get("model") else "model"
        name = model_path.rsplit(".", 1)[-1].lower()
        data_args = (config.get("data") or {}).get("init_args", {}) or {}
        # the data's task (or, for toy densities, the density) names the run: hnn_spring, energymodel_two_moons
        task = next((data_args.get(k) for k in ("task", "density") if hasattr(data_args, "get") and data_args.get(k)),
                    None)
        return f"{name}_{task}" if task else name

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        trainer_config = self._get(self.config_init, "trainer", default={})
        root = str(trainer_config.get("default_root_dir") or "runs")
        run_name = self._run_name()
        self.run_name, self.root_dir = run_name, root
        self.version = _run_version(root, run_name)
        self.run_dir = os.path.join(root, run_name, f"version_{self.version}")
        logger = trainer_config.get("logger")
        if logger is None or logger is True:
            kwargs["logger"] = _default_loggers(root, run_name, self.version)
        callbacks = list(trainer_config.get("callbacks") or [])
        if not any(isinstance(c, ModelCheckpoint) for c in callbacks) and trainer_config.get("enable_checkpointing",
                                                                                              True) is not False:
            # the newest epoch checkpoint + last.ckpt, written at every epoch end (full-batch configs: every
            # passes_per_epoch steps), in this run's own version folder (a new run never overwrites an old one's
            # checkpoints). No monitor, so runs without a validation split (val_fraction: 0) work the same way.
            # (Lightning writes last.ckpt only when it also writes a top-k file, hence save_top_k=1.)
            callbacks.append(ModelCheckpoint(dirpath=os.path.join(self.run_dir, "checkpoints"), save_top_k=1,
                                             save_last=True))
        if hasattr(self.model, "plot_dir"):
            self.model.plot_dir = os.path.join(self.run_dir, "phase_portraits")
        if trainer_config.get("enable_progress_bar") is not False and not any(
                isinstance(c, ProgressBar) for c in callbacks):
            # Lightning's TQDM bar, redrawn every 10 steps instead of every step (each redraw costs ~100 µs of
            # terminal output, as much as a whole full-batch step of a small model)
            callbacks.append(TQDMProgressBar(refresh_rate=10))
        if not any(isinstance(c, FiniteLossGuard) for c in callbacks):
            callbacks.append(FiniteLossGuard())
        kwargs["callbacks"] = callbacks
        plugins = trainer_config.get("plugins")
        plugins = [] if plugins is None else list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            plugins.append(AtomicCheckpointIO())
        kwargs["plugins"] = plugins
        return super().instantiate_trainer(**kwargs)


@dataclass
class TrainingResult:
    """What a training run produced (paths and figures for the summary)."""

    model: pl.LightningModule
    datamodule: pl.LightningDataModule | None
    trainer: pl.Trainer
    run_dir: str | None
    last_checkpoint: str | None
    best_checkpoint: str | None
    plot_path: str | None
    fit_seconds: float
    steps: int
    fit_cpu_seconds: float = 0.0
    test_metrics: dict[str, float] = field(default_factory=dict)
    config_path: str | None = None
    evaluate: bool = True


def _with_default_config(argv: list[str]) -> list[str]:
    if any(a == "--config" or a.startswith("--config=") for a in argv):
        return argv
    if any(a in ("-h", "--help") for a in argv):
        return argv
    return ["--config", str(DEFAULT_CONFIG), *argv]


class _FitTimer(Callback):
    """Wall and CPU time of the training loop alone (train start to train end)."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.end: float | None = None
        self.cpu_start: float | None = None
        self.cpu_end: float | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.end, self.cpu_end = time.perf_counter(), time.process_time()

    @property
    def seconds(self) -> float:
        if self.start is None:
            return 0.0
        return (self.end or time.perf_counter()) - self.start

    @property
    def cpu_seconds(self) -> float:
        if self.cpu_start is None:
            return 0.0
        return (self.cpu_end or time.process_time()) - self.cpu_start


def build_cli(argv: list[str] | None = None) -> HNNLightningCLI:
    """Parse ``argv`` (default: the command line) and instantiate model, data and trainer (no training).

    From the command line, the default config is inserted into ``sys.argv`` itself, so that processes that
    Lightning relaunches from ``sys.argv`` (DDP) parse exactly the same configuration.
    """
    if argv is None:
        sys.argv[1:] = _with_default_config(sys.argv[1:])
        args = None
    else:
        args = _with_default_config(list(argv))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        return HNNLightningCLI(
            model_class=pl.LightningModule,
            datamodule_class=pl.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            trainer_defaults=TRAINER_DEFAULTS,
            seed_everything_default=0,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"allow_abbrev": False,  # a misspelt --trainer.max_step must fail, not match max_steps
                           "description": "Train a learned-dynamics model (hnn). Default config: "
                                          f"{DEFAULT_CONFIG.relative_to(REPO_ROOT)}"},
            args=args,
            run=False,
        )


def run_training(argv: list[str] | None = None, cli: HNNLightningCLI | None = None) -> TrainingResult:
    """Train (and test) as configured by ``argv``; see the module docstring."""
    cli = cli or build_cli(argv)
    trainer, model, datamodule = cli.trainer, cli.model, cli.datamodule
    threads = int(cli.config.get("cpu_threads") or 0)
    if threads > 0 and "OMP_NUM_THREADS" not in os.environ and trainer.strategy.root_device.type == "cpu" \
            and trainer.world_size == 1:
        torch.set_num_threads(threads)
    timer = _FitTimer()
    trainer.callbacks.append(timer)
    ckpt_path = cli.resume_path
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    except RuntimeError as err:
        if ckpt_path is not None and "state_dict" in str(err):
            from hnn.models.checkpoint import CheckpointError

            raise CheckpointError(f"--ckpt_path {ckpt_path!r} does not fit the configured model (pass the config "
                                  f"that trained it): {str(err).splitlines()[0]}") from None
        raise
    test_metrics: dict[str, float] = {}
    if cli.config.get("test") and datamodule is not None and _has_loader(datamodule, "test_dataloader"):
        results = trainer.test(model, datamodule=datamodule, verbose=False)
        if results:
            test_metrics = {k: float(v) for k, v in results[0].items()}
    checkpoint = trainer.checkpoint_callback
    last = getattr(checkpoint, "last_model_path", None) or None
    best = getattr(checkpoint, "best_model_path", None) or None
    run_dir = cli.run_dir
    config_path = os.path.join(trainer.log_dir or run_dir, "config.yaml")
    return TrainingResult(
        model=model, datamodule=datamodule, trainer=trainer, run_dir=run_dir, last_checkpoint=last,
        best_checkpoint=best, plot_path=getattr(model, "last_plot_path", None), fit_seconds=timer.seconds,
        fit_cpu_seconds=timer.cpu_seconds,
        steps=trainer.global_step, test_metrics=test_metrics,
        config_path=config_path if config_path and os.path.exists(config_path) else None,
        evaluate=bool(cli.config.get("evaluate", True)),
    )


def _has_loader(datamodule: pl.LightningDataModule, name: str) -> bool:
    method = getattr(type(datamodule), name, None)
    return method is not None and method is not getattr(pl.LightningDataModule, name, None)


__all__ += ["build_cli", "NonFiniteLossError", "last_good_checkpoint"]
