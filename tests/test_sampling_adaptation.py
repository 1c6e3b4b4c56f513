"""Warmup adaptation pieces on their own: the pooled covariance and dual averaging, against direct formulas (float64:
the only error is summation round-off, so 1e-12)."""
from __future__ import annotations

import math

import pytest
import torch

from hnn.sampling.adaptation import DualAveraging, PooledCovariance

F64 = torch.float64


@pytest.mark.parametrize("dense", [False, True])
def test_pooled_covariance_of_rows_and_batches_equals_the_sample_covariance(dense):
    """Rows fed one at a time (Welford), in uneven batches (Chan) or mixed give the sample mean and covariance."""
    x = torch.randn(61, 4, dtype=F64, generator=torch.Generator().manual_seed(0)) * torch.tensor([0.01, 0.1, 1.0, 3.0],
                                                                                                  dtype=F64)
    expected = torch.cov(x.T) if dense else x.var(0)
    for pieces in ([1] * 61, [7, 20, 34], [1, 1, 30, 1, 28]):
        cov = PooledCovariance(4, dense, F64, torch.device("cpu"))
        start = 0
        for size in pieces:
            cov.update(x[start:start + size])
            start += size
        assert cov.n == 61
        torch.testing.assert_close(cov.mean, x.mean(0), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(cov.m2 / (cov.n - 1), expected, rtol=1e-12, atol=1e-12)


def test_dual_averaging_scalar_and_vector_forms_agree():
    """The Python-float form for one step size follows the same recursion as the tensor form (Hoffman & Gelman 2014,
    eq. 6), checked against a third, written-out recursion."""
    stats = [0.2, 0.95, float("nan"), 0.7, 0.85, 0.6, 0.99]
    scalar = DualAveraging(torch.tensor(0.5, dtype=F64), 0.8)
    vector = DualAveraging(torch.tensor([0.5, 0.5], dtype=F64), 0.8)
    mu, h_bar, log_avg = math.log(5.0), 0.0, 0.0
    for t, a in enumerate(stats, start=1):
        step = scalar.update(torch.tensor(a, dtype=F64))
        steps = vector.update(torch.tensor([a, a], dtype=F64))
        a = 0.0 if math.isnan(a) else a
        h_bar = (1 - 1 / (t + 10)) * h_bar + (0.8 - a) / (t + 10)
        log_step = mu - math.sqrt(t) / 0.05 * h_bar
        log_avg = t**-0.75 * log_step + (1 - t**-0.75) * log_avg
        assert step.dim() == 0 and step.dtype == F64
        assert math.isclose(float(step), math.exp(log_step), rel_tol=1e-12)
        torch.testing.assert_close(steps, torch.full((2,), math.exp(log_step), dtype=F64), rtol=1e-12, atol=0)
    assert math.isclose(float(scalar.final_step_size), math.exp(log_avg), rel_tol=1e-12)
    torch.testing.assert_close(vector.final_step_size, torch.full((2,), math.exp(log_avg), dtype=F64), rtol=1e-12,
                               atol=0)
