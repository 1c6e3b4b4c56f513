"""Diagnostics equal arviz's (the reference implementation of Vehtari et al. 2021) to rtol 1e-9: the vectorised
implementation reproduces the reference loops (Geyer's truncation, average ranks for ties, type-7 quantiles)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from hnn.sampling import ebfmi, ess, mcse_mean, rhat, summary_statistics

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
    np.testing.assert_allclose(ours, ref, rtol=1e-9)


def test_rhat_and_mcse_match_arviz():
    x = fixed_chains()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_rhat = np.array([az.rhat(x[:, :, i], method="rank") for i in range(x.shape[2])])
        ref_mcse = np.array([az.mcse(x[:, :, i], method="mean") for i in range(x.shape[2])])
    np.testing.assert_allclose(rhat(x), ref_rhat, rtol=1e-9)
    np.testing.assert_allclose(mcse_mean(x), ref_mcse, rtol=1e-9)
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


def tricky_chains(chains: int, draws: int) -> np.ndarray:
    """AR(1) chains plus ties, HMC-like repeated draws, a shifted chain, heavy tails, a constant and a NaN."""
    rng = np.random.default_rng(chains * 1000 + draws)
    x = np.zeros((chains, draws, 8))
    noise = rng.normal(size=x.shape)
    for t in range(1, draws):
        x[:, t] = 0.9 * x[:, t - 1] + noise[:, t]
    x[..., 1] = np.round(x[..., 1])  # ties
    x[..., 2] = np.repeat(x[:, ::3, 2], 3, axis=1)[:, :draws]  # rejected proposals repeat the draw
    x[1 % chains, :, 3] += 2.0
    x[..., 4] = rng.standard_t(1, size=(chains, draws))
    x[..., 5] = 1.0
    x[..., 6] = np.round(rng.normal(size=(chains, draws)))  # ties placed symmetrically about the median
    x[0, 0, 7] = np.nan
    return x


@pytest.mark.parametrize("chains, draws", [(2, 9), (4, 301), (4, 1000), (3, 5), (8, 4), (16, 257)])
def test_summary_statistics_match_arviz_summary(chains, draws):
    x = tricky_chains(chains, draws)
    ours = summary_statistics(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.summary(az.convert_to_dataset(x), round_to="none")
    for column in ("mean", "sd", "mcse_mean", "ess_bulk", "ess_tail", "r_hat"):
        np.testing.assert_allclose(ours[column], table[column].to_numpy(), rtol=1e-9, err_msg=column)
    assert np.isnan(ours["ess_bulk"][7]) and ours["ess_bulk"][5] == chains * (draws - draws % 2)
    torch_out = summary_statistics(torch.from_numpy(x))
    for key in ours:  # tensors in, tensors out: the same numbers
        torch.testing.assert_close(torch_out[key], torch.from_numpy(ours[key]), rtol=0, atol=0, equal_nan=True)


def test_ebfmi_matches_arviz_bfmi():
    rng = np.random.default_rng(7)
    energy = np.cumsum(rng.normal(size=(4, 500)), axis=1) * 0.05 + rng.normal(size=(4, 500))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(ebfmi(energy), az.bfmi(energy), rtol=1e-12)
    assert torch.allclose(ebfmi(torch.from_numpy(energy)), torch.from_numpy(az.bfmi(energy)), rtol=1e-12)
    with pytest.raises(ValueError, match="draws >= 2"):
        ebfmi(np.zeros((2, 1)))
    with pytest.raises(TypeError):
        ebfmi([[1.0, 2.0]])


def test_diagnostics_of_many_elements_are_computed_in_blocks_on_threads():
    """Blocks of elements (bounded memory) run on torch.get_num_threads() threads: the same numbers."""
    import hnn.sampling.diagnostics as diagnostics

    x = tricky_chains(4, 200)[..., :7]
    wide = np.concatenate([x] * 30, axis=2)  # 210 elements
    before, threads = diagnostics._BLOCK_ELEMENTS, torch.get_num_threads()
    try:
        whole = summary_statistics(wide)
        diagnostics._BLOCK_ELEMENTS = 4 * 200 * 7  # 7 elements per block
        torch.set_num_threads(2)
        blocked = summary_statistics(wide)
    finally:
        diagnostics._BLOCK_ELEMENTS = before
        torch.set_num_threads(threads)
    for key in whole:
        np.testing.assert_array_equal(whole[key], blocked[key])
