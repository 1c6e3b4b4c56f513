"""Callbacks of hnn's training program: the NaN guard, the rollout monitor, the EBM density figure, the fit timer.

- :class:`FiniteLossGuard` -- a NaN/inf loss stops training, naming the step and the last good checkpoint.
- :class:`RolloutMonitor` -- at each validation, rolls the model out from the data's reference rollouts
  (``datamodule.reference_rollouts("val", ...)``) and logs ``val_energy_drift`` (or ``val_learned_energy_drift``),
  ``val_energy_mse`` and ``val_rollout_mse`` through :func:`hnn.evaluation.evaluate_rollouts`; writes a phase
  portrait PNG per validation on a worker thread and sends it to wandb when a wandb logger is active.
- :class:`DensityFigure` -- an :class:`~hnn.models.EnergyModel`'s learned density at the end of training (PNG).
- :class:`RunCheckpoint` -- ``ModelCheckpoint`` that flushes the loggers at each checkpoint and writes ``last.ckpt``
  at the final step when training ends between two checkpoints.
- :class:`FlushLogsAtCheckpoint` -- the loggers write their rows whenever a checkpoint is saved (for a run with its
  own checkpoint callback).
- :class:`FitTimer` -- wall/CPU time of the training loop; its total over resumed runs is kept in the checkpoint.
- :class:`TrainingProgressBar` -- Lightning's TQDM bar, drawn once per refresh (count and metrics together).
"""
from __future__ import annotations

import os
import time
from typing import Any, Callable

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
from torch import Tensor

from hnn.evaluation.figures import draw_energy_model, draw_phase_portrait, phase_portrait_data
from hnn.evaluation.metrics import evaluate_rollouts
from hnn.validate import check_bool, check_int, check_positive

