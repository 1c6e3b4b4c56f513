"""``HamiltonianDataModule``: the one LightningDataModule for every dynamics task (simulated or recorded).

Modes
-----
- ``mode="derivatives"``: batches ``(x, dxdt)``, each ``[B, dim]`` — states and their time derivatives (exact field
  for simulated data; forward differences over the actual Δt for recordings).
- ``mode="windows"``: batches ``(t, x)`` with ``t [window]`` (times since the window's first sample, shared by the
  batch) and ``x [B, window, dim]`` — fixed-length trajectory windows for rollout training on discrete-time data.
  Simulated: every run of ``window`` consecutive samples of every trajectory. Recorded: every run of ``window``
  samples that contains no dropped frame and no trial boundary.

Splits
------
``train``/``test`` follow the paper (see :mod:`hnn.data.synthetic` and :mod:`hnn.data.real`). ``val`` is carved from
the train split: simulated data — ``round(val_fraction · n_train)`` whole train *trajectories* (at least one when
``val_fraction > 0``) picked by ``torch.randperm`` with a ``torch.Generator`` seeded with ``seed`` (so it is fixed for
a seed and never overlaps train or test); recorded data — the last ``val_fraction`` of the train block (the stretch
just before the test block; contiguous because neighbouring samples are correlated). ``val_fraction=0`` keeps the
paper's exact train set and yields an empty validation loader (Lightning then skips validation).

Serving
-------
With ``num_workers=0`` (default) all splits are small: ``setup()`` moves them once to the trainer's device
(``trainer.strategy.root_device``; CPU when no trainer is attached) in ``dtype``, and the loaders are tiny iterables
that yield views of those on-device tensors — no per-step collation or host-to-device copy. ``batch_size=None``
serves the whole split as one pre-made batch each step (the same tensors every step). Under DDP every rank gets the
full batch (no DistributedSampler is injected into a plain iterable), so all ranks compute the same gradient.
With ``num_workers > 0`` a standard ``torch.utils.data.DataLoader`` over CPU tensors is used instead (Lightning
moves each batch and, under DDP, shards the data with a DistributedSampler). Batches are
:class:`~hnn.data.batches.DerivativeBatch` or :class:`~hnn.data.batches.WindowBatch`, by ``mode``.

Epochs
------
Lightning validates and checkpoints once per epoch by default. A full batch makes an epoch of one step, so
``passes_per_epoch`` (default: 100 for full batches, 1 for mini-batches) sets how many passes over the train split
one epoch holds: a plain ``pl.Trainer`` then validates every 100 full-batch steps, not after every step.

Reference rollouts
------------------
:meth:`HamiltonianDataModule.reference_rollouts` builds the trajectories a learned model is judged against — the
one place that decides between a simulated task (noiseless starts, the system's own trajectory and H) and a
recording (the recorded block as it is, the analysis H where one exists).
"""
from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from hnn.data.batches import DerivativeBatch, WindowBatch
from hnn.data.cache import CacheResult, load_or_generate
from hnn.data.real import RECORDINGS, RecordedData, load_recording
from hnn.data.reference import ReferenceRollouts
from hnn.data.synthetic import SIMULATION_RECIPES, SimulationRecipe, build_system, recipe_fingerprint, simulate
from hnn.paths import cache_dir as default_cache_dir
from hnn.validate import check_bool, check_choice, check_fraction, check_int, check_positive

__all__ = ["HamiltonianDataModule", "DeviceBatches", "available_tasks", "REAL_PENDULUM_ANALYSIS_K"]

SPLITS = ("train", "val", "test")
MODES = ("derivatives", "windows")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
FULL_BATCH_PASSES_PER_EPOCH = 100

# The paper's analysis Hamiltonian for the real pendulum (experiment-real/data.py: "k = 2.4, this coefficient must
# be fit to the data"): H = 2.4 (1 − cos q) + p², i.e. a pendulum with m l² = 1/2 and m g l = 2.4.
REAL_PENDULUM_ANALYSIS_K = 2.4


def available_tasks() -> list[str]:
    """Names accepted by ``HamiltonianDataModule(task=...)``."""
    return sorted(set(SIMULATION_RECIPES) | set(RECORDINGS))


