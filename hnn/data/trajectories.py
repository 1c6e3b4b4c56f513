"""``TrajectoryDataModule``: whole phase-space trajectories of a 1-DoF system, the data of the Hamiltonian GAN.

Each trajectory is ``x [T, 2]`` = the system's exact (spring) or reference (pendulum: float64 dopri5 at
rtol = atol = 1e-12) solution sampled every ``dt`` from a start drawn by the system's own recipe
(``sample_initial``: the HNN paper's rings in the (q, p) plane, radius U[0.1, 1] for the spring, U[1.3, 2.3] for the
pendulum — every pendulum orbit librates). **The data is noiseless**: a real trajectory's energy is constant to
round-off (spring) or to the reference tolerance (pendulum), so its energy drift is the floor of any generator.

Four disjoint splits of independent starts, all from one ``torch.Generator`` seeded with ``seed``: ``train``,
``val`` (model selection), ``test`` (the held-out set generated trajectories are judged against) and
``reference`` (a second held-out set: real-vs-real floors). Training and validation batches are ``(x,)`` with
``x [B, T, 2]`` in ``dtype``, served from memory on the trainer's device, shuffled each epoch (train) from a generator
seeded with ``seed``; ``test`` and ``reference`` are read whole with :meth:`trajectories` by the evaluation
(:func:`hnn.evaluation.gan_report`), so they have no loader.
"""
from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from hnn.data.datamodule import DeviceBatches
from hnn.validate import check_choice, check_int, check_positive

__all__ = ["TrajectoryDataModule", "TRAJECTORY_SYSTEMS", "TRAJECTORY_SPLITS"]

# name -> hnn.systems name: the HNN paper's spring H = q² + p² and pendulum H = 3(1 − cos q) + p²
TRAJECTORY_SYSTEMS = {"spring": "spring", "pendulum": "pendulum"}
TRAJECTORY_SPLITS = ("train", "val", "test", "reference")
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class TrajectoryDataModule(pl.LightningDataModule):
    """Noiseless trajectories ``[N, T, 2]`` of ``system`` (module docstring).

    Args:
        system: ``"spring"`` or ``"pendulum"``.
        steps: samples per trajectory T (≥ 2).
        dt: time between samples.
        n_train, n_val, n_test, n_reference: trajectories per split (≥ 1; 2 000 each by default).
        batch_size: trajectories per training batch.
        seed: seeds the starts and the shuffling.
        dtype: ``"float32"`` or ``"float64"`` of the served tensors (generation is float64).
    """

    dim = 2

    def __init__(self, system: str = "spring", steps: int = 32, dt: float = 0.1, n_train: int = 2000,
                 n_val: int = 2000, n_test: int = 2000, n_reference: int = 2000, batch_size: int = 256,
                 seed: int = 0, dtype: str = "float32") -> None:
        super().__init__()
        self.system_name = check_choice("system", system, TRAJECTORY_SYSTEMS)
        self.steps = check_int("steps", steps, minimum=2)
        self.dt = check_positive("dt", dt)
        self.sizes = {"train": check_int("n_train", n_train, minimum=1), "val": check_int("n_val", n_val, minimum=1),
                      "test": check_int("n_test", n_test, minimum=1),
                      "reference": check_int("n_reference", n_reference, minimum=1)}
        self.batch_size = check_int("batch_size", batch_size, minimum=1)
        self.seed = check_int("seed", seed)
        self.dtype = _DTYPES[check_choice("dtype", dtype, _DTYPES)]
        self.save_hyperparameters()
        from hnn.systems import get

        self.system = get(TRAJECTORY_SYSTEMS[system])
        self.task = f"{system} trajectories ({steps} steps of {dt:g})"
        self._cpu: dict[str, Tensor] | None = None
        self._served: dict[str, Tensor] | None = None

    @property
    def periodic(self) -> tuple[bool, ...]:
        """Per coordinate q: whether it is an angle."""
        return tuple(getattr(self.system, "periodic", (False,)))

    def times(self, dtype: torch.dtype = torch.float64) -> Tensor:
        """The sample times ``[T]``: 0, dt, …, (T − 1)·dt."""
        return torch.arange(self.steps, dtype=dtype) * self.dt

    def _generate(self) -> dict[str, Tensor]:
        if self._cpu is None:
            generator = torch.Generator().manual_seed(self.seed)
            total = sum(self.sizes.values())
            x0 = self.system.sample_initial(total, generator, dtype=torch.float64)
            x = self.system.trajectory(x0, self.times()).transpose(0, 1).contiguous()  # [N, T, 2]
            if not bool(torch.isfinite(x).all()):
                raise RuntimeError(f"the {self.system_name} reference integration returned non-finite states")
            parts = torch.split(x, [self.sizes[s] for s in TRAJECTORY_SPLITS])
            self._cpu = dict(zip(TRAJECTORY_SPLITS, parts))
        return self._cpu

    def trajectories(self, split: str = "test") -> Tensor:
        """The float64 trajectories ``[N, T, 2]`` of a split (on the CPU)."""
        return self._generate()[check_choice("split", split, TRAJECTORY_SPLITS)]

    def setup(self, stage: str | None = None) -> None:
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        self._served = {name: x.to(device=device, dtype=self.dtype) for name, x in self._generate().items()}

    def _loader(self, split: str, train: bool) -> DeviceBatches:
        if self._served is None:
            self.setup()
        generator = torch.Generator().manual_seed(self.seed + 1) if train else None
        return DeviceBatches([self._served[split]], batch_size=self.batch_size, shuffle=train, generator=generator)

    def train_dataloader(self) -> Any:
        return self._loader("train", train=True)

    def val_dataloader(self) -> Any:
        return self._loader("val", train=False)

    def summary(self) -> str:
        return (f"{self.task}: " + ", ".join(f"{n} {self.sizes[n]}" for n in TRAJECTORY_SPLITS)
                + " trajectories, noiseless")