__all__ = ["NonFiniteLossError", "FiniteLossGuard", "last_good_checkpoint", "RolloutMonitor", "DensityFigure",
           "FlushLogsAtCheckpoint", "RunCheckpoint", "FitTimer", "BackgroundFigureWriter", "TrainingProgressBar"]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the message names the step and the last good checkpoint."""


def last_good_checkpoint(trainer: pl.Trainer) -> str | None:
    """Path of the most recent checkpoint this run saved (last.ckpt, else the best one), or None."""
    for callback in trainer.checkpoint_callbacks:
        for path in (getattr(callback, "last_model_path", ""), getattr(callback, "best_model_path", "")):
            if path:
                return path
    return None


class FiniteLossGuard(pl.Callback):
    """Stop training with :class:`NonFiniteLossError` as soon as the loss is NaN/inf.

    The check runs before ``backward``, so the non-finite loss never reaches the weights or the optimizer state,
    and no checkpoint is written after it: the last checkpoint on disk is the last good one.
    Under multi-process training the decision is shared by all ranks (one tiny all-reduce per step).
    """

    def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: Tensor) -> None:
        bad = not bool(torch.isfinite(loss.detach()).all())
        if trainer.world_size > 1:
            bad = bool(trainer.strategy.reduce_boolean_decision(bad, all=False))
        if bad:
            value = loss.detach().float().cpu().tolist()
            ckpt = last_good_checkpoint(trainer)
            raise NonFiniteLossError(
                f"training stopped: the loss became {value} at step {trainer.global_step} "
                f"(epoch {trainer.current_epoch}). Last good checkpoint: "
                + (f"{ckpt} (resume with --ckpt_path {ckpt}, e.g. with a lower learning rate)" if ckpt
                   else "none saved yet (the run failed before its first checkpoint)")
            )


class BackgroundFigureWriter:
    """Runs figure-drawing jobs on one worker thread, so that training does not wait for matplotlib.

    ``submit(fn, *args, tag=...)`` queues ``fn(*args)``; :meth:`finished` returns ``(tag, result)`` of the jobs
    done so far (``wait=True``: after waiting for all), in submission order, and re-raises a job's exception.
    All drawing happens on the one worker thread; the caller computes the data (e.g. model calls) beforehand.
    The worker is not pickled (a model holding a writer can be copied or sent to other processes).
    """

    def __init__(self) -> None:
        self._executor: Any = None
        self._jobs: list[tuple[Any, Any]] = []

    def submit(self, fn: Callable[..., Any], *args: Any, tag: Any = None) -> None:
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hnn-figures")
        self._jobs.append((tag, self._executor.submit(fn, *args)))

    def finished(self, wait: bool = False) -> list[tuple[Any, Any]]:
        done = []
        while self._jobs and (wait or self._jobs[0][1].done()):
            tag, future = self._jobs.pop(0)
            done.append((tag, future.result()))  # re-raises the job's exception here, on the caller's thread
        return done

    def close(self) -> None:
        """Wait for every job, then stop the worker thread (a later submit starts a new one)."""
        try:
            self.finished(wait=True)
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def __getstate__(self) -> dict[str, Any]:
        return {"_executor": None, "_jobs": []}



class RolloutMonitor(pl.Callback):
    """Validation rollouts of a learned field against the data module's reference rollouts (module docstring).

    Args:
        n_starts: starting states rolled out (the first validation trajectories' noiseless starts).
        horizon: rollout length in time units (None: the data module's default — two periods of its system, or the
            recorded validation block).
        n_times: output times of those rollouts (simulated tasks).
        plot: write a phase portrait per validation.
        plot_dir: folder of the PNGs (default: ``<trainer.log_dir>/phase_portraits``).

    Needs a data module with ``reference_rollouts(split, n_starts, horizon, n_times)`` (``HamiltonianDataModule``)
    and a module with ``field`` and ``hparams.integrator``/``integrator_dt`` (``DynamicsModule``); rollouts use the
    module's own integrator. ``last_plot_path`` is the newest PNG written.
    """

    def __init__(self, n_starts: int = 8, horizon: float | None = None, n_times: int = 60, plot: bool = True,
                 plot_dir: str | None = None) -> None:
        self.n_starts = check_int("n_starts", n_starts, minimum=1)
        self.horizon = None if horizon is None else check_positive("horizon", horizon)
        self.n_times = check_int("n_times", n_times, minimum=2)
        self.plot = check_bool("plot", plot)
        self.plot_dir = plot_dir
        self.last_plot_path: str | None = None
        self._reference: Any = None
        self._figures = BackgroundFigureWriter()

    def _reference_rollouts(self, trainer: pl.Trainer) -> Any:
        if self._reference is None:
            datamodule = trainer.datamodule
            if not callable(getattr(datamodule, "reference_rollouts", None)):
                raise TypeError(f"RolloutMonitor needs a data module with reference_rollouts() (HamiltonianDataModule),"
                                f" got {type(datamodule).__name__}; remove the callback for this data")
            self._reference = datamodule.reference_rollouts("val", n_starts=self.n_starts, horizon=self.horizon,
                                                            n_times=self.n_times)
        return self._reference

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        reference = self._reference_rollouts(trainer)
        field = pl_module.field
        own_energy = getattr(field, "hamiltonian", None)
        drift_energy = reference.energy if reference.conservative else (
            own_energy if callable(own_energy) and not getattr(field, "dissipative", False) else None)
        report = evaluate_rollouts(field, reference, method=pl_module.hparams.integrator,
                                   dt=pl_module.hparams.integrator_dt, float64=False, drift_energy=drift_energy)
        if not report.finite:
            pl_module.log("val_rollout_finite", 0.0)
            return
        if report.energy_drift is not None:
            name = "val_energy_drift" if drift_energy is reference.energy else "val_learned_energy_drift"
            pl_module.log(name, report.energy_drift)
        if report.energy_mse is not None:
            pl_module.log("val_energy_mse", report.energy_mse)
        pl_module.log("val_rollout_mse", report.state_mse)
        if self.plot and trainer.is_global_zero:
            self._submit_portrait(trainer, pl_module, reference, report, drift_energy)

    def _submit_portrait(self, trainer: pl.Trainer, pl_module: pl.LightningModule, reference: Any, report: Any,
                         energy: Callable[[Tensor], Tensor] | None) -> None:
        folder = self.plot_dir or os.path.join(trainer.log_dir or trainer.default_root_dir, "phase_portraits")
        step, epoch = trainer.global_step, trainer.current_epoch
        path = os.path.join(folder, f"epoch{epoch:05d}_step{step:07d}.png")
        group = reference.groups[0]
        field = pl_module.field
        data = phase_portrait_data(group.t_model, report.preds[0], group.truth, energy=energy,
                                   field=field.vector_field if field.dim == 2 else None,
                                   title=f"{type(field).__name__} — epoch {epoch}, step {step}")
        self._log_finished(trainer)
        self._figures.submit(draw_phase_portrait, path, data, tag=step)

    def _log_finished(self, trainer: pl.Trainer, wait: bool = False) -> None:
        for step, path in self._figures.finished(wait=wait):
            self.last_plot_path = path
            for logger in trainer.loggers:
                if type(logger).__name__ == "WandbLogger":
                    logger.log_image(key="phase_portrait", images=[path], step=step)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """End of a stage: wait for the last phase portrait and log it."""
        self._log_finished(trainer, wait=True)
        self._figures.close()


class DensityFigure(pl.Callback):
    """At the end of training, draw an EnergyModel's learned density beside its validation data (2-d only).

    Writes ``<trainer.log_dir>/ebm_density.png`` (or ``path``); ``last_plot_path`` is where it went.
    """

    def __init__(self, path: str | None = None, num_samples: int = 2000) -> None:
        self.path = path
        self.num_samples = check_int("num_samples", num_samples, minimum=1)
        self.last_plot_path: str | None = None

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or pl_module.hparams.dim != 2 or trainer.datamodule is None:
            return
        (data,) = next(iter(trainer.datamodule.val_dataloader()))
        path = self.path or os.path.join(trainer.log_dir or trainer.default_root_dir, "ebm_density.png")
        title = str(getattr(trainer.datamodule, "density", ""))
        self.last_plot_path = draw_energy_model(pl_module, data, path, title=title, num_samples=self.num_samples,
                                                data_label="validation data")


class GANMonitor(pl.Callback):
    """Physics of a :class:`~hnn.models.HamiltonianGAN`'s samples during validation, and its figure at the end.

    After each validation (not the sanity check) ``num_samples`` sequences are generated from a generator seeded
    with ``seed`` (the same noise each time) and judged against the data module's ``val`` trajectories with the
    true energy of its ``system``: logs ``val_energy_w1`` (W₁ of the state energies, the model-selection metric),
    ``val_energy_drift`` and ``val_physics_residual`` (:mod:`hnn.evaluation.gan`). At the end of training it draws
    real and generated orbits and energies side by side to ``path`` (``last_plot_path``), and logs that PNG to every
    logger that takes images (wandb).
    """

    def __init__(self, path: str | None = None, num_samples: int = 500, seed: int = 0) -> None:
        self.path = path
        self.num_samples = check_int("num_samples", num_samples, minimum=2)
        self.seed = check_int("seed", seed)
        self.last_plot_path: str | None = None

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        data = trainer.datamodule
        if trainer.sanity_checking or data is None or not callable(getattr(data, "trajectories", None)):
            return
        from hnn.evaluation.gan import validation_metrics

        metrics = validation_metrics(pl_module, data, n=self.num_samples, seed=self.seed)
        pl_module.log_dict({f"val_{key}": value for key, value in metrics.items()})

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        data = trainer.datamodule
        if not trainer.is_global_zero or data is None or not callable(getattr(data, "trajectories", None)):
            return
        from hnn.evaluation.figures import draw_trajectory_panels
        from hnn.evaluation.gan import generated_states, real_states

        real = real_states(pl_module, data, "val")
        was_training = pl_module.training
        pl_module.eval()  # generate as the evaluation does (a HamiltonianGAN's weight average, if it keeps one)
        try:
            generated = generated_states(pl_module, self.num_samples, real.shape[1], self.seed, data=data)
        finally:
            pl_module.train(was_training)
        with torch.no_grad():
            energies = {"real": data.system.hamiltonian(real), "generated": data.system.hamiltonian(generated)}
        path = self.path or os.path.join(trainer.log_dir or trainer.default_root_dir, "gan_trajectories.png")
        self.last_plot_path = draw_trajectory_panels(path, {"real": real, "generated": generated}, energies,
                                                     data.times(), title=str(getattr(data, "task", "")))
        for logger in trainer.loggers:  # wandb: the figure as an image of the run
            if callable(getattr(logger, "log_image", None)):
                logger.log_image(key="gan_trajectories", images=[self.last_plot_path], step=trainer.global_step)


class FlushLogsAtCheckpoint(pl.Callback):
    """Write the loggers' pending rows whenever a checkpoint is saved, so a run killed after a checkpoint has every
    step up to it in ``metrics.csv`` (Lightning's CSV logger otherwise writes every 100 steps and at the end).
    :class:`RunCheckpoint` does this itself; this callback is for a run configured with its own checkpoint callback."""

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) \
            -> None:
        for logger in trainer.loggers:
            logger.save()


class RunCheckpoint(ModelCheckpoint):
    """The training program's checkpoint callback: Lightning's ``ModelCheckpoint`` plus two guarantees.

    - the loggers write their pending rows whenever a checkpoint is saved (as :class:`FlushLogsAtCheckpoint`);
    - when training stops between two checkpoints (``max_steps`` inside a validation interval), ``last.ckpt`` is
      written at the final step too, so the run's last checkpoint is where it ended.

    Its ``state_key`` is ``ModelCheckpoint``'s for the same settings (the saved state is ``ModelCheckpoint``'s, so
    checkpoints move between the two), fixed at construction: Lightning formats it into a label at every callback
    hook of every step. Arguments are ``ModelCheckpoint``'s.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fixed_state_key = "ModelCheckpoint" + repr(dict(
            monitor=self.monitor, mode=self.mode, every_n_train_steps=self._every_n_train_steps,
            every_n_epochs=self._every_n_epochs, train_time_interval=self._train_time_interval))

    @property
    def state_key(self) -> str:
        return self._fixed_state_key

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]) \
            -> None:
        super().on_save_checkpoint(trainer, pl_module, checkpoint)
        for logger in trainer.loggers:
            logger.save()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if self.dirpath is None or trainer.global_step == 0:
            return
        path = os.path.join(self.dirpath, f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}")
        if os.path.isfile(path) and path == self.last_model_path and \
                int(torch.load(path, map_location="cpu", weights_only=True).get("global_step", -1)) == trainer.global_step:
            return
        trainer.save_checkpoint(path)
        self.last_model_path = path


