"""SamplingResult.to_arviz: groups and names as ArviZ expects, a lossless round trip, and ArviZ's own
diagnostics on the export equal to the result's (summary columns and E-BFMI to 1e-6).

Tested against ArviZ 0.22 and 0.23, the pinned range >=0.22,<1.0 (InferenceData; ArviZ 1.0 replaced it by
DataTree and is refused).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from hnn.sampling import HMC, NUTS, ParallelTempering

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # arviz 0.2x announces its 1.0 refactor on import
    az = pytest.importorskip("arviz")

F64 = torch.float64
STATS_NUTS = {"lp", "energy", "acceptance_rate", "diverging", "n_steps", "step_size", "tree_depth"}


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def energy(x: torch.Tensor) -> torch.Tensor:
    scales = torch.tensor([0.5, 1.0, 2.0], dtype=F64)
    return 0.5 * ((x / scales) ** 2).sum(-1) + 0.25 * x[..., 0] ** 4


@pytest.fixture(scope="module")
def nuts_run():
    init = torch.randn(4, 3, dtype=F64, generator=gen(0))
    return NUTS(energy, mass="diag").sample(init, 400, 150, generator=gen(1), save_warmup=True, warn=False)


def test_groups_names_and_round_trip(nuts_run):
    r = nuts_run
    idata = r.to_arviz()
    assert set(idata.groups()) == {"posterior", "sample_stats", "warmup_posterior", "warmup_sample_stats"}
    post = idata.posterior["x"]
    assert post.dims == ("chain", "draw", "x_dim_0") and post.shape == (4, 400, 3)
    np.testing.assert_array_equal(post.values, r.samples.numpy())
    stats = idata.sample_stats
    assert set(stats.data_vars) == STATS_NUTS
    expected = {"lp": -r.potential_energy, "energy": r.energy, "acceptance_rate": r.accept_prob,
                "diverging": r.divergent, "n_steps": r.num_steps, "step_size": r.step_sizes, "tree_depth": r.tree_depth}
    for name, value in expected.items():
        assert stats[name].dims == ("chain", "draw"), name
        np.testing.assert_array_equal(stats[name].values, value.numpy(), err_msg=name)
    assert stats["diverging"].dtype == bool and stats["n_steps"].dtype.kind == "i" and stats["tree_depth"].dtype.kind == "i"
    w = r.warmup
    np.testing.assert_array_equal(idata.warmup_posterior["x"].values, w.samples.numpy())
    np.testing.assert_array_equal(idata.warmup_sample_stats["step_size"].values, w.step_sizes.numpy())
    np.testing.assert_array_equal(idata.warmup_sample_stats["lp"].values, (-w.potential_energy).numpy())
    assert idata.posterior.attrs["sampler"] == "NUTS" and idata.posterior.attrs["num_warmup"] == 150


def test_summary_and_bfmi_of_the_export_agree_with_the_result(nuts_run):
    r = nuts_run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.summary(r.to_arviz(), round_to="none")
        bfmi = az.bfmi(r.to_arviz())
    ours = r.summary_stats()
    for column in ("mean", "sd", "mcse_mean", "ess_bulk", "ess_tail", "r_hat"):
        np.testing.assert_allclose(ours[column].numpy(), table[column].to_numpy(), rtol=1e-6, atol=0, err_msg=column)
    np.testing.assert_allclose(r.ebfmi().numpy(), bfmi, rtol=1e-6, atol=0)


def test_save_warmup_false_exports_no_warmup_groups_and_names_per_coordinate():
    init = torch.randn(2, 3, dtype=F64, generator=gen(2))
    r = HMC(energy).sample(init, 50, 20, generator=gen(3), warn=False)
    idata = r.to_arviz(var_names=["a", "b", "c"])
    assert set(idata.groups()) == {"posterior", "sample_stats"}
    assert set(idata.posterior.data_vars) == {"a", "b", "c"}
    np.testing.assert_array_equal(idata.posterior["b"].values, r.samples[:, :, 1].numpy())
    assert "tree_depth" not in idata.sample_stats and set(idata.sample_stats.data_vars) == STATS_NUTS - {"tree_depth"}
    with pytest.raises(ValueError, match="one name or 3 distinct names"):
        r.to_arviz(var_names=["a", "b"])
    with pytest.raises(ValueError, match="distinct"):
        r.to_arviz(var_names=["a", "a", "b"])


def test_state_shaped_draws_keep_their_shape():
    init = torch.randn(2, 2, 3, dtype=F64, generator=gen(4))
    r = NUTS(lambda x: 0.5 * (x**2).flatten(1).sum(-1)).sample(init, 30, 20, generator=gen(5), warn=False)
    assert r.to_arviz().posterior["x"].shape == (2, 30, 2, 3)


def test_parallel_tempering_exports_no_energy():
    init = torch.randn(2, 3, dtype=F64, generator=gen(6))
    r = ParallelTempering(energy, num_replicas=3).sample(init, 50, 20, generator=gen(7), warn=False)
    stats = r.to_arviz().sample_stats
    assert "energy" not in stats and "lp" in stats
    with pytest.raises(ValueError, match="records no total energy"):
        r.ebfmi()


def test_netcdf_round_trip(nuts_run, tmp_path):
    pytest.importorskip("h5netcdf")
    path = tmp_path / "run.nc"
    nuts_run.to_arviz().to_netcdf(str(path), engine="h5netcdf")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = az.from_netcdf(str(path), engine="h5netcdf")
    np.testing.assert_array_equal(back.posterior["x"].values, nuts_run.samples.numpy())
    np.testing.assert_array_equal(back.sample_stats["diverging"].values, nuts_run.divergent.numpy())
    np.testing.assert_array_equal(back.warmup_sample_stats["energy"].values, nuts_run.warmup.energy.numpy())


def test_arviz_1_is_refused_with_the_range_to_install(nuts_run, monkeypatch):
    monkeypatch.setattr(az, "__version__", "1.0.0")
    with pytest.raises(ImportError, match=r"DataTree; install 'arviz>=0.22,<1.0'"):
        nuts_run.to_arviz()
