"""Shared LightningModule plumbing for learned dynamics: losses, optimizer, logging, validation monitors.

A subclass builds its network (a plain ``nn.Module`` from :mod:`hnn.nn`) from plain hyperparameters and
implements :meth:`DynamicsModel.vector_field`. Everything else is here:

- training on **derivatives** (the HNN paper): ``batch = (x [B, d], dxdt [B, d])``, loss = mean ‖f_θ(x) − ẋ‖²;
- training on **rollouts** (discrete-time data): ``batch = (t [W], x [B, W, d])``, the model is integrated from
  ``x[:, 0]`` through ``hnn.integrate`` (differentiable) and loss = mean ‖x̂(t_k) − x(t_k)‖² over k ≥ 1;
- validation monitors: energy drift of rollouts of a few validation states, and a phase-portrait PNG per
  validation epoch (also sent to wandb when a wandb logger is active).

Metric names have no '/': ``train_loss``, ``val_loss``, ``test_loss``, ``val_energy_drift``, ``val_rollout_mse``
(``val_learned_energy_drift`` when the data has no ground-truth system).
"""
from __future__ import annotations

import math
import os
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from torch import Tensor

import hnn.integrators as _integrators

TrainOn = Literal["derivatives", "rollout"]
TRAIN_ON = ("derivatives", "rollout")

__all__ = ["DynamicsModel", "TRAIN_ON"]


def _check_choice(name: str, value: Any, choices: tuple[str, ...] | list[str]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(choices)}")


def _check_positive(name: str, value: Any, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
            value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value!r}")


