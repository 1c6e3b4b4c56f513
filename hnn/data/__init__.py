"""hnn.data: dataset generators, real-data loaders, the recipe-keyed cache, and the LightningDataModules.

- :class:`HamiltonianDataModule` (``hnn.data.datamodule``) — every dynamics task: the HNN paper's simulated
  ``spring``, ``pendulum``, ``two_body``, ``three_body`` (+ ``damped_spring``, ``damped_pendulum``) and the
  Schmidt & Lipson recordings ``real_pendulum``, ``real_spring``, ``real_double_pendulum``, ``real_coupled_springs``;
  batches :class:`DerivativeBatch` ``(x, dxdt)`` or :class:`WindowBatch` ``(t, x)``, served from device memory,
  and the :class:`ReferenceRollouts` a model of the task is judged against.
- :mod:`hnn.data.synthetic` — the paper's recipes (:data:`SIMULATION_RECIPES`) and :func:`simulate`.
- :mod:`hnn.data.real` — :func:`load_recording` (checksums, gap handling, paper's split).
- :mod:`hnn.data.cache` — :func:`load_or_generate` (recipe hash, manifest, atomic writes, corruption detection).
- :class:`GymDataModule` (``hnn.data.gym``) — (state, input, next state) transitions and multi-step windows of the
  gymnasium envs Pendulum-v1, Acrobot-v1, CartPole-v1, MountainCarContinuous-v0 (:class:`ControlWindowBatch`);
  :func:`collect_transitions` (= ``hnn.data.gym.collect``) runs an env under one of :data:`GYM_POLICIES` or a callable,
  :func:`load_transitions` caches it, :class:`GymTransitions` is the record.
- :class:`TrajectoryDataModule` (``hnn.data.trajectories``) — whole noiseless phase-space trajectories of the spring
  and the pendulum in four disjoint splits (train, val, test, reference): the Hamiltonian GAN's data.
- :class:`VideoDataModule` (``hnn.data.video``) — the same trajectories as noiseless grayscale clips
  ``[B, T, 1, S, S]`` in [−1, 1], drawn by :func:`render_frames` with the geometry of a :class:`RenderSpec`: the
  video GAN's data.
- :class:`Toy2DDataModule` (``hnn.data.toy2d``) — 2-D toy densities for the samplers/energy models.

Lightning is only imported when a DataModule is first accessed.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "HamiltonianDataModule",
    "DerivativeBatch",
    "WindowBatch",
    "ControlWindowBatch",
    "ReferenceRollouts",
    "RolloutGroup",
    "DeviceBatches",
    "available_tasks",
    "Toy2DDataModule",
    "TrajectoryDataModule",
    "VideoDataModule",
    "RenderSpec",
    "render_frames",
    "GymDataModule",
    "GymTransitions",
    "collect_transitions",
    "load_transitions",
    "GYM_POLICIES",
    "SimulationRecipe",
    "SIMULATION_RECIPES",
    "simulate",
    "RECORDINGS",
    "load_recording",
    "ChecksumMismatchError",
    "load_or_generate",
    "CacheCorruptionWarning",
]

_LAZY = {
    "HamiltonianDataModule": "hnn.data.datamodule",
    "DerivativeBatch": "hnn.data.batches",
    "WindowBatch": "hnn.data.batches",
    "ControlWindowBatch": "hnn.data.batches",
    "ReferenceRollouts": "hnn.data.reference",
    "RolloutGroup": "hnn.data.reference",
    "DeviceBatches": "hnn.data.datamodule",
    "available_tasks": "hnn.data.datamodule",
    "Toy2DDataModule": "hnn.data.toy2d",
    "TrajectoryDataModule": "hnn.data.trajectories",
    "VideoDataModule": "hnn.data.video",
    "RenderSpec": "hnn.data.video",
    "render_frames": "hnn.data.video",
    "GymDataModule": "hnn.data.gym",
    "GymTransitions": "hnn.data.gym",
    "collect_transitions": "hnn.data.gym",
    "load_transitions": "hnn.data.gym",
    "GYM_POLICIES": "hnn.data.gym",
    "SimulationRecipe": "hnn.data.synthetic",
    "SIMULATION_RECIPES": "hnn.data.synthetic",
    "simulate": "hnn.data.synthetic",
    "RECORDINGS": "hnn.data.real",
    "load_recording": "hnn.data.real",
    "ChecksumMismatchError": "hnn.data.real",
    "load_or_generate": "hnn.data.cache",
    "CacheCorruptionWarning": "hnn.data.cache",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hnn.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
