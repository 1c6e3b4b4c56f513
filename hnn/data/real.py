"""Loaders for the measured trajectories of Schmidt & Lipson (2009), shipped in ``datasets/schmidt_lipson_2009``
(inside the installed package: ``hnn.datasets``, see :mod:`hnn.paths`); their SHA-256 checksums are the ones in
that folder's ``SHA256SUMS`` file (the one record of them).

Each recording is a list of samples ``(trial, time, values...)`` from a motion tracker. A state ``x = [q, p]`` is
taken from the value columns (see :data:`RECORDINGS`; for the pendulums ``p`` is the measured angular velocity, as
in Greydanus et al. 2019 — no mass or length is known, so no canonical momentum can be formed).

Time derivatives are forward differences over the *actual* time between consecutive samples::

    dx/dt[i] ≈ (x[i+1] − x[i]) / (t[i+1] − t[i])      attached to the left sample x[i]

exactly as the paper's ``experiment-real/data.py`` does. A pair of consecutive samples is dropped (and counted) when

- it spans a dropped frame: ``t[i+1] − t[i] > gap_factor × nominal_dt`` (``nominal_dt`` = median interval within
  trials, ``gap_factor`` = 1.5 by default — intervals in these files are 1×, 2×, 3×... the frame interval, or
  jitter by ±3 % where the tracker rounded times to milliseconds) and ``drop_gap_pairs=True`` (the default; not in
  the paper: a forward difference over 2–3 frames is a coarser derivative estimate than the others). With
  ``drop_gap_pairs=False`` such pairs are kept, their forward difference taken over the actual, longer Δt — the
  paper's recipe (``real_pend_h_1.txt`` has 10 of them, all in the train block); or
- it crosses from one trial to the next (only the double pendulum has two trials; always dropped).

:meth:`RecordedData.windows` never spans a dropped frame whatever ``drop_gap_pairs`` (windows share one time grid).

Train/test split (the paper's, "test block is the last part of the recording"): over the ``P`` consecutive-sample
pairs in file order, the test block is pairs ``[int(P · (1 − test_fraction)), P)`` and the train block is everything
before it; gap pairs are then dropped inside each block. For ``real_pend_h_1.txt`` (P = 555) this is the paper's
split exactly: train = pairs 0..443, test = pairs 444..554 (the paper kept the 10 gap pairs, all in the train block:
``drop_gap_pairs=False`` reproduces its train set exactly; the default drops them).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from hnn.io import sha256_of_file
from hnn.paths import datasets_dir, shipped_file
from hnn.validate import check_bool, check_choice, check_fraction

__all__ = [
    "ChecksumMismatchError",
    "Recording",
    "RecordedBlock",
    "RecordedData",
    "RECORDINGS",
    "recordings_dir",
    "shipped_checksums",
    "load_recording",
    "read_recording_file",
    "sha256_of_file",
]


class ChecksumMismatchError(ValueError):
    """A shipped data file does not have the SHA-256 checksum it was shipped with (modified or corrupted)."""


@dataclass(frozen=True)
class Recording:
    """Metadata of one shipped recording: file, column meaning and which columns form ``[q, p]``."""

    task: str
    filename: str
    value_columns: tuple[str, ...]  # names of the columns after `trial time`, in file order
    state_columns: tuple[int, ...]  # indices into value_columns, q's first then p's
    state_names: tuple[str, ...]
    units: str
    description: str

    @property
    def dim(self) -> int:
        return len(self.state_columns)


RECORDINGS: dict[str, Recording] = {
    "real_pendulum": Recording(
        task="real_pendulum",
        filename="real_pend_h_1.txt",
        value_columns=("theta", "omega"),
        state_columns=(0, 1),
        state_names=("q=theta [rad]", "p=omega [rad/s]"),
        units="angle in rad, angular velocity in rad/s, time in s (6 frames/s)",
        description="single pendulum, lightly damped (the 'real pendulum' task of Greydanus et al. 2019)",
    ),
    "real_spring": Recording(
        task="real_spring",
        filename="real_linear_h_1.txt",
        value_columns=("x", "v"),
        state_columns=(0, 1),
        state_names=("q=x [px]", "p=v [px/s]"),
        units="position in image pixels, velocity in px/s, time in s (~30 frames/s, stamps rounded to ms)",
        description="mass on a spring",
    ),
    "real_double_pendulum": Recording(
        task="real_double_pendulum",
        filename="real_double_pend_h_1.txt",
        value_columns=("theta1", "theta2", "omega1", "omega2", "omega1_copy", "omega2_copy", "alpha1", "alpha2"),
        state_columns=(0, 1, 2, 3),
        state_names=("q1=theta1 [rad]", "q2=theta2 [rad]", "p1=omega1 [rad/s]", "p2=omega2 [rad/s]"),
        units="angles in rad (unwrapped), angular velocities in rad/s, time in s (100 frames/s), two trials",
        description="double pendulum (p = angular velocities, not canonical momenta)",
    ),
    "real_coupled_springs": Recording(
        task="real_coupled_springs",
        filename="real_double_linear_h_1.txt",
        value_columns=("x1", "x2", "v1", "v2"),
        state_columns=(0, 1, 2, 3),
        state_names=("q1=x1 [px]", "q2=x2 [px]", "p1=v1 [px/s]", "p2=v2 [px/s]"),
        units="positions in image pixels, velocities in px/s, time in s (~30 frames/s, stamps rounded to ms)",
        description="two masses coupled by springs",
    ),
}

RECORDING_SUBDIR = "schmidt_lipson_2009"


def recordings_dir() -> Path:
    """The shipped recordings folder (``datasets/schmidt_lipson_2009`` of the repository)."""
    return datasets_dir() / RECORDING_SUBDIR


def shipped_checksums() -> dict[str, str]:
    """File name -> SHA-256 from the shipped ``SHA256SUMS`` (``sha256sum`` format: ``<hex>  <name>`` per line)."""
    sums = {}
    for line in shipped_file(RECORDING_SUBDIR, "SHA256SUMS").read_text(encoding="ascii").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    return sums


def read_recording_file(path: str | os.PathLike, n_value_columns: int) -> tuple[Tensor, Tensor, Tensor]:
    """Parse a Schmidt–Lipson text file: ``%`` header line, then rows ``trial time v1 v2 ...``.

    Returns ``(trial [R] int64, time [R] float64, values [R, n_value_columns] float64)``. Raises ``ValueError``
    naming the line on a malformed row (wrong column count or a non-number) or on a non-finite value.
    """
    rows: list[list[float]] = []
    expected = 2 + n_value_columns
    with open(path, encoding="ascii") as handle:
        for line_number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text or text.startswith("%"):
                continue
            fields = text.split()
            if len(fields) != expected:
                raise ValueError(f"{path}: line {line_number} has {len(fields)} columns, expected {expected}")
            try:
                values = [float(value) for value in fields]
            except ValueError as error:
                raise ValueError(f"{path}: line {line_number} is not numeric: {error}") from None
            if not all(math.isfinite(value) for value in values):
                raise ValueError(f"{path}: line {line_number} holds a non-finite value")
            rows.append(values)
    if len(rows) < 2:
        raise ValueError(f"{path}: fewer than two samples")
    table = torch.tensor(rows, dtype=torch.float64)
    return table[:, 0].round().to(torch.int64), table[:, 1].clone(), table[:, 2:].clone()


@dataclass
class RecordedBlock:
    """A contiguous block of a recording (train, val or test).

    ``rows`` are the recording's sample indices covered by the block (a block of pairs ``[a, b)`` covers samples
    ``a..b``); ``pair_start`` are the indices ``i`` of the *kept* pairs ``(i, i+1)`` in the block (trial-crossing
    pairs removed, and gap pairs unless the recording was loaded with ``drop_gap_pairs=False``);
    ``gap_free_pair_start`` are the pairs that span neither a gap nor a trial boundary (what windows are cut from).
    """

    rows: Tensor  # [R_block] int64, sample indices (contiguous)
    pair_start: Tensor  # [P_kept] int64
    gap_free_pair_start: Tensor  # [P_gap_free] int64
    n_gap_pairs: int
    n_trial_boundary_pairs: int


@dataclass
class RecordedData:
    """One parsed recording with its finite-difference pairs and train/test blocks (all float64, CPU)."""

    recording: Recording
    path: Path
    trial: Tensor  # [R] int64
    time: Tensor  # [R] float64, seconds
    x: Tensor  # [R, dim] float64, state [q, p]
    nominal_dt: float
    gap_factor: float
    test_fraction: float
    drop_gap_pairs: bool
    is_gap_pair: Tensor  # bool: consecutive samples of one trial more than gap_factor·nominal_dt apart
    is_trial_boundary_pair: Tensor  # bool: consecutive samples from different trials
    blocks: dict[str, RecordedBlock] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.x.shape[-1]

    @property
    def n_pairs_total(self) -> int:
        return self.x.shape[0] - 1

    @property
    def n_gap_pairs(self) -> int:
        return int(self.is_gap_pair.sum())

    @property
    def n_trial_boundary_pairs(self) -> int:
        return int(self.is_trial_boundary_pair.sum())

    def pair_dt(self, pair_start: Tensor) -> Tensor:
        """Actual time step of each pair ``(i, i+1)``: ``t[i+1] − t[i]``."""
        return self.time[pair_start + 1] - self.time[pair_start]

    def pairs(self, block: str) -> tuple[Tensor, Tensor]:
        """``(x [P, dim], dxdt [P, dim])``: left samples and forward differences over the actual Δt."""
        start = self.blocks[block].pair_start
        dt = self.pair_dt(start).unsqueeze(-1)
        return self.x[start].clone(), (self.x[start + 1] - self.x[start]) / dt

    def windows(self, block: str, window: int) -> tuple[Tensor, Tensor, float]:
        """Gap-free windows of ``window`` consecutive samples inside ``block``.

        Returns ``(t [window], x [W, window, dim], max_time_deviation)``. ``t`` is the time grid shared by all
        windows: the mean over windows of the actual times since each window's first sample (k/6 s to round-off
        for the pendulum); ``max_time_deviation`` is the largest |actual − grid| of any sample in any window
        (~1e-14 s for the pendulum, ≤ 1 ms for the recordings whose stamps were rounded to milliseconds).
        """
        if window < 2:
            raise ValueError(f"window must be >= 2, got {window}")
        kept = torch.zeros(self.n_pairs_total, dtype=torch.bool)
        kept[self.blocks[block].gap_free_pair_start] = True
        # a window starting at sample i needs the window-1 pairs i .. i+window-2 all kept
        n_starts = self.n_pairs_total - (window - 1) + 1
        nominal_grid = torch.arange(window, dtype=torch.float64) * self.nominal_dt
        if n_starts <= 0:
            return nominal_grid, self.x.new_zeros(0, window, self.dim), 0.0
        run_ok = kept.unfold(0, window - 1, 1).all(dim=-1)[:n_starts]
        starts = torch.nonzero(run_ok).flatten()
        if starts.numel() == 0:
            return nominal_grid, self.x.new_zeros(0, window, self.dim), 0.0
        index = starts.unsqueeze(-1) + torch.arange(window)
        times = self.time[index] - self.time[starts].unsqueeze(-1)
        grid = times.mean(dim=0)
        deviation = float((times - grid).abs().max())
        return grid, self.x[index], deviation

    def trajectory(self, block: str) -> tuple[Tensor, Tensor]:
        """The whole block as one trajectory: ``(t [T] actual recording times, x [1, T, dim])``, gaps included.

        Raises ``ValueError`` when the block spans two trials (a rollout across the jump would be meaningless).
        """
        rows = self.blocks[block].rows
        if rows.numel() and self.trial[rows].unique().numel() > 1:
            raise ValueError(
                f"the {block!r} block of {self.recording.filename} spans trials {self.trial[rows].unique().tolist()}; "
                "use pairs() or windows(), which never cross a trial boundary"
            )
        return self.time[rows].clone(), self.x[rows].unsqueeze(0).clone()


def load_recording(
    task: str,
    data_dir: str | os.PathLike | None = None,
    *,
    test_fraction: float = 0.2,
    val_fraction: float = 0.0,
    gap_factor: float = 1.5,
    drop_gap_pairs: bool = True,
    verify_checksum: bool = True,
) -> RecordedData:
    """Load a shipped recording, verify its checksum, mark gap pairs and cut train/val/test blocks.

    ``drop_gap_pairs``: drop the pairs that span a dropped frame from :meth:`RecordedData.pairs` (default) or keep
    them with their forward difference over the actual, longer Δt (``False``: the paper's recipe). Windows never
    span a gap either way.

    ``data_dir`` is the folder holding the recording files (default: the shipped ones, :func:`recordings_dir`). The test block
    is the last ``test_fraction`` of the consecutive-sample pairs (the paper: 0.2); the val block, when
    ``val_fraction > 0``, is the last ``val_fraction`` of the remaining train pairs, i.e. the stretch just before the
    test block (contiguous rather than random, because neighbouring samples are strongly correlated and a random
    split would leak). Raises :class:`ChecksumMismatchError` when the file's SHA-256 differs from the shipped one.
    """
    check_choice("recording", task, RECORDINGS)
    check_fraction("test_fraction", test_fraction)
    check_fraction("val_fraction", val_fraction)
    if not isinstance(gap_factor, (int, float)) or not gap_factor > 1.0:
        raise ValueError(f"gap_factor must be a number > 1 (multiple of the nominal frame interval), got {gap_factor!r}")
    check_bool("drop_gap_pairs", drop_gap_pairs)
    recording = RECORDINGS[task]
    folder = Path(data_dir) if data_dir is not None else recordings_dir()
    path = folder / recording.filename
    if not path.is_file():
        raise FileNotFoundError(f"recording file {path} not found (the shipped recordings are in {recordings_dir()})")
    if verify_checksum:
        actual, expected = sha256_of_file(path), shipped_checksums()[recording.filename]
        if actual != expected:
            raise ChecksumMismatchError(
                f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}. The file was modified "
                f"or corrupted; restore it from the repository (git checkout -- {path.name}) or from the original "
                f"Schmidt & Lipson (2009) supplementary data (see datasets/{RECORDING_SUBDIR}/README.md)"
            )

    trial, time, values = read_recording_file(path, len(recording.value_columns))
    x = values[:, list(recording.state_columns)]
    same_trial = trial[1:] == trial[:-1]
    dt = time[1:] - time[:-1]
    if bool((dt[same_trial] <= 0).any()):
        bad = int(torch.nonzero(same_trial & (dt <= 0))[0])
        raise ValueError(f"{path}: time is not strictly increasing within a trial at sample {bad + 1}")
    nominal_dt = float(dt[same_trial].median())
    is_gap = same_trial & (dt > gap_factor * nominal_dt)
    is_boundary = ~same_trial
    gap_free = ~(is_gap | is_boundary)
    kept = gap_free if drop_gap_pairs else ~is_boundary

    data = RecordedData(
        recording=recording,
        path=path,
        trial=trial,
        time=time,
        x=x,
        nominal_dt=nominal_dt,
        gap_factor=float(gap_factor),
        test_fraction=float(test_fraction),
        drop_gap_pairs=drop_gap_pairs,
        is_gap_pair=is_gap,
        is_trial_boundary_pair=is_boundary,
    )
    n_pairs = data.n_pairs_total
    test_start = int(n_pairs * (1.0 - test_fraction))  # the paper: int(len * 0.8)
    val_start = test_start - int(round(test_start * val_fraction)) if val_fraction > 0 else test_start
    if val_fraction > 0 and val_start == test_start:
        raise ValueError(f"val_fraction={val_fraction} leaves no validation pairs out of {test_start} train pairs")
    if val_start <= 0:
        raise ValueError(f"val_fraction={val_fraction} leaves no training pairs")
    for name, (a, b) in {"train": (0, val_start), "val": (val_start, test_start), "test": (test_start, n_pairs)}.items():
        pair_range = torch.arange(a, b)
        data.blocks[name] = RecordedBlock(
            rows=torch.arange(a, b + 1) if b > a else torch.zeros(0, dtype=torch.int64),
            pair_start=pair_range[kept[a:b]],
            gap_free_pair_start=pair_range[gap_free[a:b]],
            n_gap_pairs=int(is_gap[a:b].sum()),
            n_trial_boundary_pairs=int(is_boundary[a:b].sum()),
        )
    return data
