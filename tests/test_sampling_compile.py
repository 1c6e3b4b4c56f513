"""The compiled gradient path (``compile_gradient=True``: torch.func.grad traced and compiled by TorchInductor) and its
options."""
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


@pytest.mark.slow
def test_compiled_gradient_reads_parameters_at_each_call_and_compiles_once_per_shape():
    """A network energy: the compiled (∂U/∂x, U) equals autograd's (float64 round-off) before and after an in-place
    parameter update (an optimizer step), for two batch shapes; a second run of the sampler does not recompile."""
    from hnn.sampling.base import compiled_grad_and_value

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)).double()
    energy = lambda x: net(x).squeeze(-1)
    compiled = compiled_grad_and_value(energy)

    def reference(x):
        x = x.detach().requires_grad_(True)
        out = energy(x)
        (grad,) = torch.autograd.grad(out.sum(), x)
        return grad, out.detach()

    for rows in (1, 5):
        x = torch.randn(rows, 3, dtype=F64)
        for _ in range(2):
            grad, value = compiled(x)
            expected_grad, expected_value = reference(x)
            assert not grad.requires_grad and not value.requires_grad
            torch.testing.assert_close(grad, expected_grad, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(value, expected_value, rtol=1e-12, atol=1e-12)
            with torch.no_grad():
                net[0].weight.mul_(1.5)  # seen by the next call: parameters are read, not baked in

    sampler = NUTS(energy, compile_gradient=True, step_size=0.2, adapt_step_size=False)
    init = torch.randn(2, 3, dtype=F64, generator=torch.Generator().manual_seed(0))
    first = sampler.sample(init, num_samples=3, num_warmup=0, warn=False)
    second = sampler.sample(init, num_samples=3, num_warmup=0, warn=False)
    assert first.compile_seconds > 10 * second.compile_seconds  # the second run reuses the compiled kernel


@pytest.mark.slow
def test_untraceable_energy_falls_back_to_torch_compile_with_a_warning():
    """Python control flow on x's values cannot be one traced graph: a SamplingWarning names it and the gradient
    (through torch.compile) is still right."""
    from hnn.sampling import SamplingWarning
    from hnn.sampling.base import compiled_grad_and_value

    def branching(x):
        return _energy(x) if bool(x.sum() > -1e9) else -_energy(x)

    compiled = compiled_grad_and_value(branching)
    x = torch.randn(4, 3, dtype=F64)
    with pytest.warns(SamplingWarning, match="cannot be traced as one graph"):
        grad, value = compiled(x)
    torch.testing.assert_close(grad, x * torch.arange(1, 4, dtype=F64), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(value, _energy(x), rtol=1e-12, atol=1e-12)