class FitTimer(pl.Callback):
    """Wall and CPU seconds of the training loop (train start to train end) and the steps it took.

    ``seconds``/``steps``: this run; ``total_seconds``: over this run and the runs it resumed (kept in the
    checkpoint's callback state).
    """

    def __init__(self) -> None:
        self._start: float | None = None
        self._cpu_start = 0.0
        self._end: float | None = None
        self._cpu_end = 0.0
        self._first_step = 0
        self._last_step = 0
        self.previous_seconds = 0.0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start, self._cpu_start = time.perf_counter(), time.process_time()
        self._first_step = self._last_step = trainer.global_step

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._end, self._cpu_end = time.perf_counter(), time.process_time()
        self._last_step = trainer.global_step

    @property
    def seconds(self) -> float:
        return 0.0 if self._start is None else (self._end or time.perf_counter()) - self._start

    @property
    def cpu_seconds(self) -> float:
        return 0.0 if self._start is None else (self._cpu_end or time.process_time()) - self._cpu_start

    @property
    def steps(self) -> int:
        return self._last_step - self._first_step

    @property
    def total_seconds(self) -> float:
        return self.previous_seconds + self.seconds

    def state_dict(self) -> dict[str, Any]:
        return {"total_seconds": self.total_seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.previous_seconds = float(state_dict.get("total_seconds", 0.0))


class TrainingProgressBar(TQDMProgressBar):
    """Lightning's TQDM progress bar with one terminal draw per training refresh.

    Lightning's bar draws twice at each refresh of the training bar: once for the new step count and once more for
    the metrics (``set_postfix``). This one sets the metrics without drawing and then draws the count, so the line
    shown is the same and is drawn once. Everything else (validation bars, ``refresh_rate``, the metrics shown) is
    Lightning's.
    """

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        bar, n = self.train_progress_bar, batch_idx + 1
        if bar is not None and self._should_update(n, bar.total):
            bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=False)
            if not bar.disable:
                bar.n = n
                bar.refresh()
