"""Evaluation metrics of learned dynamics (used by ``scripts/train.py``'s summary and usable for the paper's
Table 1 protocol).

- :func:`derivative_mse`: mean ‖f_θ(x) − ẋ‖² over states and components.
- :func:`energy_mse`: mean over starting points and times of (H_ref(x̂(t)) − H_ref(x(t)))², with x̂ the model's
  rollout (an adaptive solver in float64 by default) and x the reference trajectory.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

import hnn.integrators as _integrators

__all__ = ["derivative_mse", "energy_mse", "EnergyReport", "float64_copy"]


def float64_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A float64 copy of ``model`` in eval mode (the original is untouched)."""
    return copy.deepcopy(model).double().eval()


def derivative_mse(model: Any, x: Tensor, dxdt: Tensor) -> float:
    """mean ‖f_θ(x) − ẋ‖² (the paper's train/test MSE), computed without keeping a graph."""
    with torch.no_grad():
        return float(torch.mean((model.vector_field(x) - dxdt) ** 2))


@dataclass
class EnergyReport:
    energy_mse: float  # mean_{k,t} (H(x̂_k(t)) − H(x_k(t)))²
    state_mse: float  # mean_{k,t} ‖x̂_k(t) − x_k(t)‖² / dim
    pred: Tensor  # [T, K, dim] rollout
    truth: Tensor  # [T, K, dim] reference
    t: Tensor


def energy_mse(
    model: Any,
    energy: Callable[[Tensor], Tensor],
    x0: Tensor,
    t: Tensor,
    truth: Tensor,
    method: str = "torchdiffeq:dopri5",
    float64: bool = True,
    **options: Any,
) -> EnergyReport:
    """Roll ``model`` out from ``x0 [K, dim]`` over ``t`` and compare energies with the reference ``truth [T, K, dim]``.

    ``options`` go to ``hnn.integrate`` (e.g. ``rtol=1e-9, atol=1e-9`` for dopri5). With ``float64=True`` the
    rollout uses a float64 copy of the model so that the solver tolerance, not float32 round-off, sets the error.
    """
    if truth.shape[0] != len(t) or truth.shape[1:] != x0.shape:
        raise ValueError(f"truth must have shape [len(t), *x0.shape] = [{len(t)}, {', '.join(map(str, x0.shape))}], "
                         f"got {tuple(truth.shape)}")
    runner = float64_copy(model) if float64 else model
    dtype = torch.float64 if float64 else x0.dtype
    x0, t, truth = x0.to(dtype), t.to(dtype), truth.to(dtype)
    with torch.no_grad():
        pred = _integrators.integrate(runner, x0, t, method=method, **options)
        e_pred, e_true = energy(pred), energy(truth)
    return EnergyReport(
        energy_mse=float(torch.mean((e_pred - e_true) ** 2)),
        state_mse=float(torch.mean((pred - truth) ** 2)),
        pred=pred, truth=truth, t=t,
    )


@dataclass
class EnergyEvaluation:
    """Result of :func:`evaluate_energy` with a one-line description of the protocol used."""

    report: EnergyReport
    protocol: str


def evaluate_energy(model: Any, datamodule: Any, n_starts: int = 15, horizon: float = 20.0, n_times: int = 100,
                    method: str = "torchdiffeq:dopri5", tol: float = 1e-9) -> EnergyEvaluation | None:
    """Energy MSE of ``model`` on a data module's test split against its ground truth, or None without one.

    Simulated tasks: the first ``n_starts`` noiseless test starting states, t ∈ [0, horizon] at ``n_times``
    points, reference = the system's own trajectory, energy = the system's H. Recordings with an analysis
    Hamiltonian (real pendulum): one rollout over the recorded test block, compared with the recorded states.
    The model is rolled out in float64 by ``method`` at rtol = atol = ``tol``.
    """
    system = getattr(datamodule, "system", None)
    trajectories = getattr(datamodule, "trajectories", None)
    if system is None or not callable(trajectories) or getattr(system, "dissipative", False):
        return None
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    if getattr(datamodule, "recipe", None) is not None:
        _, x = trajectories("test", noiseless=True)
        x0 = x[:n_starts, 0].to(device=device, dtype=torch.float64)
        t = torch.linspace(0.0, horizon, n_times, dtype=torch.float64, device=device)
        truth = system.trajectory(x0, t)
        protocol = (f"{x0.shape[0]} noiseless test starts, t in [0, {horizon:g}] ({n_times} points), "
                    f"{method} rtol=atol={tol:g} in float64, energy = the system's H")
    else:
        t, x = trajectories("test")
        t = (t - t[0]).to(device=device, dtype=torch.float64)
        x = x.to(device=device, dtype=torch.float64)
        x0, truth = x[:, 0], x.transpose(0, 1)
        protocol = (f"one rollout over the recorded test block ({len(t)} samples, {float(t[-1]):.3g} s), {method} "
                    f"rtol=atol={tol:g} in float64, energy = the analysis H")
    options = {"rtol": tol, "atol": tol} if method.startswith("torchdiffeq") else {}
    report = energy_mse(model, system.hamiltonian, x0, t, truth, method=method, **options)
    return EnergyEvaluation(report=report, protocol=protocol)


__all__ += ["evaluate_energy", "EnergyEvaluation"]
