"""``DynamicsModule``: the one LightningModule for learned dynamics — a vector field injected, loss and optimizer wired.

The physics is the injected field (``hnn.nn``: :class:`~hnn.nn.HamiltonianField`, :class:`~hnn.nn.DissipativeField`,
:class:`~hnn.nn.BaselineField`, or any ``nn.Module`` with ``dim`` and ``vector_field(x, u=None)``). This module only
chooses the loss from the batch type the data module serves (its ``mode``):

- :class:`~hnn.data.DerivativeBatch` ``(x, dxdt)``:  L = mean ‖f_θ(x) − ẋ‖²  (Greydanus et al. 2019);
- :class:`~hnn.data.WindowBatch` ``(t, x)``:  L = mean_{k ≥ 1} ‖x̂(t_k) − x(t_k)‖², with x̂ = ``hnn.integrate(field,
  x[:, 0], t, method=integrator, dt=integrator_dt)`` differentiated through the solver;
- :class:`~hnn.data.ControlWindowBatch` ``(t, x, u)`` (a controlled field, ``vector_field(x, u)``): the same rollout
  loss with the input u held over each interval, x̂ = :meth:`DynamicsModule.predict_window`, and angle coordinates
  compared on the circle, d(θ̂, θ)² = 2(1 − cos(θ̂ − θ)) (= (θ̂ − θ)² + O(Δ⁴), smooth across ±π);

and logs ``train_loss`` / ``val_loss`` / ``test_loss``. Rollout metrics and figures during validation come from the
:class:`~hnn.training.callbacks.RolloutMonitor` callback, not from here.

Optimizer and LR schedule are injected callables (LightningCLI: ``model.init_args.optimizer`` /
``model.init_args.scheduler`` with ``class_path`` + ``init_args``), so the checkpoint's hyperparameters record the
optimizer that actually trained. ``hnn.integrate(module, ...)`` works like ``hnn.integrate(module.field, ...)``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Literal, Union

import torch
from torch import Tensor, nn

import hnn.integrators as _integrators
from hnn.data.batches import ControlWindowBatch, DerivativeBatch, WindowBatch
from hnn.models.base import LoadableModule
from hnn.validate import check_choice, check_positive

__all__ = ["DynamicsModule", "describe_callable"]

# the types LightningCLI knows how to build from class_path + init_args (params -> Optimizer, optimizer -> scheduler)
OptimizerFactory = Callable[[Iterable], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], Union[torch.optim.lr_scheduler.LRScheduler,
                                                          torch.optim.lr_scheduler.ReduceLROnPlateau]]

# what hnn.integrate may ask the module for; answered by the field (absent there -> absent here)
_FIELD_METHODS = ("hamiltonian", "dH_dq", "dH_dp", "input_force")


def describe_callable(factory: Any) -> dict[str, Any] | None:
    """A plain-type record ``{"class_path", "init_args"}`` of an optimizer/scheduler factory (for hparams)."""
    if factory is None:
        return None
    args, keywords = (), {}
    while isinstance(factory, functools.partial):
        args, keywords = factory.args + args, {**factory.keywords, **keywords}
        factory = factory.func
    target = next((a for a in reversed(args) if isinstance(a, type)), factory)  # jsonargparse: partial(.., cls, **kw)
    name = f"{getattr(target, '__module__', '?')}.{getattr(target, '__qualname__', repr(target))}"
    plain = {k: v for k, v in keywords.items() if isinstance(v, (bool, int, float, str, type(None), list, tuple))}
    return {"class_path": name, "init_args": plain}


class DynamicsModule(LoadableModule):
    """Learn ``field`` from derivative pairs or trajectory windows.

    Args:
        field: the vector field to train (an ``nn.Module`` with ``dim`` and ``vector_field(x, u=None)``).
        optimizer: ``params -> Optimizer`` (default Adam, lr 1e-3: the paper's).
        scheduler: ``optimizer -> LR scheduler`` or None; stepped every ``scheduler_interval``
            (``ReduceLROnPlateau`` monitors ``val_loss``).
        scheduler_interval: ``"epoch"`` or ``"step"``.
        integrator: ``hnn.integrate`` method of the rollout loss (window batches) and of ``rollout``.
        integrator_dt: substep size of those rollouts (None: one step per data interval).
    """

    def __init__(
        self,
        field: nn.Module,
        optimizer: OptimizerFactory = torch.optim.Adam,
        scheduler: SchedulerFactory | None = None,
        scheduler_interval: Literal["epoch", "step"] = "epoch",
        integrator: str = "rk4",
        integrator_dt: float | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(field, nn.Module) or not callable(getattr(field, "vector_field", None)):
            raise TypeError(f"field must be an nn.Module with vector_field(x, u=None) (hnn.nn fields), got "
                            f"{type(field).__name__}")
        if not callable(optimizer):
            raise TypeError(f"optimizer must be a callable params -> Optimizer, got {type(optimizer).__name__}")
        if scheduler is not None and not callable(scheduler):
            raise TypeError(f"scheduler must be a callable optimizer -> scheduler or None, got {type(scheduler).__name__}")
        check_choice("scheduler_interval", scheduler_interval, ("epoch", "step"))
        check_choice("integrator", integrator, _integrators.available())
        if integrator_dt is not None:
            check_positive("integrator_dt", integrator_dt)
        self.field = field
        n_u = getattr(field, "n_u", None)  # controlled fields: vector_field(x, u), u [..., n_u]
        # lets Lightning's summary count FLOPs
        self.example_input_array = (torch.zeros(1, int(field.dim)), torch.zeros(1, int(n_u))) if n_u else \
            torch.zeros(1, int(field.dim))
        self.optimizer_factory, self.scheduler_factory = optimizer, scheduler
        self.save_hyperparameters(ignore=["field", "optimizer", "scheduler"])
        config = getattr(field, "config", None)
        self.hparams["field"] = config() if callable(config) else None
        self.hparams["optimizer"] = describe_callable(optimizer)
        self.hparams["scheduler"] = describe_callable(scheduler)

    # ------------------------------------------------------------------ the dynamics (the field's)
    @property
    def dim(self) -> int:
        return int(self.field.dim)

    @property
    def separable(self) -> bool:
        return bool(getattr(self.field, "separable", False))

    @property
    def dissipative(self) -> bool:
        return bool(getattr(self.field, "dissipative", False))

    def __getattr__(self, name: str) -> Any:
        if name in _FIELD_METHODS:
            return getattr(self._modules["field"], name)  # AttributeError when the field has none
        return super().__getattr__(name)

    def vector_field(self, x: Tensor, u: Tensor | None = None) -> Tensor:
        """dx/dt = field(x, u)."""
        return self.field.vector_field(x) if u is None else self.field.vector_field(x, u)

    def forward(self, x: Tensor, u: Tensor | None = None) -> Tensor:
        return self.vector_field(x, u)

    def rollout(self, x0: Tensor, t: Tensor | list[float], method: str | None = None, **options: Any) -> Tensor:
        """``hnn.integrate(self.field, x0, t, method=method or integrator, **options)``: ``[len(t), ..., dim]``."""
        options.setdefault("dt", self.hparams.integrator_dt if method is None else None)
        return _integrators.integrate(self.field, x0, t, method=method or self.hparams.integrator, **options)

    def predict_window(self, s0: Tensor, u: Tensor, t: Tensor | list[float]) -> Tensor:
        """Controlled rollout in the observed layout: ``[B, W, dim]`` from ``s0 [B, dim]`` under ``u [B, W − 1, m]``.

        A controlled field may observe a state ``s`` (e.g. velocities) other than the one it integrates (e.g.
        momenta): ``encode(s) -> x`` and ``decode(x) -> s`` map between them (identity when the field has none), so
        ŝ(t_k) = decode(integrate(field, encode(s0), t, u=u)[k]).
        """
        encode = getattr(self.field, "encode", None)
        decode = getattr(self.field, "decode", None)
        x0 = encode(s0) if callable(encode) else s0
        x = _integrators.integrate(self.field, x0, t, method=self.hparams.integrator, dt=self.hparams.integrator_dt,
                                   u=u.transpose(0, 1))
        return (decode(x) if callable(decode) else x).transpose(0, 1)

    def transition(self, s: Tensor, u: Tensor, dt: float) -> Tensor:
        """One zero-order-hold step of the learned controlled dynamics: ŝ(dt) from ``s [..., dim]`` under
        ``u [..., m]`` (what a learned environment calls each step)."""
        encode = getattr(self.field, "encode", None)
        decode = getattr(self.field, "decode", None)
        x0 = encode(s) if callable(encode) else s
        x = _integrators.integrate(self.field, x0, [0.0, float(dt)], method=self.hparams.integrator,
                                   dt=self.hparams.integrator_dt, u=u)[-1]
        return decode(x) if callable(decode) else x

    def state_error(self, pred: Tensor, target: Tensor) -> Tensor:
        """Squared error per entry, angles (the field's ``angles`` flags over q) on the circle: 2(1 − cos Δ)."""
        diff = pred - target
        angles = getattr(self.field, "angles", None)
        if not angles or not any(angles):
            return diff ** 2
        mask = torch.zeros(pred.shape[-1], dtype=torch.bool, device=pred.device)
        mask[: len(angles)] = torch.tensor(list(angles), dtype=torch.bool, device=pred.device)
        return torch.where(mask, 2.0 * (1.0 - torch.cos(diff)), diff ** 2)

    # ------------------------------------------------------------------ loss
    def loss(self, batch: DerivativeBatch | WindowBatch | ControlWindowBatch) -> Tensor:
        """The derivative loss or the rollout loss, by batch type (module docstring)."""
        if isinstance(batch, ControlWindowBatch):
            pred = self.predict_window(batch.x[:, 0], batch.u, batch.t)
            return torch.mean(self.state_error(pred[:, 1:], batch.x[:, 1:]))
        if isinstance(batch, DerivativeBatch):
            return torch.mean((self.field.vector_field(batch.x) - batch.dxdt) ** 2)
        if isinstance(batch, WindowBatch):
            pred = _integrators.integrate(self.field, batch.x[:, 0], batch.t, method=self.hparams.integrator,
                                          dt=self.hparams.integrator_dt)
            return torch.mean((pred[1:].transpose(0, 1) - batch.x[:, 1:]) ** 2)
        raise TypeError(f"DynamicsModule trains on hnn.data.DerivativeBatch, WindowBatch or ControlWindowBatch, got "
                        f"{type(batch).__name__}; serve one of them from the data module")

    def training_step(self, batch: DerivativeBatch | WindowBatch, batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        # Lightning writes step metrics every trainer.log_every_n_steps; a self.log call costs ~0.7 ms (more than
        # the Lightning loop's whole per-step cost otherwise), so it is made only on the steps that are written
        trainer = self._trainer
        every = max(1, int(getattr(trainer, "log_every_n_steps", 1) or 1)) if trainer is not None else 1
        if trainer is None or (self.global_step + 1) % every == 0 or trainer.should_stop:
            self.log("train_loss", loss, on_step=True, on_epoch=False, prog_bar=True, batch_size=batch.x.shape[0])
        return loss

    def validation_step(self, batch: DerivativeBatch | WindowBatch, batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, sync_dist=True, batch_size=batch.x.shape[0])
        return loss

    def test_step(self, batch: DerivativeBatch | WindowBatch, batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        self.log("test_loss", loss, on_epoch=True, sync_dist=True, batch_size=batch.x.shape[0])
        return loss

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """dx/dt for states or derivative batches; predicted windows ``[B, W, dim]`` for window batches."""
        if isinstance(batch, WindowBatch):
            return self.rollout(batch.x[:, 0], batch.t).transpose(0, 1)
        return self.vector_field(batch.x if isinstance(batch, DerivativeBatch) else batch)

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        scheduler = self.scheduler_factory(optimizer)
        config = {"scheduler": scheduler, "interval": self.hparams.scheduler_interval}
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            config["monitor"] = "val_loss"
        return {"optimizer": optimizer, "lr_scheduler": config}