class DynamicsModel(pl.LightningModule):
    """Base class of hnn's learned-dynamics LightningModules (``BaselineMLP``, ``HNN``, ``DissipativeHNN``).

    Subclasses implement ``vector_field(x) -> dx/dt`` and may set ``separable`` / ``dissipative``.

    Args:
        dim: state dimension (x = [q, p]); filled in from the data module by ``scripts/train.py``.
        train_on: ``"derivatives"`` (fit ẋ, the paper) or ``"rollout"`` (fit trajectory windows through an
            integrator; needs window batches, i.e. ``data.mode: windows``).
        integrator: ``hnn.integrate`` method used for rollout training and validation rollouts.
        integrator_dt: substep size for those rollouts (``None``: one step per data interval).
        lr: Adam learning rate (the paper: 1e-3).
        weight_decay: Adam weight decay (the paper's code: 1e-4 spring/pendulum/three-body, 1e-5 real, 0 two-body).
        monitor_rollouts: number of validation states rolled out each validation epoch for the energy drift and
            the phase portrait (0 disables both).
        monitor_horizon: rollout length of those monitors in time units (``None``: two periods of the data's
            ground-truth system, else the span of its validation trajectories, else 10).
        steps_per_batch: optimizer steps taken on each batch (default 1). For full-batch training, where every
            batch is the whole data set, ``k > 1`` gives the same sequence of Adam steps (the same weights) while
            Lightning's per-batch machinery (batch fetch, batch hooks, logging, progress bar, checkpoint and
            validation checks) runs once per k steps: on the paper's spring HNN a step takes ~9 ms, and train.py's
            path measured +16 % over a plain loop with k = 1, +3 % with k = 10. Each step still goes through Lightning's backward and optimizer-step hooks
            (``manual_backward``/``optimizer.step()``, so callbacks such as the NaN guard see every step);
            ``trainer.global_step`` and ``max_steps`` count optimizer steps, while ``log_every_n_steps``, epochs
            and validation intervals count batches. Needs full-batch data (``data.batch_size: null``).
    """

    separable: bool = False
    dissipative: bool = False

    def __init__(
        self,
        dim: int,
        train_on: TrainOn = "derivatives",
        integrator: str = "rk4",
        integrator_dt: float | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        monitor_rollouts: int = 8,
        monitor_horizon: float | None = None,
        steps_per_batch: int = 1,
    ) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim (the state dimension) must be a positive int, got {dim!r}")
        _check_choice("train_on", train_on, TRAIN_ON)
        _check_choice("integrator", integrator, sorted(_integrators.available()))
        if integrator_dt is not None:
            _check_positive("integrator_dt", integrator_dt)
        _check_positive("lr", lr)
        _check_positive("weight_decay", weight_decay, allow_zero=True)
        if isinstance(monitor_rollouts, bool) or not isinstance(monitor_rollouts, int) or monitor_rollouts < 0:
            raise ValueError(f"monitor_rollouts must be an int >= 0, got {monitor_rollouts!r}")
        if monitor_horizon is not None:
            _check_positive("monitor_horizon", monitor_horizon)
        if isinstance(steps_per_batch, bool) or not isinstance(steps_per_batch, int) or steps_per_batch < 1:
            raise ValueError(f"steps_per_batch must be an int >= 1, got {steps_per_batch!r}")
        # k > 1: the optimizer steps are taken in training_step (Lightning's manual optimization)
        self.steps_per_batch = steps_per_batch
        self.automatic_optimization = steps_per_batch == 1
        self.dim = dim
        self._monitor: dict[str, Any] | None = None
        self._monitor_candidates: Tensor | None = None
        self.last_plot_path: str | None = None
        self._figures: Any = None  # BackgroundFigureWriter, created with the first phase portrait
        self.plot_dir: str | None = None  # where phase portraits go (default: <trainer.log_dir>/phase_portraits)
        self._batch_size = 1

    # ------------------------------------------------------------------ dynamics API
    def vector_field(self, x: Tensor) -> Tensor:
        """dx/dt = f_θ(x), same shape as ``x [..., dim]``."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Same as :meth:`vector_field`."""
        return self.vector_field(x)

    def rollout(self, x0: Tensor, t: Tensor | list[float], method: str = "rk4", **options: Any) -> Tensor:
        """Integrate the learned dynamics from ``x0 [..., dim]`` over times ``t``: ``[len(t), ..., dim]``.

        Just ``hnn.integrate(self, x0, t, method=method, **options)`` (options: ``dt``, ``rtol``, ``atol``, ...).
        Differentiable when grad mode is on; keeps no graph under ``torch.no_grad()`` / ``inference_mode()``.
        """
        return _integrators.integrate(self, x0, t, method=method, **options)

    def check_state(self, x: Tensor, what: str = "state") -> Tensor:
        """Raise a ValueError naming the problem unless ``x`` is a floating tensor ``[..., dim]``."""
        if not isinstance(x, Tensor):
            raise TypeError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.dim:
            raise ValueError(f"{type(self).__name__} was built for state dimension {self.dim}, but the {what} "
                             f"has shape {tuple(x.shape)} (last dimension {x.shape[-1] if x.ndim else None})")
        if not x.is_floating_point():
            raise TypeError(f"{what} must be a floating-point tensor, got dtype {x.dtype}")
        return x

    # ------------------------------------------------------------------ losses
    def _unpack(self, batch: Any) -> tuple[str, Tensor, Tensor]:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError("expected a batch (x, dxdt) of derivative pairs or (t, x) of trajectory windows, got "
                             f"{type(batch).__name__}" + (f" of length {len(batch)}" if hasattr(batch, '__len__') else ""))
        a, b = batch
        if a.ndim == 1 and b.ndim == 3:
            kind = "windows"
        elif a.ndim == 2 and b.ndim == 2 and a.shape == b.shape:
            kind = "derivatives"
        else:
            raise ValueError(f"cannot interpret batch shapes {tuple(a.shape)} and {tuple(b.shape)}: expected "
                             "(x [B, dim], dxdt [B, dim]) or (t [window], x [B, window, dim])")
        if b.shape[-1] != self.dim:
            raise ValueError(f"data/model state-dimension mismatch: the batch has states of dimension "
                             f"{b.shape[-1]} but {type(self).__name__} was built with dim={self.dim}")
        return kind, a, b

    def derivative_loss(self, x: Tensor, dxdt: Tensor) -> Tensor:
        """mean ‖f_θ(x) − ẋ‖² over batch and components (the paper's L2 loss)."""
        return torch.mean((self.vector_field(x) - dxdt) ** 2)

    def rollout_loss(self, t: Tensor, x: Tensor) -> Tensor:
        """mean ‖x̂(t_k) − x(t_k)‖² for k ≥ 1, x̂ integrated from x[:, 0] with ``integrator``/``integrator_dt``."""
        pred = _integrators.integrate(self, x[:, 0], t, method=self.hparams.integrator, dt=self.hparams.integrator_dt)
        return torch.mean((pred[1:].transpose(0, 1) - x[:, 1:]) ** 2)

    def _loss(self, batch: Any, stage: str) -> Tensor:
        kind, a, b = self._unpack(batch)
        self._batch_size = int(b.shape[0])  # what self.log weights epoch means by (t of a window batch is not it)
        train_on = self.hparams.train_on
        if stage == "train" and train_on == "rollout" and kind != "windows":
            raise ValueError("train_on='rollout' needs trajectory windows (t, x[B, window, dim]); "
                             "set the data module's mode to 'windows' (e.g. --data.mode windows)")
        if stage == "train" and train_on == "derivatives" and kind != "derivatives":
            raise ValueError("train_on='derivatives' needs (x, dxdt) pairs; set the data module's mode to "
                             "'derivatives', or train on rollouts with --model.train_on rollout")
        return self.derivative_loss(a, b) if kind == "derivatives" else self.rollout_loss(a, b)

    # ------------------------------------------------------------------ Lightning hooks
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        data_dim = getattr(datamodule, "dim", None)
        if isinstance(data_dim, int) and data_dim != self.dim:
            raise ValueError(f"data/model state-dimension mismatch: the data module {type(datamodule).__name__} "
                             f"serves states of dimension {data_dim}, but {type(self).__name__} was built with "
                             f"dim={self.dim}. Let the data set the model's dim (scripts/train.py links them) or "
                             "pick a checkpoint trained on this task.")
        k = self.steps_per_batch
        if stage == "fit" and k > 1 and getattr(datamodule, "batch_size", None) is not None:
            raise ValueError(f"steps_per_batch={k} takes {k} optimizer steps on each batch, which is meant for "
                             f"full-batch training, but the data module serves mini-batches of "
                             f"{datamodule.batch_size}; set data.batch_size: null or model steps_per_batch: 1")

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        if not self.automatic_optimization:
            return self._training_steps(batch)
        loss = self._loss(batch, "train")
        # self.log costs tens of µs; full-batch steps on tiny data take ~1 ms, so log only on the steps the
        # loggers actually write (every trainer.log_every_n_steps) instead of every step
        trainer = self._trainer
        every = max(1, getattr(trainer, "log_every_n_steps", 1) or 1) if trainer is not None else 1
        if trainer is None or (self.global_step + 1) % every == 0:  # Lightning writes when (step+1) % every == 0
            self.log("train_loss", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=self._batch_size)
        return loss

    def _training_steps(self, batch: Any) -> Tensor:
        """``steps_per_batch`` optimizer steps on one (full) batch, each through Lightning's backward and
        optimizer-step hooks; stops early at ``trainer.max_steps``. Logs the last step's loss."""
        optimizer = self.optimizers()
        max_steps = self.trainer.max_steps if self._trainer is not None else -1
        for _ in range(self.steps_per_batch):
            loss = self._loss(batch, "train")
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
            self._step_lr_schedulers("step")
            if 0 <= max_steps <= self.trainer.global_step:
                break
        loss = loss.detach()
        self.log("train_loss", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=self._batch_size)
        return loss

    def _step_lr_schedulers(self, interval: str) -> None:
        """What Lightning's automatic optimization does with the configured LR schedulers, for k > 1: step those
        of this ``interval`` ("step": per optimizer step, "epoch": per epoch) every ``frequency`` of them."""
        for config in self.trainer.lr_scheduler_configs:
            if config.interval != interval:
                continue
            count = self.trainer.global_step if interval == "step" else self.current_epoch + 1
            if count % config.frequency:
                continue
            if config.reduce_on_plateau:
                metric = self.trainer.callback_metrics.get(config.monitor)
                if metric is None:
                    raise ValueError(f"the ReduceLROnPlateau scheduler monitors {config.monitor!r}, which has not "
                                     f"been logged; logged: {sorted(self.trainer.callback_metrics)}")
                config.scheduler.step(metric)
            else:
                config.scheduler.step()

    def on_train_epoch_end(self) -> None:
        if not self.automatic_optimization:
            self._step_lr_schedulers("epoch")

    def validation_step(self, batch: Any, batch_idx: int) -> Tensor:
        loss = self._loss(batch, "val")
        self.log("val_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True,
                 batch_size=self._batch_size)
        if batch_idx == 0 and self._monitor_candidates is None and self.hparams.monitor_rollouts > 0:
            kind, a, b = self._unpack(batch)
            states = b[:, 0] if kind == "windows" else a
            self._monitor_candidates = states[: self.hparams.monitor_rollouts].detach().clone()
        return loss

    def test_step(self, batch: Any, batch_idx: int) -> Tensor:
        loss = self._loss(batch, "test")
        self.log("test_loss", loss, on_step=False, on_epoch=True, sync_dist=True, batch_size=self._batch_size)
        return loss

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Predicted dx/dt for derivative batches, predicted trajectories ``[B, window, dim]`` for windows."""
        if isinstance(batch, Tensor):
            return self.vector_field(batch)
        kind, a, b = self._unpack(batch)
        if kind == "derivatives":
            return self.vector_field(a)
        return self.rollout(b[:, 0], a, method=self.hparams.integrator, dt=self.hparams.integrator_dt).transpose(0, 1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, map_location: Any = None, hparams_file: Any = None,
                             strict: bool | None = None, **kwargs: Any) -> "DynamicsModel":
        """Lightning's loader, after checking (safely) that the file holds this class or a subclass of it.

        A checkpoint of another class raises one clear ``ValueError`` instead of a confusing argument or
        state-dict error. Prefer ``hnn.load(path)``, which picks the class itself and returns eval mode.
        """
        if isinstance(checkpoint_path, (str, os.PathLike)):
            from hnn.models.checkpoint import CheckpointError, peek_class

            found = peek_class(checkpoint_path)
            if found is not None and not issubclass(found, cls):
                raise CheckpointError(f"{os.fspath(checkpoint_path)!r} holds a {found.__name__} checkpoint, not a "
                                      f"{cls.__name__}; load it with hnn.load(path) or "
                                      f"{found.__name__}.load_from_checkpoint(path)")
        return super().load_from_checkpoint(checkpoint_path, map_location=map_location, hparams_file=hparams_file,
                                            strict=strict, **kwargs)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["hnn_model_class"] = f"{type(self).__module__}.{type(self).__qualname__}"

    # ------------------------------------------------------------------ validation monitors
    def _build_monitor(self) -> dict[str, Any] | None:
        """Starting states, times, reference trajectory and reference energy for the validation monitors.

        Simulated data with a ground-truth system: the first validation trajectories' noiseless starting states,
        rolled out over ``monitor_horizon`` (default: two periods, at least the data's time span) against the
        system's own trajectory. Recordings: the validation block as recorded. Other data modules: the first
        states of the first validation batch, without a reference trajectory.
        """
        datamodule = getattr(self.trainer, "datamodule", None)
        system = getattr(datamodule, "system", None)
        k = self.hparams.monitor_rollouts
        x0, t, truth = None, None, None
        trajectories = getattr(datamodule, "trajectories", None)
        if callable(trajectories):
            try:
                if getattr(datamodule, "recipe", None) is not None and system is not None:
                    t_data, x_data = trajectories("val", noiseless=True)
                    x0 = x_data[:k, 0]
                    horizon = self.hparams.monitor_horizon
                    if horizon is None:
                        span = float(t_data[-1] - t_data[0])
                        period = getattr(system, "period", None)
                        horizon = max(span, 2.0 * float(period)) if period else span
                    t = torch.linspace(0.0, float(horizon), 60, dtype=x0.dtype, device=x0.device)
                    with torch.no_grad():
                        truth = system.trajectory(x0, t).to(x0)
                else:
                    t_data, x_data = trajectories("val")
                    x0, t, truth = x_data[:k, 0], t_data - t_data[0], x_data[:k].transpose(0, 1)
            except (ValueError, TypeError, KeyError, AttributeError, RuntimeError):
                x0, t, truth = None, None, None
            if x0 is not None and x0.shape[0] == 0:
                x0, t, truth = None, None, None
        if x0 is None:
            if self._monitor_candidates is None:
                return None
            x0 = self._monitor_candidates
            horizon = self.hparams.monitor_horizon or 10.0
            t = torch.linspace(0.0, float(horizon), 60, dtype=x0.dtype, device=x0.device)
        monitor: dict[str, Any] = {"x0": x0, "t": t, "truth": truth, "energy": None, "energy_name": None}
        if system is not None and not getattr(system, "dissipative", False):
            monitor["energy"], monitor["energy_name"] = system.hamiltonian, "val_energy_drift"
        elif callable(getattr(self, "hamiltonian", None)) and not self.dissipative:
            monitor["energy"], monitor["energy_name"] = self.hamiltonian, "val_learned_energy_drift"
        return monitor

    def on_validation_epoch_end(self) -> None:
        if self.hparams.monitor_rollouts == 0 or self.trainer.sanity_checking:
            return
        if self._monitor is None:
            self._monitor = self._build_monitor()
        monitor = self._monitor
        if monitor is None:
            return
        with torch.no_grad():
            pred = self.rollout(monitor["x0"], monitor["t"], method=self.hparams.integrator,
                                dt=self.hparams.integrator_dt)
        if not bool(torch.isfinite(pred).all()):
            self.log("val_rollout_finite", 0.0)
            return
        truth = monitor["truth"]
        if monitor["energy"] is not None:
            with torch.no_grad():
                energy = monitor["energy"](pred)
                # drift: mean over starting states and times of |E(x̂(t)) − E(x̂(0))|
                self.log(monitor["energy_name"], (energy - energy[:1]).abs().mean(), on_epoch=True)
                if truth is not None and monitor["energy_name"] == "val_energy_drift":
                    # the paper's energy MSE: mean of (H(x̂(t)) − H(x(t)))²
                    self.log("val_energy_mse", torch.mean((energy - monitor["energy"](truth)) ** 2), on_epoch=True)
        if truth is not None:
            self.log("val_rollout_mse", torch.mean((pred - truth) ** 2), on_epoch=True)
        if self.trainer.is_global_zero:
            self._plot_phase_portrait(monitor, pred)

    def _plot_phase_portrait(self, monitor: dict[str, Any], pred: Tensor) -> None:
        """Evaluate the portrait's data here (model calls), draw and write the PNG on a worker thread.

        Drawing takes ~0.1-0.2 s per figure, a dozen full-batch steps of a small model; the worker overlaps it
        with training. Finished figures are logged to wandb (with the step they show) at the next validation and
        when the stage ends (``teardown``), which also waits for the last one.
        """
        from hnn.models.plotting import BackgroundFigureWriter, draw_phase_portrait, phase_portrait_data

        folder = self.plot_dir or os.path.join(self.trainer.log_dir or self.trainer.default_root_dir,
                                               "phase_portraits")
        path = os.path.join(folder, f"epoch{self.current_epoch:05d}_step{self.global_step:07d}.png")
        title = f"{type(self).__name__} — epoch {self.current_epoch}, step {self.global_step}"
        field = self.vector_field if self.dim == 2 else None
        data = phase_portrait_data(monitor["t"], pred, monitor["truth"], energy=monitor["energy"], field=field,
                                   title=title)
        if self._figures is None:
            self._figures = BackgroundFigureWriter()
        self._log_finished_figures()
        self._figures.submit(draw_phase_portrait, path, data, tag=self.global_step)

    def _log_finished_figures(self, wait: bool = False) -> None:
        """Record (``last_plot_path``) and send to wandb the phase portraits the worker has written."""
        figures = self._figures
        if figures is None:
            return
        for step, path in figures.finished(wait=wait):
            self.last_plot_path = path
            for logger in (self.loggers if self._trainer is not None else []):
                log_image = getattr(logger, "log_image", None)
                if callable(log_image) and type(logger).__name__ == "WandbLogger":
                    log_image(key="phase_portrait", images=[path], step=step)

    def teardown(self, stage: str) -> None:
        """End of fit/validate/test: wait for the last phase portrait and log it."""
        figures = self._figures
        if figures is not None:
            self._log_finished_figures(wait=True)
            figures.close()