def _real_pendulum_system() -> Any:
    import hnn.systems

    length = math.sqrt(0.5)
    return hnn.systems.get("ideal_pendulum", m=1.0, l=length, g=REAL_PENDULUM_ANALYSIS_K / length)


class DeviceBatches:
    """A tiny re-iterable loader over tensors that already live on the target device.

    ``shared`` tensors are yielded as they are in every batch (e.g. the window time grid); ``batched`` tensors are
    sliced along dim 0. Each batch is ``batch_type(*shared, *batched_slices)`` (a plain tuple by default). With ``batch_size=None`` every step yields the
    very same tuple (the full split), ``passes`` times per iteration. With a batch size, each pass visits the split
    in ``ceil(N / batch_size)`` batches, in a fresh random order per pass when ``shuffle`` (permutation drawn on the
    CPU from ``generator``, then moved to the tensors' device), else in order.
    """

    def __init__(self, batched: Sequence[Tensor], shared: Sequence[Tensor] = (), *, batch_size: int | None = None,
                 shuffle: bool = False, passes: int = 1, generator: torch.Generator | None = None,
                 batch_type: Any = tuple) -> None:
        if not batched:
            raise ValueError("DeviceBatches needs at least one batched tensor")
        n = batched[0].shape[0]
        if any(t.shape[0] != n for t in batched):
            raise ValueError(f"batched tensors disagree on their first dimension: {[t.shape[0] for t in batched]}")
        self.batched = tuple(batched)
        self.shared = tuple(shared)
        self.n = n
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.passes = passes
        self.generator = generator
        self.batch_type = batch_type
        self._full = self._make(self.shared + self.batched)

    def _make(self, tensors: tuple[Tensor, ...]) -> Any:
        return tensors if self.batch_type is tuple else self.batch_type(*tensors)

    def __len__(self) -> int:
        if self.n == 0:
            return 0
        per_pass = 1 if self.batch_size is None else math.ceil(self.n / self.batch_size)
        return per_pass * self.passes

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        if self.n == 0:
            return
        for _ in range(self.passes):
            if self.batch_size is None or self.batch_size >= self.n and not self.shuffle:
                yield self._full
                continue
            if self.shuffle:
                order = torch.randperm(self.n, generator=self.generator).to(self.batched[0].device)
                for start in range(0, self.n, self.batch_size):
                    index = order[start:start + self.batch_size]
                    yield self._make(self.shared + tuple(t[index] for t in self.batched))
            else:
                for start in range(0, self.n, self.batch_size):
                    yield self._make(self.shared + tuple(t[start:start + self.batch_size] for t in self.batched))


class _Collate:
    """collate_fn for the DataLoader path: a DerivativeBatch, or a WindowBatch with the shared window times."""

    def __init__(self, t: Tensor | None) -> None:
        self.t = t

    def __call__(self, items: list[tuple[Tensor, ...]]) -> DerivativeBatch | WindowBatch:
        if self.t is None:
            return DerivativeBatch(torch.stack([item[0] for item in items]), torch.stack([item[1] for item in items]))
        return WindowBatch(self.t, torch.stack([item[0] for item in items]))


@dataclass
class _Split:
    """One split, float64 on CPU or in the served dtype on the serving device."""

    pairs_x: Tensor  # [P, dim]
    pairs_dxdt: Tensor  # [P, dim]
    traj_t: Tensor | None  # [T]
    traj_x: Tensor | None  # [N, T, dim]
    traj_x_true: Tensor | None  # [N, T, dim] or None (recordings)
    window_t: Tensor | None = None  # [window]
    window_x: Tensor | None = None  # [W, window, dim]

    def to(self, device: torch.device, dtype: torch.dtype) -> "_Split":
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype)

        return _Split(*(move(getattr(self, name)) for name in self.__dataclass_fields__))


