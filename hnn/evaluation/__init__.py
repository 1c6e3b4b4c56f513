"""hnn.evaluation: metrics and protocols for learned dynamics (no training here).

- :func:`evaluate_rollouts` -- the one energy-MSE computation (validation monitor, train.py's summary, Table 1), on a
  :class:`hnn.data.ReferenceRollouts` built by the data side; :func:`derivative_mse`;
- :mod:`hnn.evaluation.table1` -- the Table 1 protocols of Greydanus et al. 2019, the table and its figure;
- :mod:`hnn.evaluation.figures` -- phase portraits and the energy-model density figure;
- :mod:`hnn.evaluation.gan` -- physics metrics of generated trajectories: :func:`energy_w1`, :func:`energy_drift`,
  :func:`one_step_flow`, :func:`physics_residual`, :func:`mmd` (:class:`MMDResult`), :func:`energy_report` and the
  GAN protocol :func:`gan_report`; :func:`canonical_prior_report` (latent starts drawn from exp(−H_θ/T));
- :mod:`hnn.evaluation.video` -- the analytic state read-off of rendered videos: :func:`read_positions` (the blob's
  intensity centroid) and :func:`read_states` (q from the geometry of a :class:`hnn.data.RenderSpec`, p from
  second-order finite differences), the time scale of a motion
  (:func:`turning_rate`, :func:`motion_frequency`) and the video metrics :func:`period_match` (with
  :func:`dominant_frequency`, :func:`energy_frequency`) and :func:`frame_mmd`.
"""
from hnn.evaluation.gan import (
    MMDResult,
    canonical_prior_report,
    energy_drift,
    energy_report,
    energy_w1,
    gan_report,
    mmd,
    one_step_flow,
    physics_residual,
)
from hnn.evaluation.metrics import RolloutReport, derivative_mse, evaluate_rollouts
from hnn.evaluation.video import (
    dominant_frequency,
    energy_frequency,
    frame_mmd,
    motion_frequency,
    period_match,
    read_positions,
    read_states,
    turning_rate,
)

__all__ = [
    "evaluate_rollouts",
    "derivative_mse",
    "RolloutReport",
    "energy_w1",
    "energy_drift",
    "one_step_flow",
    "physics_residual",
    "mmd",
    "MMDResult",
    "energy_report",
    "gan_report",
    "canonical_prior_report",
    "read_positions",
    "read_states",
    "turning_rate",
    "motion_frequency",
    "dominant_frequency",
    "energy_frequency",
    "period_match",
    "frame_mmd",
]
