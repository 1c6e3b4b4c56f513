"""The compiled gradient path (``compile_gradient=True``: torch.func.grad under torch.compile) and its options."""
from __future__ import annotations

import pytest
import torch

from hnn.sampling import HMC, NUTS

F64 = torch.float64


def _energy(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (x**2 * torch.arange(1, x.shape[-1] + 1, dtype=x.dtype)).sum(-1)


def test_compile_gradient_rejects_bad_options():
    with pytest.raises(TypeError, match="compile_gradient must be True or False"):
        NUTS(_energy, compile_gradient=1)
    with pytest.raises(ValueError, match="either gradient= or compile_gradient=True"):
        HMC(_energy, gradient=lambda x: x, compile_gradient=True)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [NUTS, HMC])
def test_compiled_gradient_matches_autograd(cls):
    """Same seed, same sampler: the compiled ∂U/∂x equals autograd's to round-off, so the draws agree closely
    (the first evaluation's compile time is reported apart from warmup)."""
    init = torch.randn(4, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    options = {"step_size": 0.3, "adapt_step_size": False}
    runs = [
        cls(_energy, compile_gradient=compiled, **options).sample(
            init, num_samples=20, num_warmup=0, generator=torch.Generator().manual_seed(1), warn=False)
        for compiled in (False, True)
    ]
    eager, compiled = runs
    assert compiled.compile_seconds > 0 and eager.compile_seconds == 0
    torch.testing.assert_close(compiled.samples, eager.samples, rtol=1e-9, atol=1e-9)
    assert compiled.num_grad_evals == eager.num_grad_evals
