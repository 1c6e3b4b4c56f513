"""hnn.optim: Marín's Hamiltonian-inspired optimizer and loss, and a 1/√t learning-rate schedule.

- :class:`HamiltonianOptimizer` -- Algorithm 1: v ← βv + (1−β)g; H = ½‖v‖² + ½‖g‖²; θ ← θ − η v/(√H + ε)
- :func:`hamiltonian_loss`      -- Algorithm 2: base loss + λ·½Σ‖θ_i‖²
- :class:`InverseSqrtLR`        -- η_t = η₀/√t (optionally with linear warm-up), an ``LRScheduler``

All are plain torch objects (no Lightning); LightningCLI can select them by class path, e.g.
``--optimizer hnn.optim.HamiltonianOptimizer --optimizer.lr 0.01 --lr_scheduler hnn.optim.InverseSqrtLR``.
"""
from hnn.optim.hamiltonian import HamiltonianOptimizer, hamiltonian_loss
from hnn.optim.schedules import InverseSqrtLR

__all__ = ["HamiltonianOptimizer", "hamiltonian_loss", "InverseSqrtLR"]
