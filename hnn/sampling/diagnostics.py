"""MCMC convergence diagnostics (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021) and E-BFMI.

All functions take draws shaped ``(chains, draws, *shape)`` (a torch tensor or a numpy array)
and return one value per element of ``shape`` (same container type as the input).

- ``ess(x, method="bulk")``: effective sample size of the rank-normalised split chains
  (``"bulk"``), the minimum over the 5% and 95% quantile indicators (``"tail"``) or of the
  raw split chains (``"mean"``).  ESS = N / τ with τ = −1 + 2 Σ_t ρ̂_t truncated by Geyer's
  initial monotone positive sequence, ρ̂_t = 1 − (W − mean autocov_t) / var⁺.
- ``rhat(x)``: rank-normalised split R̂ = max(R̂_bulk(z-scored ranks), R̂_tail(folded ranks)),
  R̂ = sqrt(((n−1)/n·W + B/n) / W) with W the mean within-chain variance and B/n the variance
  of chain means; the folded draws are |x − median(x)|.
- ``mcse_mean(x)`` = sd(x) / sqrt(ess(x, "mean")).
- ``summary_statistics(x)``: mean, sd, mcse_mean, ess_bulk, ess_tail and r_hat together (one
  rank transform shared by bulk ESS and R̂), what ``SamplingResult.summary`` and the end-of-run
  checks use.
- ``ebfmi(energy)``: per chain, E-BFMI = Σ_{n≥2} (E_n − E_{n−1})² / Σ_n (E_n − Ē)² of the total
  energies E_n = U(q_n) + K(p_n) (chains, draws).

These follow the reference implementation of the paper, so they agree with arviz's
``ess(method="bulk"|"tail"|"mean")``, ``rhat(method="rank")``, ``mcse(method="mean")``,
``summary(round_to="none")`` and ``bfmi`` to floating-point accuracy (quantiles are R's type 7, as
in arviz).  One deliberate difference: with a single chain R̂ is still the split-chain value (arviz
returns NaN there).  Everything is vectorised over the elements of ``shape`` (in blocks of a few
million draws, to bound memory); ranking dominates the cost, O(N log N) per element for N draws.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Union

import numpy as np
import torch
from torch import Tensor
from scipy import special

ArrayLike = Union[torch.Tensor, np.ndarray]

_ESS_METHODS = ("bulk", "tail", "mean")
_BLOCK_ELEMENTS = 1 << 21  # draws per block of elements processed together (bounds the memory)
SUMMARY_KEYS = ("mean", "sd", "mcse_mean", "ess_bulk", "ess_tail", "r_hat")


def _float64(values: ArrayLike, what: str) -> tuple[np.ndarray, bool]:
    """``values`` as a float64 NumPy array on the CPU, and whether it was a tensor."""
    is_tensor = isinstance(values, torch.Tensor)
    if is_tensor:
        return values.detach().to("cpu", torch.float64).numpy(), True
    if isinstance(values, np.ndarray):
        return values.astype(np.float64, copy=False), False
    raise TypeError(f"{what} must be a torch.Tensor or numpy.ndarray, got {type(values).__name__}")


def _as_numpy(samples: ArrayLike) -> tuple[np.ndarray, bool]:
    array, is_tensor = _float64(samples, "samples")
    if array.ndim < 2:
        raise ValueError(f"samples must have shape (chains, draws, *shape); got shape {tuple(array.shape)}")
    if array.shape[1] < 4:
        raise ValueError(f"need at least 4 draws per chain for diagnostics; got {array.shape[1]}")
    return array, is_tensor


def _blocks(samples: ArrayLike, fn) -> tuple[dict[str, np.ndarray], bool]:
    """Apply ``fn`` ((k, chains, draws) -> dict of (k,)) to blocks of elements and reshape the
    results to ``shape``.  Blocks run on ``torch.get_num_threads()`` threads (NumPy's sorts, FFTs
    and ufuncs release the GIL), so the diagnostics use the same CPU budget as the sampler."""
    array, is_tensor = _as_numpy(samples)
    chains, draws = array.shape[:2]
    event_shape = array.shape[2:]
    flat = array.reshape(chains, draws, -1)
    width = max(1, _BLOCK_ELEMENTS // (chains * draws))
    starts = range(0, flat.shape[2], width)

    def run(i: int) -> dict[str, np.ndarray]:
        return fn(np.ascontiguousarray(flat[:, :, i : i + width].transpose(2, 0, 1)))

    workers = min(torch.get_num_threads(), len(starts))
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(run, starts))
    else:
        parts = [run(i) for i in starts]
    out = {key: np.concatenate([p[key] for p in parts]).reshape(event_shape) for key in parts[0]}
    return out, is_tensor


def _wrap(value: np.ndarray, is_tensor: bool) -> ArrayLike:
    return torch.from_numpy(np.ascontiguousarray(value)) if is_tensor else value


# Internally every block is laid out (k, chains, draws): k elements, each with its own chains.


def _split_chains(ary: np.ndarray) -> np.ndarray:
    """Split every chain in halves, dropping the middle draw when the length is odd: (k, 2C, n // 2)."""
    half = ary.shape[2] // 2
    return np.concatenate([ary[:, :, :half], ary[:, :, ary.shape[2] - half :]], axis=1)


def _twice_average_ranks(ordered: np.ndarray) -> np.ndarray:
    """2 × the average rank (1-based; ties share the mean of their positions) at every position of
    the rows of ``ordered`` (k, n), each sorted ascending.  Integer valued."""
    k, n = ordered.shape
    twice = np.broadcast_to(2 * np.arange(1, n + 1), (k, n))
    rows, cols = np.nonzero(ordered[:, 1:] == ordered[:, :-1])  # entries cols and cols + 1 are equal
    if rows.size == 0:
        return twice
    pairs = rows * n + cols  # flat index of the first entry of each equal pair; a run of ties is consecutive
    breaks = np.flatnonzero(np.diff(pairs) != 1)
    first = np.r_[pairs[0], pairs[breaks + 1]]  # flat index of the first entry of each run
    last = np.r_[pairs[breaks], pairs[-1]] + 1  # ... and of its last entry
    length = last - first + 1
    row_start = (first // n) * n
    twice = twice.copy()
    flat = np.repeat(first - np.cumsum(np.r_[0, length[:-1]]), length) + np.arange(length.sum())
    twice.ravel()[flat] = np.repeat((first - row_start) + (last - row_start) + 2, length)
    return twice


# Sorting, gathering and scattering rows go through torch on arrays shared with NumPy: its row sort returns the
# values with the order, and its gather/scatter kernels are faster than NumPy's fancy indexing.


def _torch(array: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(array))


def _sort_rows(rows: np.ndarray, stable: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(sorted rows, order) of a (k, n) array: sorted[i, j] = rows[i, order[i, j]]."""
    values, order = torch.sort(_torch(rows), dim=1, stable=stable)
    return values.numpy(), order.numpy()


def _scatter(order: np.ndarray, values: np.ndarray) -> np.ndarray:
    """out[i, order[i, j]] = values[i, j] for (k, n) arrays."""
    out = torch.empty(order.shape, dtype=torch.float64)
    return out.scatter_(1, _torch(order), _torch(values.astype(np.float64, copy=False))).numpy()


def _gather(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[i, index[i, j]] for (k, n) arrays."""
    return torch.gather(_torch(values), 1, _torch(index)).numpy()


class _Ranked:
    """Rank transforms of the split chains of a block ``ary`` (k, C, n) without NaN.

    One sort per element: ``z`` are the rank-normalised split draws, Φ⁻¹((rank − 3/8)/(N + 1/4)),
    ``sorted`` the split draws in order.  ``folded_z(median)`` rank-normalises |x − median|: in the
    order of the sorted draws the folded values fall then rise, so reversing the falling part leaves
    two ascending runs, which a stable (merge) sort orders in linear time.
    """

    def __init__(self, ary: np.ndarray) -> None:
        split = _split_chains(ary)
        self.shape = split.shape
        k = split.shape[0]
        self.count = split.shape[1] * split.shape[2]
        cols = split.reshape(k, self.count)
        self.sorted, self.order = _sort_rows(cols)
        # Φ⁻¹ of every possible half-integer rank once (the same doubles as per draw)
        self.table = special.ndtri((np.arange(2 * self.count + 1) / 2.0 - 0.375) / (self.count + 0.25))
        self.z = self._z(self.order, self.sorted)

    def _z(self, order: np.ndarray, ordered: np.ndarray) -> np.ndarray:
        return _scatter(order, self.table[_twice_average_ranks(ordered)]).reshape(self.shape)

    def median(self) -> np.ndarray:
        """Median of the split draws (all draws when the chains have even length), as np.median."""
        half = self.count // 2
        if self.count % 2:
            return self.sorted[:, half]
        return (self.sorted[:, half - 1] + self.sorted[:, half]) / 2.0

    def folded_z(self, median: np.ndarray) -> np.ndarray:
        k, n = self.sorted.shape
        below = (self.sorted < median[:, None]).sum(axis=1)  # the falling part: positions < below
        position = np.arange(n)[None, :]
        runs = np.where(position < below[:, None], below[:, None] - 1 - position, position)
        folded = np.abs(_gather(self.sorted, runs) - median[:, None])
        folded_sorted, inner = _sort_rows(folded, stable=True)
        in_sorted = np.where(inner < below[:, None], below[:, None] - 1 - inner, inner)  # = runs[inner]
        return self._z(_gather(self.order, in_sorted), folded_sorted)

    def quantile_type7(self, prob: float) -> np.ndarray:
        return _type7(self.sorted, prob)


def _type7(ordered: np.ndarray, prob: float) -> np.ndarray:
    """R's type-7 quantile of every row, from the two order statistics it needs, with the same
    floating-point expression as arviz's (scipy.stats.mstats.mquantiles with alphap = betap = 1).
    ``ordered``: (k, n), sorted rows (or rows partitioned at those two positions)."""
    n = ordered.shape[1]
    k = _type7_index(n, prob)
    gamma = min(max(n * prob + (1.0 + prob * (1.0 - 1.0 - 1.0)) - k, 0.0), 1.0)
    return (1.0 - gamma) * ordered[:, k - 1] + gamma * ordered[:, k]


def _type7_index(n: int, prob: float) -> int:
    aleph = n * prob + (1.0 + prob * (1.0 - 1.0 - 1.0))
    return int(np.floor(min(max(aleph, 1), n - 1)))


def _mean_autocov(ary: np.ndarray) -> np.ndarray:
    """Autocovariance at every lag (biased, divided by n) averaged over chains, via FFT.
    ``ary``: (k, chains, draws) -> (k, draws)."""
    n = ary.shape[2]
    m = 1 << int(np.ceil(np.log2(2 * n)))
    centred = ary - ary.mean(axis=2, keepdims=True)
    spectrum = np.fft.rfft(centred, n=m, axis=2).view(np.float64)  # (re, im) interleaved
    squares = np.einsum("kcf,kcf->kf", spectrum, spectrum)  # Σ over chains, in one pass
    power = (squares[:, 0::2] + squares[:, 1::2]) / ary.shape[1]
    return np.fft.irfft(power, n=m, axis=1)[:, :n] / n


def _ess(ary: np.ndarray) -> np.ndarray:
    """ESS of every element of ``ary`` (k, chains, draws) with Geyer's initial monotone positive
    sequence, exactly as the reference loop but for all k at once.

    With ρ̂_0 = 1 and pair sums P_j = ρ̂_{2j} + ρ̂_{2j+1}, the loop stops at the first pair
    j_last with P ≤ 0 (or at the last pair it may compute, while 2j − 1 < draws − 3), sums the
    running minimum of P_0 … P_{j_last−1} (the monotone sequence) and adds ρ̂_{2 j_last} when it
    is positive or was kept (P_{j_last} ≥ 0): τ = −1 + 2 Σ + that term, ESS = N / max(τ, 1/log₁₀ N)."""
    k, chains, n = ary.shape
    total = chains * n
    out = np.full(k, np.nan)
    finite = ~np.isnan(ary).any(axis=(1, 2))
    constant = finite & ((ary.max(axis=(1, 2)) - ary.min(axis=(1, 2))) < np.finfo(float).resolution)
    out[constant] = float(total)
    live = finite & ~constant
    if not live.any():
        return out
    x = ary[live]
    mean_acov = _mean_autocov(x)  # (k', n)
    mean_var = mean_acov[:, 0] * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if chains > 1:
        var_plus = var_plus + np.var(x.mean(axis=2), axis=1, ddof=1)
    rho = 1.0 - (mean_var[:, None] - mean_acov) / var_plus[:, None]
    rho[:, 0] = 1.0
    j_max = max(0, (n - 3) // 2)
    pairs = rho[:, 0 : 2 * j_max + 1 : 2] + rho[:, 1 : 2 * j_max + 2 : 2]  # (k', j_max + 1)
    stops = pairs <= 0.0
    first_stop = np.where(stops.any(axis=1), stops.argmax(axis=1), j_max + 1)
    j_last = np.minimum(first_stop, j_max)
    running = np.minimum.accumulate(pairs, axis=1)
    rows = np.arange(x.shape[0])
    summed = np.where(np.arange(j_max + 1)[None, :] < j_last[:, None], running, 0.0).sum(axis=1)
    rho_last = rho[rows, 2 * j_last]
    kept = (rho_last > 0.0) | (pairs[rows, j_last] >= 0.0)
    last = np.where(j_last == 0, 1.0, np.where(kept, rho_last, 0.0))
    tau = np.maximum(-1.0 + 2.0 * summed + last, 1.0 / np.log10(total))
    out[live] = total / tau
    return out


def _rhat(ary: np.ndarray) -> np.ndarray:
    """Plain R̂ of every element of ``ary`` (k, chains, draws)."""
    n = ary.shape[2]
    between = n * np.var(ary.mean(axis=2), axis=1, ddof=1)
    within = np.mean(np.var(ary, axis=2, ddof=1), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _nan_rows(ary: np.ndarray) -> np.ndarray:
    return np.isnan(ary).any(axis=(1, 2))


def _full_median(ary: np.ndarray, ranked: _Ranked) -> np.ndarray:
    """Median over all draws (arviz folds around the median of the unsplit chains)."""
    if ary.shape[2] % 2 == 0:
        return ranked.median()
    return np.median(ary.reshape(ary.shape[0], -1), axis=1)


def _tail_ess(ary: np.ndarray, ranked: _Ranked | None) -> np.ndarray:
    """min over p ∈ {0.05, 0.95} of the split ESS of the indicators x ≤ q_p (type-7 quantiles)."""
    if ranked is not None and ary.shape[2] % 2 == 0:
        low, high = ranked.quantile_type7(0.05), ranked.quantile_type7(0.95)
    else:
        flat = ary.reshape(ary.shape[0], -1)
        n = flat.shape[1]
        kth = sorted({_type7_index(n, p) + d for p in (0.05, 0.95) for d in (-1, 0)})
        part = np.partition(flat, kth, axis=1)
        low, high = _type7(part, 0.05), _type7(part, 0.95)
    ess_low = _ess(_split_chains((ary <= low[:, None, None]).astype(np.float64)))
    ess_high = _ess(_split_chains((ary <= high[:, None, None]).astype(np.float64)))
    return np.minimum(ess_low, ess_high)


def _block_statistics(ary: np.ndarray, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The statistics ``keys`` (of SUMMARY_KEYS) of every element of ``ary`` (k, chains, draws);
    NaN for elements with a NaN draw, as arviz."""
    k = ary.shape[0]
    out = {key: np.full(k, np.nan) for key in keys}
    ok = ~_nan_rows(ary)
    if not ok.any():
        return out
    x = ary[ok]
    flat = x.reshape(x.shape[0], -1)
    ranked = _Ranked(x) if {"ess_bulk", "r_hat"} & set(keys) else None
    if "mean" in keys:
        out["mean"][ok] = flat.mean(axis=1)
    if "sd" in keys or "mcse_mean" in keys:
        sd = np.std(flat, axis=1, ddof=1)
        if "sd" in keys:
            out["sd"][ok] = sd
        if "mcse_mean" in keys:
            out["mcse_mean"][ok] = sd / np.sqrt(_ess(_split_chains(x)))
    if "ess_mean" in keys:
        out["ess_mean"][ok] = _ess(_split_chains(x))
    if "ess_bulk" in keys:
        out["ess_bulk"][ok] = _ess(ranked.z)
    if "ess_tail" in keys:
        out["ess_tail"][ok] = _tail_ess(x, ranked)
    if "r_hat" in keys:
        out["r_hat"][ok] = np.maximum(_rhat(ranked.z), _rhat(ranked.folded_z(_full_median(x, ranked))))
    return out


def _statistics(samples: ArrayLike, keys: tuple[str, ...]) -> tuple[dict[str, np.ndarray], bool]:
    return _blocks(samples, lambda block: _block_statistics(block, keys))


def ess(samples: ArrayLike, method: str = "bulk") -> ArrayLike:
    """Effective sample size per element of ``samples`` (chains, draws, *shape).

    ``method``: ``"bulk"`` (rank-normalised split ESS), ``"tail"`` (min over the 5%/95%
    quantile indicators) or ``"mean"`` (split ESS of the raw draws).
    """
    if method not in _ESS_METHODS:
        raise ValueError(f"unknown ESS method {method!r}; choose one of {list(_ESS_METHODS)}")
    key = f"ess_{method}"
    out, is_tensor = _statistics(samples, (key,))
    return _wrap(out[key], is_tensor)


def ess_tail(samples: ArrayLike) -> ArrayLike:
    """Tail ESS: ``ess(samples, method="tail")``."""
    return ess(samples, method="tail")


def rhat(samples: ArrayLike) -> ArrayLike:
    """Rank-normalised split R̂ per element of ``samples`` (chains, draws, *shape)."""
    out, is_tensor = _statistics(samples, ("r_hat",))
    return _wrap(out["r_hat"], is_tensor)


def mcse_mean(samples: ArrayLike) -> ArrayLike:
    """Monte Carlo standard error of the mean: sd / sqrt(ESS_mean)."""
    out, is_tensor = _statistics(samples, ("mcse_mean",))
    return _wrap(out["mcse_mean"], is_tensor)


def summary_statistics(samples: ArrayLike) -> dict[str, ArrayLike]:
    """``{"mean", "sd", "mcse_mean", "ess_bulk", "ess_tail", "r_hat"}`` per element of ``samples``
    (chains, draws, *shape): the columns of ``arviz.summary(..., round_to="none")`` (sd with ddof 1)
    that are not intervals, computed together (one sort of each element's draws)."""
    out, is_tensor = _statistics(samples, SUMMARY_KEYS)
    return {key: _wrap(out[key], is_tensor) for key in SUMMARY_KEYS}


def ebfmi(energy: ArrayLike) -> ArrayLike:
    """Energy Bayesian fraction of missing information per chain (Betancourt 2016):
    Σ_{n=2}^{N} (E_n − E_{n−1})² / Σ_{n=1}^{N} (E_n − Ē)² for total energies ``energy`` (chains, draws),
    as arviz's ``bfmi``.  Values below 0.3 mean momentum resampling explores the energy distribution
    poorly (heavy tails, funnels)."""
    array, is_tensor = _float64(energy, "energy")
    if array.ndim != 2 or array.shape[1] < 2:
        raise ValueError(f"energy must have shape (chains, draws) with draws >= 2; got {tuple(array.shape)}")
    numerator = np.square(np.diff(array, axis=1)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = numerator / np.square(array - array.mean(axis=1, keepdims=True)).sum(axis=1)
    return _wrap(value, is_tensor)
