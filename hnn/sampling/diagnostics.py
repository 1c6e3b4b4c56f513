"""MCMC convergence diagnostics (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021).

All functions take draws shaped ``(chains, draws, *shape)`` (a torch tensor or a numpy array)
and return one value per element of ``shape`` (same container type as the input).

- ``ess(x, method="bulk")``: effective sample size of the rank-normalised split chains
  (``"bulk"``), the minimum over the 5% and 95% quantile indicators (``"tail"``) or of the
  raw split chains (``"mean"``).  ESS = N / τ with τ = −1 + 2 Σ_t ρ̂_t truncated by Geyer's
  initial monotone positive sequence, ρ̂_t = 1 − (W − mean autocov_t) / var⁺.
- ``rhat(x)``: rank-normalised split R̂ = max(R̂_bulk(z-scored ranks), R̂_tail(folded ranks)),
  R̂ = sqrt(((n−1)/n·W + B/n) / W) with W the mean within-chain variance and B/n the variance
  of chain means.
- ``mcse_mean(x)`` = sd(x) / sqrt(ess(x, "mean")).

These follow the reference implementation of the paper, so they agree with arviz's
``ess(method="bulk"|"tail"|"mean")``, ``rhat(method="rank")`` and ``mcse(method="mean")``
to floating-point accuracy.  One deliberate difference: with a single chain R̂ is still the
split-chain value (arviz returns NaN there).
"""
from __future__ import annotations

from typing import Union

import numpy as np
import torch
from scipy import special, stats

ArrayLike = Union[torch.Tensor, np.ndarray]

_ESS_METHODS = ("bulk", "tail", "mean")


def _as_numpy(samples: ArrayLike) -> tuple[np.ndarray, bool]:
    is_tensor = isinstance(samples, torch.Tensor)
    if is_tensor:
        array = samples.detach().to("cpu", torch.float64).numpy()
    elif isinstance(samples, np.ndarray):
        array = samples.astype(np.float64, copy=False)
    else:
        raise TypeError(f"samples must be a torch.Tensor or numpy.ndarray, got {type(samples).__name__}")
    if array.ndim < 2:
        raise ValueError(f"samples must have shape (chains, draws, *shape); got shape {tuple(array.shape)}")
    if array.shape[1] < 4:
        raise ValueError(f"need at least 4 draws per chain for diagnostics; got {array.shape[1]}")
    return array, is_tensor


def _per_element(samples: ArrayLike, fn) -> ArrayLike:
    """Apply ``fn`` to every (chains, draws) slice and reshape back to ``shape``."""
    array, is_tensor = _as_numpy(samples)
    chains, draws = array.shape[:2]
    event_shape = array.shape[2:]
    flat = array.reshape(chains, draws, -1)
    out = np.array([fn(flat[:, :, i]) for i in range(flat.shape[2])], dtype=np.float64).reshape(event_shape)
    if is_tensor:
        return torch.from_numpy(out)
    return out


def _split_chains(ary: np.ndarray) -> np.ndarray:
    """Split every chain in halves (dropping the middle draw when the length is odd)."""
    half = ary.shape[1] // 2
    return np.concatenate([ary[:, :half], ary[:, -half:]], axis=0)


def _z_scale(ary: np.ndarray) -> np.ndarray:
    """Rank-normalise: Φ⁻¹((rank − 3/8) / (N + 1/4)) with average ranks over all draws."""
    rank = stats.rankdata(ary, method="average").reshape(ary.shape)
    return special.ndtri((rank - 0.375) / (ary.size + 0.25))


def _autocov(ary: np.ndarray) -> np.ndarray:
    """Autocovariance of every chain at every lag (biased estimator, divided by n), via FFT."""
    n = ary.shape[1]
    m = 1 << int(np.ceil(np.log2(2 * n)))
    centred = ary - ary.mean(axis=1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=m, axis=1)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), n=m, axis=1)[:, :n] / n


