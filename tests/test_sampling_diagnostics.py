"""Diagnostics equal arviz's (the reference implementation of Vehtari et al. 2021) to rtol 1e-4."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from hnn.sampling import ess, mcse_mean, rhat

az = pytest.importorskip("arviz")


def fixed_chains() -> np.ndarray:
    """4 chains x 301 draws x 5 quantities: AR(1) chains, a heavy tail, ties, a slow chain, a shifted chain."""
    rng = np.random.default_rng(1234)
    chains, draws = 4, 301
    out = np.empty((chains, draws, 5))
    for c in range(chains):
        e = rng.normal(size=(draws, 5))
        x = np.zeros((draws, 5))
        for t in range(1, draws):
            x[t] = 0.8 * x[t - 1] + e[t]
        out[c] = x
    out[:, :, 1] = rng.standard_t(df=2, size=(chains, draws))  # heavy tails
    out[:, :, 2] = np.round(out[:, :, 2])  # many ties in the ranks
    out[:, :, 3] = np.cumsum(rng.normal(size=(chains, draws)), axis=1)  # a random walk (bad mixing)
    out[1, :, 4] += 3.0  # one shifted chain: large R̂
    return out


@pytest.mark.parametrize("method", ["bulk", "tail", "mean"])
def test_ess_matches_arviz(method):
    x = fixed_chains()
    ours = ess(torch.from_numpy(x), method=method).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.array([az.ess(x[:, :, i], method=method) for i in range(x.shape[2])])
    np.testing.assert_allclose(ours, ref, rtol=1e-4)


def test_rhat_and_mcse_match_arviz():
    x = fixed_chains()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_rhat = np.array([az.rhat(x[:, :, i], method="rank") for i in range(x.shape[2])])
        ref_mcse = np.array([az.mcse(x[:, :, i], method="mean") for i in range(x.shape[2])])
    np.testing.assert_allclose(rhat(x), ref_rhat, rtol=1e-4)
    np.testing.assert_allclose(mcse_mean(x), ref_mcse, rtol=1e-4)
    assert rhat(x)[4] > 1.1 and rhat(x)[0] < 1.05  # the shifted chain is flagged (conventional threshold 1.01)


def test_diagnostics_handle_shapes_and_bad_input():
    x = torch.randn(2, 50, 3, 4, generator=torch.Generator().manual_seed(0))
    assert ess(x).shape == (3, 4) and rhat(x).shape == (3, 4)
    constant = torch.ones(2, 50, 1)
    assert float(ess(constant)[0]) == 100.0
    with pytest.raises(ValueError, match="bulk"):
        ess(x, method="median")
    with pytest.raises(ValueError, match="4 draws"):
        ess(torch.randn(2, 3))
    with pytest.raises(TypeError):
        rhat([[1.0, 2.0]])
