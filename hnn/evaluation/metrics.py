"""The metrics of learned dynamics: the one energy-MSE computation and the derivative MSE.

:func:`evaluate_rollouts` rolls a model out from the starting states of a :class:`~hnn.data.ReferenceRollouts`
and compares it with the reference trajectories — used by the validation monitor, ``train.py``'s summary and
Table 1 alike:

- energy MSE  = mean over starts k of the mean over times t_j of (H_ref(x̂_k(t_j)) − H_ref(x_k(t_j)))²
  (the per-start means are kept: ``per_start``), with H_ref the reference's energy — never the model's own;
- state MSE   = mean over starts, times and components of (x̂ − x)²;
- energy drift = mean over starts and times of |E(x̂(t)) − E(x̂(t_0))| for a chosen energy E (the reference's, or the
  model's own H when the reference has none).

:func:`derivative_mse` is the paper's train/test MSE, mean ‖f_θ(x) − ẋ‖².
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

import hnn.integrators as _integrators
from hnn.data.reference import ReferenceRollouts
from hnn.validate import check_int

__all__ = ["RolloutReport", "evaluate_rollouts", "derivative_mse", "float64_copy"]


def float64_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A float64 copy of ``model`` in eval mode (the original is untouched)."""
    return copy.deepcopy(model).double().eval()


def derivative_mse(model: Any, x: Tensor, dxdt: Tensor) -> float:
    """mean ‖f_θ(x) − ẋ‖² over states and components (the paper's train/test MSE), without a graph."""
    with torch.no_grad():
        return float(torch.mean((model.vector_field(x) - dxdt) ** 2))


@dataclass
class RolloutReport:
    """What :func:`evaluate_rollouts` measured; ``preds`` holds one ``[T, K, dim]`` rollout per reference group."""

    energy_mse: float | None
    per_start: list[float] | None
    state_mse: float
    energy_drift: float | None
    preds: list[Tensor]
    seconds: float
    finite: bool
    dense_t: Tensor | None = None
    dense: Tensor | None = None  # [T_dense, K_total, dim]


def evaluate_rollouts(
    model: Any,
    reference: ReferenceRollouts,
    method: str = "torchdiffeq:dopri5",
    rtol: float = 1e-9,
    atol: float = 1e-9,
    dt: float | None = None,
    float64: bool = True,
    drift_energy: Callable[[Tensor], Tensor] | None = None,
    dense_points: int | None = None,
) -> RolloutReport:
    """Roll ``model`` out from every reference start (one batched, graph-free solve) and score it (module docstring).

    ``model``: anything ``hnn.integrate`` accepts (a field, a DynamicsModule, a ground-truth system).
    ``float64``: roll out a float64 copy of a torch model, so the solver tolerance, not float32 round-off, sets the
    error; otherwise the model's own dtype and device are used. ``rtol``/``atol`` apply to torchdiffeq methods,
    ``dt`` to fixed-step ones. ``drift_energy``: the E of the energy drift (default: the reference's energy when it is
    conserved, else none). ``dense_points`` adds that many evenly spaced output times (``dense_t``/``dense``, for
    plotting). All starts are integrated together up to the last requested time; each group reads its own times
    (dopri5 interpolates at requested times, so extra output times do not change its steps).
    A rollout that leaves the finite numbers is reported with ``finite=False`` and no metrics (NaN).
    """
    runner = float64_copy(model) if float64 and isinstance(model, torch.nn.Module) else model
    param = next(runner.parameters(), None) if isinstance(runner, torch.nn.Module) else None
    dtype = torch.float64 if float64 or param is None else param.dtype
    device = param.device if param is not None else torch.device("cpu")
    reference = reference.to(dtype=dtype, device=device)
    groups = reference.groups
    t0 = float(groups[0].t_model[0])
    times = [g.t_model for g in groups]
    dense_t = None
    if dense_points is not None:
        t_end = max(float(g.t_model[-1]) for g in groups)
        dense_t = torch.linspace(t0, t_end, check_int("dense_points", dense_points, minimum=2), dtype=dtype,
                                 device=device)
        times.append(dense_t)
    t_all = torch.unique(torch.cat(times))  # sorted
    x0_all = torch.cat([g.x0 for g in groups], dim=0)
    options: dict[str, Any] = {"rtol": rtol, "atol": atol} if method.startswith("torchdiffeq") else {"dt": dt}
    start = time.perf_counter()
    with torch.no_grad():
        out = _integrators.integrate(runner, x0_all, t_all, method=method, **options)  # [T_all, K_total, dim]
    preds, row = [], 0
    for group in groups:
        k = group.x0.shape[0]
        preds.append(out[torch.searchsorted(t_all, group.t_model), row:row + k])
        row += k
    dense = None if dense_t is None else out[torch.searchsorted(t_all, dense_t)]
    seconds = time.perf_counter() - start
    if not bool(torch.isfinite(out).all()):
        nan = float("nan")
        return RolloutReport(energy_mse=nan, per_start=None, state_mse=nan, energy_drift=nan, preds=preds,
                             seconds=seconds, finite=False, dense_t=dense_t, dense=dense)
    energy = reference.energy
    per_start: list[float] | None = None
    drift_energy = drift_energy if drift_energy is not None else (energy if reference.conservative else None)
    drift_sum, drift_count = 0.0, 0
    state_sq = []
    with torch.no_grad():
        if energy is not None:
            per_start = []
        for group, pred in zip(groups, preds):
            if energy is not None:
                sq = (energy(pred) - energy(group.truth)) ** 2  # [T, K]
                per_start.extend(float(v) for v in sq.mean(dim=0))
            if drift_energy is not None:
                e = drift_energy(pred)
                drift_sum += float((e - e[:1]).abs().sum())
                drift_count += e.numel()
            state_sq.append(((pred - group.truth) ** 2).mean(dim=-1).flatten())
    return RolloutReport(
        energy_mse=None if per_start is None else sum(per_start) / len(per_start), per_start=per_start,
        state_mse=float(torch.cat(state_sq).mean()),
        energy_drift=None if drift_energy is None else drift_sum / drift_count,
        preds=preds, seconds=seconds, finite=True, dense_t=dense_t, dense=dense,
    )