def _ess_2d(ary: np.ndarray) -> float:
    """ESS of a (chains, draws) array with Geyer's initial monotone positive sequence."""
    if np.isnan(ary).any():
        return float("nan")
    if np.max(ary) - np.min(ary) < np.finfo(float).resolution:
        return float(ary.size)
    n_chain, n_draw = ary.shape
    acov = _autocov(ary)
    mean_acov = acov.mean(axis=0)
    mean_var = mean_acov[0] * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus += np.var(ary.mean(axis=1), ddof=1)
    rho = np.zeros(n_draw)
    rho_even = 1.0
    rho[0] = rho_even
    rho_odd = 1.0 - (mean_var - mean_acov[1]) / var_plus
    rho[1] = rho_odd
    t = 1
    while t < n_draw - 3 and rho_even + rho_odd > 0.0:  # initial positive sequence
        rho_even = 1.0 - (mean_var - mean_acov[t + 1]) / var_plus
        rho_odd = 1.0 - (mean_var - mean_acov[t + 2]) / var_plus
        if rho_even + rho_odd >= 0:
            rho[t + 1] = rho_even
            rho[t + 2] = rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:
        rho[max_t + 1] = rho_even
    t = 1
    while t <= max_t - 2:  # initial monotone sequence
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0
            rho[t + 2] = rho[t + 1]
        t += 2
    n_total = n_chain * n_draw
    tau = -1.0 + 2.0 * np.sum(rho[: max_t + 1]) + np.sum(rho[max_t + 1 : max_t + 2])
    tau = max(tau, 1.0 / np.log10(n_total))
    return float("nan") if np.isnan(rho).any() else n_total / tau


def _ess_bulk_2d(ary: np.ndarray) -> float:
    if np.isnan(ary).any():
        return float("nan")
    return _ess_2d(_z_scale(_split_chains(ary)))


def _ess_quantile_2d(ary: np.ndarray, prob: float) -> float:
    # Linear interpolation of the empirical CDF (Hyndman–Fan type 7), as in the reference code.
    quantile = np.quantile(ary, prob)
    return _ess_2d(_split_chains((ary <= quantile).astype(np.float64)))


def _ess_tail_2d(ary: np.ndarray) -> float:
    if np.isnan(ary).any():
        return float("nan")
    return min(_ess_quantile_2d(ary, 0.05), _ess_quantile_2d(ary, 0.95))


def _ess_mean_2d(ary: np.ndarray) -> float:
    return _ess_2d(_split_chains(ary))


def _rhat_2d(ary: np.ndarray) -> float:
    n = ary.shape[1]
    between = n * np.var(ary.mean(axis=1), ddof=1)
    within = np.mean(np.var(ary, axis=1, ddof=1))
    return float(np.sqrt((between / within + n - 1) / n))


def _rhat_rank_2d(ary: np.ndarray) -> float:
    if np.isnan(ary).any():
        return float("nan")
    rhat_bulk = _rhat_2d(_z_scale(_split_chains(ary)))
    folded = np.abs(ary - np.median(ary))
    rhat_tail = _rhat_2d(_z_scale(_split_chains(folded)))
    return max(rhat_bulk, rhat_tail)


def _mcse_mean_2d(ary: np.ndarray) -> float:
    return float(np.std(ary, ddof=1) / np.sqrt(_ess_mean_2d(ary)))


def ess(samples: ArrayLike, method: str = "bulk") -> ArrayLike:
    """Effective sample size per element of ``samples`` (chains, draws, *shape).

    ``method``: ``"bulk"`` (rank-normalised split ESS), ``"tail"`` (min over the 5%/95%
    quantile indicators) or ``"mean"`` (split ESS of the raw draws).
    """
    functions = {"bulk": _ess_bulk_2d, "tail": _ess_tail_2d, "mean": _ess_mean_2d}
    if method not in functions:
        raise ValueError(f"unknown ESS method {method!r}; choose one of {list(_ESS_METHODS)}")
    return _per_element(samples, functions[method])


def ess_tail(samples: ArrayLike) -> ArrayLike:
    """Tail ESS: ``ess(samples, method="tail")``."""
    return ess(samples, method="tail")


def rhat(samples: ArrayLike) -> ArrayLike:
    """Rank-normalised split R̂ per element of ``samples`` (chains, draws, *shape)."""
    return _per_element(samples, _rhat_rank_2d)


def mcse_mean(samples: ArrayLike) -> ArrayLike:
    """Monte Carlo standard error of the mean: sd / sqrt(ESS_mean)."""
    return _per_element(samples, _mcse_mean_2d)