class ServedFromMemory(pl.LightningDataModule):
    """The loaders of a DataModule that serves its splits from device memory through ``self._loader(split, train)``
    (the test split also serves ``predict``), and passes its batches through Lightning's device transfer when they
    already live on ``self.device`` (with ``num_workers`` > 0 they come from worker processes and are moved)."""

    device: torch.device
    dtype: torch.dtype
    _splits: dict[str, Any] | None

    def _build_cpu_splits(self) -> dict[str, Any]:
        """The splits on the CPU, loading or generating the data on first use (each subclass's own data)."""
        raise NotImplementedError

    def _loader(self, split: str, train: bool) -> Any:
        raise NotImplementedError

    def to(self, device: torch.device | str) -> Any:
        """Move the served data to ``device`` (loads the data first if needed); returns self."""
        device = torch.device(device)
        cpu_splits = self._build_cpu_splits()
        if self._splits is None or self.device != device:
            self._splits = {name: split.to(device, self.dtype) for name, split in cpu_splits.items()}
            self.device = device
        return self

    def _split(self, split: str) -> Any:
        check_choice("split", split, SPLITS)
        if self._splits is None:
            self.to(self.device or "cpu")
        return self._splits[split]

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Batches of the on-device loaders already live on the serving device: passed through as they are."""
        if getattr(self, "num_workers", 0) == 0 and self.device == device:
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def train_dataloader(self) -> Any:
        return self._loader("train", train=True)

    def val_dataloader(self) -> Any:
        return self._loader("val", train=False)

    def test_dataloader(self) -> Any:
        return self._loader("test", train=False)

    def predict_dataloader(self) -> Any:
        return self._loader("test", train=False)


class HamiltonianDataModule(ServedFromMemory):
    """Data for learning dynamics: the HNN paper's simulated tasks and the Schmidt & Lipson recordings.

    Args:
        task: one of :func:`available_tasks` — ``spring``, ``pendulum`` (the paper's recipes), ``damped_spring``,
            ``damped_pendulum``, ``two_body``, ``three_body``, ``real_pendulum``,
            ``real_spring``, ``real_double_pendulum``, ``real_coupled_springs``.
        mode: ``"derivatives"`` (batches ``DerivativeBatch(x, dxdt)``) or ``"windows"`` (``WindowBatch(t, x)``).
        window: samples per window in windows mode (>= 2).
        batch_size: ``None`` = full batch (the paper's training); else mini-batches of this size.
        seed: seed of the simulated data (initial states, noise), of the val carve and of the shuffling.
        val_fraction: share of the train split held out for validation (see the module docstring); 0 = none.
        cache_dir: where generated datasets are cached; ``None`` = the user cache (:func:`hnn.paths.cache_dir`:
            ``$HNN_CACHE_DIR``, else ``~/.cache/hnn``). Relative paths are relative to the working directory.
        cache: ``False`` generates every time and writes nothing.
        num_workers: 0 = serve on-device tensors (no DataLoader); > 0 = a DataLoader with that many workers.
        dtype: ``"float32"`` or ``"float64"`` — the dtype of every served tensor.
        passes_per_epoch: passes over the train split per Lightning epoch (full batch: steps per epoch); ``None`` =
            100 for full batches, 1 for mini-batches. Validation and the default checkpoints run once per epoch.
        shuffle: shuffle the train split each pass (mini-batch mode only; a full batch needs no order).
        n_trajectories: override the recipe's number of trajectories (simulated tasks; ``None`` = the paper's).
        drop_gap_pairs: recordings only — drop the consecutive-sample pairs that span a dropped frame (default) or
            keep them with their forward difference over the actual, longer Δt (``False``: the paper's recipe;
            see :mod:`hnn.data.real`). Windows never span a dropped frame either way. ``False`` on a simulated task
            raises ``ValueError`` (there are no dropped frames).
        verbose: print a line to stderr when a dataset is generated (and per chunk for the long three-body run).

    After construction: ``dim`` (state dimension), ``system`` (ground truth ``hnn.systems`` object; for
    ``real_pendulum`` the paper's analysis Hamiltonian H = 2.4(1 − cos q) + p²; ``None`` for the other recordings),
    ``recipe`` (simulated tasks) or ``recording`` (recorded tasks).
    """

    def __init__(
        self,
        task: str = "spring",
        mode: str = "derivatives",
        window: int = 2,
        batch_size: int | None = None,
        seed: int = 0,
        val_fraction: float = 0.1,
        cache_dir: str | None = None,
        cache: bool = True,
        num_workers: int = 0,
        dtype: str = "float32",
        passes_per_epoch: int | None = None,
        shuffle: bool = True,
        n_trajectories: int | None = None,
        drop_gap_pairs: bool = True,
        verbose: bool = True,
    ) -> None:
        super().__init__()
        check_choice("task", task, available_tasks())
        check_choice("mode", mode, MODES)
        check_int("window", window, minimum=2)
        if batch_size is not None:
            check_int("batch_size", batch_size, minimum=1)
        check_int("seed", seed, minimum=0)
        check_fraction("val_fraction", val_fraction)
        if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
            raise TypeError(f"cache_dir must be a path or None, got {type(cache_dir).__name__}")
        check_bool("cache", cache)
        check_int("num_workers", num_workers, minimum=0)
        check_choice("dtype", dtype, DTYPES)
        if passes_per_epoch is None:
            passes_per_epoch = FULL_BATCH_PASSES_PER_EPOCH if batch_size is None and num_workers == 0 else 1
        check_int("passes_per_epoch", passes_per_epoch, minimum=1)
        if num_workers > 0 and passes_per_epoch != 1:
            raise ValueError("passes_per_epoch applies to the on-device loaders (num_workers=0); with num_workers > 0 "
                             "a standard DataLoader makes one pass per epoch")
        check_bool("shuffle", shuffle)
        check_bool("verbose", verbose)
        check_bool("drop_gap_pairs", drop_gap_pairs)
        self.save_hyperparameters()

        self.task = task
        self.mode = mode
        self.window = window
        self.batch_size = batch_size
        self.seed = seed
        self.val_fraction = float(val_fraction)
        self.cache_dir = None if not cache else os.fspath(cache_dir) if cache_dir is not None else str(default_cache_dir())
        self.num_workers = num_workers
        self.dtype = DTYPES[dtype]
        self.passes_per_epoch = passes_per_epoch
        self.shuffle = shuffle
        self.verbose = verbose
        self.drop_gap_pairs = drop_gap_pairs

        self.recipe: SimulationRecipe | None = None
        self.recording = RECORDINGS.get(task)
        if task in SIMULATION_RECIPES:
            recipe = SIMULATION_RECIPES[task]
            if n_trajectories is not None:
                check_int("n_trajectories", n_trajectories, minimum=2)
                recipe = recipe.with_options(n_trajectories=n_trajectories)  # validates the split sizes
            if not drop_gap_pairs:
                raise ValueError(f"drop_gap_pairs=False applies to recordings only; {task!r} is simulated on an even "
                                 "time grid (no dropped frames)")
            if window > recipe.n_points:
                raise ValueError(f"window={window} exceeds the {recipe.n_points} points per trajectory of {task!r}")
            self.recipe = recipe
            self.system = build_system(recipe)
            self.dim: int = int(self.system.dim)
        else:
            if n_trajectories is not None:
                raise ValueError(f"n_trajectories applies to simulated tasks only, not to the recording {task!r}")
            self.system = _real_pendulum_system() if task == "real_pendulum" else None
            self.dim = self.recording.dim

        self.info: dict[str, Any] = {"task": task, "kind": "simulation" if self.recipe else "recording"}
        self._cpu_splits: dict[str, _Split] | None = None
        self._splits: dict[str, _Split] | None = None
        self.device: torch.device | None = None
        self._recorded: RecordedData | None = None

    # ------------------------------------------------------------------ loading
    def _simulation_fingerprint(self) -> dict[str, Any]:
        return recipe_fingerprint(self.recipe, self.seed, self.system)

    def _say(self, message: str) -> None:
        if self.verbose:
            print(f"hnn.data: {message}", file=sys.stderr, flush=True)

    def _load_simulation(self) -> CacheResult:
        def generate() -> dict[str, Tensor]:
            recipe = self.recipe
            self._say(f"generating {self.task!r}: {recipe.n_trajectories} trajectories x {recipe.n_points} points, "
                      f"seed {self.seed}" + (f" -> {self.cache_dir}" if self.cache_dir else " (cache disabled)"))
            start = time.perf_counter()
            data = simulate(recipe, self.seed, self.system, progress=self._say)
            self._say(f"generated {self.task!r} in {time.perf_counter() - start:.1f} s")
            return data

        return load_or_generate(self.task, self._simulation_fingerprint(), generate, self.cache_dir, seed=self.seed)

    def prepare_data(self) -> None:
        """Generate and cache the simulated dataset (once per node; Lightning calls this on local rank 0)."""
        if self.recipe is not None and self.cache_dir is not None:
            self._load_simulation()

    def _build_cpu_splits(self) -> dict[str, _Split]:
        if self._cpu_splits is not None:
            return self._cpu_splits
        if self.recipe is not None:
            result = self._load_simulation()
            self.info.update(cache_hit=result.hit, cache_path=None if result.path is None else str(result.path),
                             load_seconds=result.seconds, manifest=result.manifest)
            data = result.tensors
            train_idx = self.recipe.train_indices()
            test_idx = self.recipe.test_indices()
            n_val = 0
            if self.val_fraction > 0:
                n_val = min(max(1, round(self.val_fraction * len(train_idx))), len(train_idx) - 1)
                if n_val < 1:
                    raise ValueError(f"val_fraction={self.val_fraction} leaves no training trajectory out of "
                                     f"{len(train_idx)}")
            carve = torch.Generator().manual_seed(self.seed)
            order = torch.randperm(len(train_idx), generator=carve)
            val_idx = train_idx[order[:n_val].sort().values]
            train_idx = train_idx[order[n_val:].sort().values]
            splits = {}
            for name, index in (("train", train_idx), ("val", val_idx), ("test", test_idx)):
                x, x_true, dxdt = data["x"][index], data["x_true"][index], data["dxdt"][index]
                split = _Split(pairs_x=x.reshape(-1, self.dim), pairs_dxdt=dxdt.reshape(-1, self.dim),
                               traj_t=data["t"], traj_x=x, traj_x_true=x_true)
                if self.mode == "windows":
                    windows = x.unfold(1, self.window, 1)  # [N, T - w + 1, dim, w]
                    split.window_x = windows.permute(0, 1, 3, 2).reshape(-1, self.window, self.dim)
                    split.window_t = data["t"][: self.window] - data["t"][0]
                splits[name] = split
            self.info.update(n_trajectories={k: len(v) for k, v in
                                             (("train", train_idx), ("val", val_idx), ("test", test_idx))},
                             train_trajectories=train_idx.tolist(), val_trajectories=val_idx.tolist(),
                             test_trajectories=test_idx.tolist())
        else:
            recorded = load_recording(self.task, val_fraction=self.val_fraction, drop_gap_pairs=self.drop_gap_pairs)
            self._recorded = recorded
            splits = {}
            for name in SPLITS:
                x, dxdt = recorded.pairs(name)
                block = recorded.blocks[name]
                if block.rows.numel() == 0:  # empty block (val_fraction = 0)
                    traj_t, traj_x = recorded.time[:0], recorded.x.new_zeros(0, 0, self.dim)
                elif recorded.trial[block.rows].unique().numel() == 1:
                    traj_t, traj_x = recorded.trajectory(name)
                else:  # spans two trials: no single trajectory
                    traj_t, traj_x = None, None
                split = _Split(pairs_x=x, pairs_dxdt=dxdt, traj_t=traj_t, traj_x=traj_x, traj_x_true=None)
                if self.mode == "windows":
                    split.window_t, split.window_x, deviation = recorded.windows(name, self.window)
                    self.info.setdefault("window_time_deviation", {})[name] = deviation
                    if name == "train" and split.window_x.shape[0] == 0:
                        raise ValueError(f"window={self.window} is longer than every gap-free stretch of the "
                                         f"{self.task!r} train block")
                splits[name] = split
            self.info.update(
                file=str(recorded.path), nominal_dt=recorded.nominal_dt, n_pairs_total=recorded.n_pairs_total,
                n_gap_pairs=recorded.n_gap_pairs, n_trial_boundary_pairs=recorded.n_trial_boundary_pairs,
                drop_gap_pairs=self.drop_gap_pairs,
                gap_pairs_per_split={k: b.n_gap_pairs for k, b in recorded.blocks.items()},
            )
        self.info["n_pairs"] = {k: int(s.pairs_x.shape[0]) for k, s in splits.items()}
        if self.mode == "windows":
            self.info["n_windows"] = {k: int(s.window_x.shape[0]) for k, s in splits.items()}
        self._cpu_splits = splits
        return splits

    def setup(self, stage: str | None = None) -> None:
        """Load (or generate) the data and move every split once to the serving device in ``dtype``."""
        if self.num_workers > 0:
            device = torch.device("cpu")  # the DataLoader path: Lightning moves each batch
        elif self.trainer is not None:
            device = self.trainer.strategy.root_device
        else:
            device = torch.device("cpu")
        self.to(device)


    # ------------------------------------------------------------------ raw access (evaluation)
    def pairs(self, split: str) -> tuple[Tensor, Tensor]:
        """``(x [P, dim], dxdt [P, dim])`` of a split (all trajectories flattened; recordings: kept pairs)."""
        s = self._split(split)
        return s.pairs_x, s.pairs_dxdt

    def trajectories(self, split: str, noiseless: bool = False) -> tuple[Tensor, Tensor]:
        """``(t [T], x [N, T, dim])`` of a split.

        Simulated: the observed (noisy) states, or the noiseless reference states with ``noiseless=True``.
        Recorded: the whole block as one trajectory at the actual recording times (dropped frames included as
        longer intervals); ``noiseless=True`` raises ``ValueError`` (no ground truth), and so does a block that
        spans two trials (double pendulum train block).
        """
        s = self._split(split)
        if noiseless:
            if s.traj_x_true is None:
                raise ValueError(f"task {self.task!r} is a recording: there are no noiseless trajectories")
            return s.traj_t, s.traj_x_true
        if s.traj_x is None:
            raise ValueError(f"the {split!r} split of {self.task!r} spans two trials and is not one trajectory; "
                             "use pairs() or windows()")
        return s.traj_t, s.traj_x

    def windows(self, split: str) -> tuple[Tensor, Tensor]:
        """``(t [window], x [W, window, dim])`` of a split (windows mode only)."""
        s = self._split(split)
        if s.window_x is None:
            raise ValueError("windows() needs mode='windows'")
        return s.window_t, s.window_x

    def reference_rollouts(self, split: str = "test", n_starts: int | None = None, horizon: float | None = None,
                           n_times: int = 100) -> ReferenceRollouts:
        """The rollouts a model of this task is judged against (float64, CPU).

        Simulated task: the noiseless first states of the split's first ``n_starts`` trajectories (default: all),
        ``n_times`` times over ``[0, horizon]`` (default horizon: the longer of the data's time span and two periods
        of the system), reference = the system's own trajectory (float64 dopri5 at 1e-12), energy = the system's H.
        Recording: the split's block from its first recorded state at the recorded times (dropped frames as longer
        intervals), reference = the recording, energy = the paper's analysis H for ``real_pendulum`` (None for the
        other recordings); a recording has one start, ``horizon`` cuts the block at t ≤ horizon, and the recorded
        times are used whatever ``n_times``.
        Raises ValueError for an empty split (``val_fraction=0``) or a block that spans two trials.
        """
        check_choice("split", split, SPLITS)
        check_int("n_times", n_times, minimum=2)
        cpu = self._build_cpu_splits()[split]
        if self.recipe is not None:
            x_true = cpu.traj_x_true
            if x_true is None or x_true.shape[0] == 0:
                raise ValueError(f"the {split!r} split of {self.task!r} has no trajectories (val_fraction=0?)")
            k = x_true.shape[0] if n_starts is None else min(check_int("n_starts", n_starts, minimum=1),
                                                             x_true.shape[0])
            x0 = x_true[:k, 0].to(torch.float64)
            if horizon is None:
                span = float(cpu.traj_t[-1] - cpu.traj_t[0])
                period = getattr(self.system, "period", None)
                horizon = max(span, 2.0 * float(period)) if period else span
            horizon = check_positive("horizon", horizon)
            t = torch.linspace(0.0, horizon, n_times, dtype=torch.float64)
            truth = self.system.trajectory(x0, t)
            return ReferenceRollouts.single(
                x0, t, truth, energy=self.system.hamiltonian, conservative=not self.system.dissipative,
                energy_label=f"the {self.system.name} H", system=self.system,
                description=f"{k} noiseless {split} starts, t in [0, {horizon:g}] ({n_times} points), reference = the "
                            f"system's own trajectory, energy = its H")
        if n_starts is not None:
            check_int("n_starts", n_starts, minimum=1)
        if cpu.traj_x is None:
            raise ValueError(f"the {split!r} block of {self.task!r} spans two trials and is not one trajectory")
        if cpu.traj_x.shape[0] == 0 or cpu.traj_x.shape[1] < 2:
            raise ValueError(f"the {split!r} block of {self.task!r} is empty (val_fraction=0?)")
        t = (cpu.traj_t - cpu.traj_t[0]).to(torch.float64)
        x = cpu.traj_x[0].to(torch.float64)
        if horizon is not None:
            keep = t <= check_positive("horizon", horizon)
            if int(keep.sum()) < 2:
                raise ValueError(f"horizon={horizon:g} keeps fewer than 2 samples of the {split!r} block")
            t, x = t[keep], x[keep]
        energy = None if self.system is None else self.system.hamiltonian
        label = "2.4(1 − cos q) + p²" if self.task == "real_pendulum" else "none"
        return ReferenceRollouts.single(
            x[:1], t, x.unsqueeze(1), energy=energy, conservative=False, energy_label=label, system=None,
            description=f"one rollout from the first {split} state over the recorded {split} block ({len(t)} samples, "
                        f"{float(t[-1]):.3g} s, dropped frames kept as longer intervals), compared with the recording")

    # ------------------------------------------------------------------ loaders
    def _loader(self, split: str, train: bool) -> Any:
        s = self._split(split)
        shared: tuple[Tensor, ...] = ()
        if self.mode == "derivatives":
            batched = (s.pairs_x, s.pairs_dxdt)
        else:
            shared, batched = (s.window_t,), (s.window_x,)
        if self.num_workers > 0:
            from torch.utils.data import DataLoader, TensorDataset

            dataset = TensorDataset(*batched)
            size = self.batch_size or max(1, len(dataset))
            collate = _Collate(s.window_t if self.mode == "windows" else None)
            return DataLoader(dataset, batch_size=size, shuffle=train and self.shuffle, num_workers=self.num_workers,
                              collate_fn=collate, persistent_workers=True)
        generator = torch.Generator().manual_seed(self.seed + 1) if train else None
        return DeviceBatches(batched, shared, batch_size=self.batch_size,
                             shuffle=train and self.shuffle and self.batch_size is not None,
                             passes=self.passes_per_epoch if train else 1, generator=generator,
                             batch_type=DerivativeBatch if self.mode == "derivatives" else WindowBatch)

    # ------------------------------------------------------------------ reporting
    def summary(self) -> str:
        """One line per fact about the served data (for scripts to print)."""
        self._split("train")
        lines = [f"task {self.task} ({self.info['kind']}), dim {self.dim}, mode {self.mode}, dtype "
                 f"{str(self.dtype).removeprefix('torch.')}, device {self.device}"]
        if self.recipe is not None:
            cache = self.info.get("cache_path") or "disabled"
            lines.append(f"trajectories {self.info['n_trajectories']}, {self.recipe.n_points} points over "
                         f"t in [{self.recipe.t_span[0]:g}, {self.recipe.t_span[1]:g}], noise std "
                         f"{self.recipe.noise_std:g}, seed {self.seed}; cache {'hit' if self.info['cache_hit'] else 'miss'}"
                         f" ({self.info['load_seconds']:.2f} s) {cache}")
        else:
            gap_fate = ("dropped" if self.drop_gap_pairs
                        else "kept (forward difference over the longer interval, the paper's recipe)")
            lines.append(f"{self.recording.filename}: {self.info['n_pairs_total']} consecutive pairs, "
                         f"{self.info['n_gap_pairs']} spanning a gap (> 1.5 x {self.info['nominal_dt']:.4g} s) "
                         f"{gap_fate}, {self.info['n_trial_boundary_pairs']} dropped for crossing trials")
        lines.append(f"pairs {self.info['n_pairs']}" + (f", windows {self.info['n_windows']}"
                                                         if self.mode == "windows" else ""))
        return "\n".join(lines)
