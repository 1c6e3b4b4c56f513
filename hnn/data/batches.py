"""The two batch types of learned-dynamics training; the data module's ``mode`` decides which one it serves.

- :class:`DerivativeBatch` ``(x [B, dim], dxdt [B, dim])`` -- states and their time derivatives: the loss is
  mean ‖f_θ(x) − ẋ‖² (the HNN paper).
- :class:`WindowBatch` ``(t [W], x [B, W, dim])`` -- trajectory windows sharing the times ``t`` (from 0): the loss is
  mean over k ≥ 1 of ‖x̂(t_k) − x(t_k)‖², x̂ integrated from ``x[:, 0]``.
- :class:`ControlWindowBatch` ``(t [W], x [B, W, dim], u [B, W − 1, m])`` -- windows of a controlled system with the
  input held over each interval (zero-order hold); W = 2 is a batch of (state, input, next state) transitions. The
  loss is that of :class:`WindowBatch`, with x̂ integrated under u and angles compared on the circle.

Both are NamedTuples, so Lightning moves them between devices like any tuple, and a model dispatches on the type —
never on tensor ranks.
"""
from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

__all__ = ["DerivativeBatch", "WindowBatch", "ControlWindowBatch"]


class DerivativeBatch(NamedTuple):
    """States ``x [B, dim]`` and their time derivatives ``dxdt [B, dim]``."""

    x: Tensor
    dxdt: Tensor


class WindowBatch(NamedTuple):
    """Window times ``t [W]`` (from 0, shared by the batch) and states ``x [B, W, dim]``."""

    t: Tensor
    x: Tensor


class ControlWindowBatch(NamedTuple):
    """Window times ``t [W]`` (from 0), states ``x [B, W, dim]`` and inputs ``u [B, W − 1, m]``, ``u[:, k]`` held
    over [t_k, t_{k+1}]."""

    t: Tensor
    x: Tensor
    u: Tensor
