"""Shared machinery of the HMC-family samplers: input checks, the potential with its cached
gradient, kinetic energy set-up, the warmup loop, result assembly and the end-of-run checks.

Target density π(x) ∝ exp(−U(x)); Hamiltonian H(x, p) = U(x) + K(p).  The target is given either
as ``energy=U`` or as ``log_prob=log π`` (then U = −log_prob, exactly, so both give the same draws
for the same seed); constants do not matter.  The leapfrog is
``hnn.integrators.splitting.leapfrog_step`` with force ∂U/∂x and velocity ∇K(p); the gradient at
the current state is cached across iterations so a trajectory of L steps costs L gradients.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from hnn.integrators.splitting import leapfrog_step
from hnn.sampling.adaptation import DualAveraging, PooledCovariance, WarmupSchedule
from hnn.sampling.checks import SamplingWarning, UnboundedWatch
from hnn.sampling.kinetic import MASS_STRUCTURES, GaussianKinetic, RelativisticKinetic, check_mass_matrix
from hnn.sampling.progress import make_progress_bar, progress_enabled
from hnn.sampling.result import SamplingResult, WarmupDraws

EnergyFn = Callable[[Tensor], Tensor]
LogProbFn = Callable[[Tensor], Tensor]
KINETIC_KINDS = ("gaussian", "relativistic")
LOG_08 = math.log(0.8)


def default_num_warmup(chains: int) -> int:
    """Warmup length used when ``num_warmup`` is not given: max(200, round(1000 / √chains)).

    One chain gets Stan's 1000.  Step-size and mass adaptation pool every chain, so each adaptation window of
    C chains holds C times the draws; 1000/√C keeps the pooled draws per window growing with C while the
    floor of 200 leaves room to reach the typical set and settle the step size.  Measured on the 100-d
    ill-conditioned Gaussian of ``scripts/benchmark.py sampling``, 64 chains: 200 warmup iterations reach the
    same adapted step size and min-ESS as 1000 (NUTS 0.534 vs 0.536, min ESS 25.1k vs 25.3k).
    """
    _check_int("chains", chains, 1)
    return max(200, round(1000 / math.sqrt(chains)))


class Potential:
    """U(x) and ∂U/∂x on flattened states (batch, D), evaluated together in one autograd call.

    ``force(q)`` returns ∂U/∂q and keeps U(q) in ``last_value`` (what ``leapfrog_step`` needs as
    force_fn).  Gradients are taken with respect to x only (parameters of a learned energy get no
    ``.grad``).  ``calls`` counts batched gradient evaluations.
    """

    def __init__(self, energy: EnergyFn, state_shape: tuple[int, ...], gradient: EnergyFn | None = None,
                 scale: Tensor | None = None,
                 compiled: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None) -> None:
        self.energy = energy
        self.gradient = gradient
        self.state_shape = state_shape
        self.scale = scale  # per-row multiplier of U (inverse temperatures), shape (batch, 1) or None
        self.calls = 0
        self.last_value: Tensor | None = None
        self.last_raw_value: Tensor | None = None
        # compiled: x -> (∂ΣU/∂x, U(x)) from compiled_grad_and_value (kept by the sampler, so it compiles once per
        # batch shape across runs); ``compile_seconds`` keeps the time of this potential's first call
        self.grad_and_value = compiled
        self.compile_seconds = 0.0

    def raw(self, q: Tensor) -> tuple[Tensor, Tensor]:
        """(U(q), ∂U/∂q) without temperature scaling."""
        self.calls += 1
        flat = len(self.state_shape) == 1  # x is q itself: no reshapes
        x = q if flat else q.reshape(q.shape[0], *self.state_shape)
        if self.grad_and_value is not None:
            if self.calls == 1:
                start = time.perf_counter()
                grad, value = self.grad_and_value(x.contiguous())
                self.compile_seconds = time.perf_counter() - start
            else:
                grad, value = self.grad_and_value(x.contiguous())
        elif self.gradient is not None:
            value, grad = self.energy(x), self.gradient(x)
            # detach only what needs it: a detach costs about as much as a small elementwise op
            if value.requires_grad:
                value = value.detach()
            if grad.requires_grad:
                grad = grad.detach()
        else:
            with torch.enable_grad():
                x = x.detach().requires_grad_(True)
                out = self.energy(x)
                (grad,) = torch.autograd.grad(out.sum(), x)
            value = out.detach()
        if flat and grad.shape == q.shape and value.shape == q.shape[:1]:
            return value, grad
        return value.reshape(q.shape[0]), grad.reshape(q.shape)

    def __call__(self, q: Tensor) -> tuple[Tensor, Tensor]:
        value, grad = self.raw(q)
        self.last_raw_value = value
        if self.scale is not None:
            value, grad = value * self.scale[:, 0], grad * self.scale
        return value, grad

    def force(self, q: Tensor) -> Tensor:
        value, grad = self(q)
        self.last_value = value
        return grad


def compiled_grad_and_value(energy: EnergyFn) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    """x -> (∂U/∂x, U(x)) for a U vectorised over rows: ``torch.func.grad`` of ΣU (rows are independent, so
    its gradient is every row's ∂U/∂x) with U as auxiliary output, compiled once per input shape, dtype and
    device.

    The gradient is traced to one graph of ATen operations (``make_fx`` on fake tensors) and that graph is
    compiled by TorchInductor; a call runs the compiled kernel with no guard evaluation (``torch.compile`` checks
    its guards on every call).  As with ``jax.jit``, what the energy reads from Python (numbers, branches,
    which tensors it closes over) is fixed when its shape is first seen; the values of tensors it closes over
    (a network's parameters) are read at each call, so in-place updates such as optimizer steps are seen.
    An energy that cannot be traced as one graph (Python branches on x's values, ``.item()``) falls back to
    ``torch.compile``, which handles graph breaks, with a ``SamplingWarning`` naming the reason.
    """

    def total(x: Tensor) -> tuple[Tensor, Tensor]:
        out = energy(x)
        return out.sum(), out.detach()

    grad_and_value = torch.func.grad(total, has_aux=True)
    compiled: dict[tuple, Callable[[Tensor], tuple[Tensor, Tensor]]] = {}

    def build(x: Tensor) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
        from torch.fx.experimental.proxy_tensor import make_fx

        try:
            with torch.no_grad():
                graph = make_fx(grad_and_value, tracing_mode="fake", _allow_non_fake_inputs=True)(x)
        except Exception as error:  # any failure to trace one graph: torch.compile copes with graph breaks
            reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            warnings.warn(f"compile_gradient: the energy cannot be traced as one graph ({reason}); using "
                          "torch.compile, which allows graph breaks but checks guards on every call",
                          SamplingWarning, stacklevel=4)
            return torch.compile(grad_and_value, dynamic=False)
        with torch.no_grad():  # an inference graph: no autograd bookkeeping in the calls
            kernel = torch._inductor.compile(graph, [x])

        def run(x: Tensor) -> tuple[Tensor, Tensor]:
            with torch.no_grad():
                grad, value = kernel(x)
            return grad, value

        return run

    def call(x: Tensor) -> tuple[Tensor, Tensor]:
        key = (x.shape, x.dtype, x.device)
        fn = compiled.get(key)
        if fn is None:
            fn = compiled[key] = build(x)
        return fn(x)

    return call


def initial_inverse_mass(force: Tensor, dense: bool) -> Tensor:
    """Metric guess before any draw (as nutpie does): M⁻¹ᵢ = 1 / RMS over chains of ∂U/∂xᵢ at the
    initial states — exactly σᵢ² for a Gaussian with variances σᵢ² started at unit scale.  Entries
    that are not finite and positive (zero gradient) fall back to 1; the rest is clipped to
    [1e-8, 1e8].  Diagonal, or its diagonal matrix for a dense metric; Stan's windows refine it."""
    rms = force.detach().to(torch.float64).square().mean(0).sqrt()
    inverse = torch.where(torch.isfinite(rms) & (rms > 0), 1.0 / rms, torch.ones_like(rms)).clamp(1e-8, 1e8)
    inverse = inverse.to(force.dtype)
    return torch.diag(inverse) if dense else inverse


class NegatedLogProb:
    """U(x) = −log_prob(x) (or, for a gradient function, −∇log_prob(x)).  Negation is exact in
    floating point, so a sampler given ``log_prob=f`` makes the same draws as one given
    ``energy=lambda x: -f(x)`` with the same generator."""

    def __init__(self, fn: LogProbFn, what: str = "log_prob") -> None:
        self.fn = fn
        self.what = what

    def __call__(self, x: Tensor) -> Tensor:
        out = self.fn(x)
        if not isinstance(out, Tensor):
            raise TypeError(f"{self.what} must return a tensor, got {type(out).__name__}")
        return -out


@dataclass
class ChainState:
    """Per-chain position (batch, D), potential energy (batch,) and cached force ∂U/∂q (batch, D)."""

    q: Tensor
    potential: Tensor
    force: Tensor


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_int(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


class MCMCSampler:
    """Base class of HMC and NUTS: subclasses implement ``_transition(state, step_size, ...)``.

    The target is given by exactly one of
    - ``energy``: x (chains, *state_shape) -> U(x) (chains,), the density being π(x) ∝ exp(−U(x));
    - ``log_prob``: x -> log π(x) (chains,) up to a constant; the sampler uses U = −log_prob.
    Both must be differentiable torch functions of x, vectorised over chains (each row is a chain).
    ``gradient`` (optional) is the derivative of whichever of the two is given, x -> ∂U/∂x or
    ∂log π/∂x (chains, *state_shape); without it autograd differentiates the function, eagerly or, with
    ``compile_gradient=True``, through ``torch.func.grad`` traced and compiled by TorchInductor once per batch shape
    (:func:`compiled_grad_and_value`: the function must then be traceable; the first evaluation compiles, its
    time is ``result.compile_seconds``).  A log-density
    passed as ``energy`` makes U fall without bound: warmup stops with a ``ValueError`` naming
    ``log_prob=``.  A function that does not depend on x, or is not finite at every initial state,
    is rejected before sampling.
    """

    name = "MCMC"

    def __init__(
        self,
        energy: EnergyFn | None = None,
        *,
        log_prob: LogProbFn | None = None,
        step_size: float | None = None,
        mass: str | Tensor = "identity",
        kinetic: str = "gaussian",
        speed_of_light: float = 1.0,
        target_accept: float = 0.8,
        adapt_step_size: bool = True,
        adapt_mass: bool | None = None,
        gradient: EnergyFn | None = None,
        max_energy_error: float = 1000.0,
        init_buffer: int | None = None,
        term_buffer: int | None = None,
        base_window: int | None = None,
        initial_mass_from_gradient: bool = True,
        compile_gradient: bool = False,
    ) -> None:
        if (energy is None) == (log_prob is None):
            raise TypeError(
                "pass exactly one of energy= (U(x), the density is exp(-U)) and log_prob= (log p(x) up to a constant), "
                + ("got both" if energy is not None else "got neither")
            )
        target = "energy" if energy is not None else "log_prob"
        fn = energy if energy is not None else log_prob
        if not callable(fn):
            raise TypeError(f"{target} must be a callable x -> {target} per chain, got {type(fn).__name__}")
        if gradient is not None and not callable(gradient):
            raise TypeError(f"gradient must be a callable x -> d{target}/dx or None, got {type(gradient).__name__}")
        if not isinstance(compile_gradient, bool):
            raise TypeError(f"compile_gradient must be True or False, got {compile_gradient!r}")
        if compile_gradient and gradient is not None:
            raise ValueError("pass either gradient= or compile_gradient=True: the compiled gradient replaces autograd, "
                             "not a given gradient")
        if step_size is not None:
            _check_positive("step_size", step_size)
        if isinstance(target_accept, bool) or not isinstance(target_accept, (int, float)) or not 0.0 < target_accept < 1.0:
            raise ValueError(f"target_accept must lie in the open interval (0, 1), got {target_accept!r}")
        if isinstance(mass, str) and mass not in MASS_STRUCTURES:
            raise ValueError(f"unknown mass {mass!r}; choose one of {list(MASS_STRUCTURES)} or pass a tensor M")
        if not isinstance(mass, (str, Tensor)):
            raise TypeError(f"mass must be one of {list(MASS_STRUCTURES)} or a tensor, got {type(mass).__name__}")
        if kinetic not in KINETIC_KINDS:
            raise ValueError(f"unknown kinetic energy {kinetic!r}; choose one of {list(KINETIC_KINDS)}")
        if kinetic == "relativistic":
            _check_positive("speed_of_light", speed_of_light)
        _check_positive("max_energy_error", max_energy_error)
        self.target = target  # which of energy= / log_prob= was given (named in errors)
        self.log_prob = log_prob
        self.energy = energy if energy is not None else NegatedLogProb(log_prob)
        self.gradient = gradient if gradient is None or log_prob is None else NegatedLogProb(gradient, "gradient")
        self.step_size = step_size
        self.mass = mass
        self.kinetic_kind = kinetic
        self.speed_of_light = float(speed_of_light)
        self.target_accept = float(target_accept)
        self.adapt_step_size = adapt_step_size
        self.adapt_mass = (isinstance(mass, str) and mass != "identity") if adapt_mass is None else adapt_mass
        if self.adapt_mass and not (isinstance(mass, str) and mass != "identity"):
            raise ValueError("adapt_mass=True needs mass='diag' or mass='dense'")
        self.max_energy_error = float(max_energy_error)
        for name, value in (("init_buffer", init_buffer), ("term_buffer", term_buffer), ("base_window", base_window)):
            if value is not None:
                _check_int(name, value, 1 if name == "base_window" else 0)
        self.buffers = (init_buffer, term_buffer, base_window)
        self.initial_mass_from_gradient = bool(initial_mass_from_gradient)
        self.compile_gradient = compile_gradient
        # traced and compiled on first use, once per batch shape, then reused by every run of this sampler
        self._compiled_gradient = compiled_grad_and_value(self.energy) if compile_gradient else None

    # ------------------------------------------------------------------ set-up
    def _make_kinetic(self, dim: int, dtype: torch.dtype, device: torch.device) -> GaussianKinetic:
        structure = self.mass if isinstance(self.mass, str) else ("diag" if self.mass.dim() == 1 else "dense")
        if self.kinetic_kind == "relativistic":
            kinetic = RelativisticKinetic(dim, structure, dtype, device, self.speed_of_light)
        else:
            kinetic = GaussianKinetic(dim, structure, dtype, device)
        if isinstance(self.mass, Tensor):
            kinetic.set_inverse_mass(check_mass_matrix(self.mass.to(device=device, dtype=dtype), dim))
        return kinetic

    def _prepare(self, initial: Tensor, potential_scale: Tensor | None = None) -> tuple[Potential, ChainState]:
        if not isinstance(initial, Tensor):
            raise TypeError(f"initial must be a tensor of shape (chains, *state_shape), got {type(initial).__name__}")
        if initial.dim() < 1 or initial.shape[0] < 1:
            raise ValueError(f"initial must have shape (chains, *state_shape) with chains >= 1, got {tuple(initial.shape)}")
        if not initial.is_floating_point():
            raise TypeError(f"initial must be a floating-point tensor, got dtype {initial.dtype}")
        if not bool(torch.isfinite(initial).all()):
            raise ValueError("initial state contains non-finite values")
        chains = initial.shape[0]
        state_shape = tuple(initial.shape[1:])
        potential = Potential(self.energy, state_shape, self.gradient, potential_scale, self._compiled_gradient)
        q = initial.detach().clone().reshape(chains, -1)
        target = self.target
        with torch.enable_grad():
            x = q.reshape(chains, *state_shape).requires_grad_(True)
            out = self.energy(x)
            if not isinstance(out, Tensor):
                raise TypeError(f"{target} must return a tensor, got {type(out).__name__}")
            if tuple(out.shape) != (chains,):
                raise ValueError(
                    f"{target} must return one scalar per chain: expected shape ({chains},) for initial of shape "
                    f"{tuple(initial.shape)}, got {tuple(out.shape)}"
                )
            if self.gradient is None:
                grad = torch.autograd.grad(out.sum(), x, allow_unused=True)[0] if out.requires_grad else None
                if grad is None:
                    raise ValueError(
                        f"{target} does not depend on its input x: its value at the initial states carries no gradient "
                        "with respect to x (a constant, or x detached or converted to a number inside the function). "
                        "The sampler needs its derivative; write the function in differentiable torch operations of x, "
                        "or pass gradient=."
                    )
        value, grad = potential(q)
        bad = ~(torch.isfinite(value) & torch.isfinite(grad).all(-1))
        if bool(bad.all()):
            raise ValueError(
                f"{target} or its gradient is not finite at the initial state of every chain (all {chains}): the "
                "initial values lie outside the target's support (constrained parameters need an unconstrained "
                "parameterisation, e.g. log of a scale) or the function returns NaN/inf everywhere"
            )
        if bool(bad.any()):
            idx = torch.nonzero(bad).flatten().tolist()[:10]
            raise ValueError(f"{target} or its gradient is not finite at the initial state of chains {idx}")
        return potential, ChainState(q, value, grad)

    # ------------------------------------------------------------------ shared helpers
    def _leapfrog(self, state_q: Tensor, p: Tensor, force: Tensor, h, potential: Potential, kinetic) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        q1, p1, f1 = leapfrog_step(state_q, p, h, potential.force, kinetic.velocity, force)
        return q1, p1, f1, potential.last_value

    def _find_reasonable_step_size(self, state: ChainState, step_size: float, potential: Potential, kinetic,
                                   generator: torch.Generator | None, scale_rows: Tensor | None = None) -> float:
        """Stan's heuristic: double/halve ε until the pooled one-step acceptance crosses 0.8."""
        direction = 0
        for _ in range(60):
            p = kinetic.sample(state.q.shape[0], generator)
            h0 = state.potential + kinetic.energy(p)
            q1, p1, _, u1 = self._leapfrog(state.q, p, state.force, step_size, potential, kinetic)
            delta = h0 - (u1 + kinetic.energy(p1))
            log_accept = float(torch.logsumexp(torch.nan_to_num(delta, nan=-math.inf).clamp(max=0.0), 0) - math.log(delta.numel()))
            new_direction = 1 if log_accept > LOG_08 else -1
            if direction and new_direction != direction:
                break
            direction = new_direction
            step_size = step_size * 2.0 if direction == 1 else step_size * 0.5
            if step_size > 1e7 or step_size < 1e-10:
                break
        return step_size

    def _transition(self, state: ChainState, step_size: Tensor, potential: Potential, kinetic,
                    generator: torch.Generator | None, warmup: bool) -> tuple[ChainState, dict[str, Tensor]]:
        raise NotImplementedError

    # ------------------------------------------------------------------ main loop
    def sample(
        self,
        initial: Tensor,
        num_samples: int = 1000,
        num_warmup: int | None = None,
        generator: torch.Generator | None = None,
        progress: bool | None = None,
        *,
        save_warmup: bool = False,
        warn: bool = True,
    ) -> SamplingResult:
        """Run ``num_warmup`` adaptation iterations then draw ``num_samples`` per chain.

        ``initial``: (chains, *state_shape).  Returns a ``SamplingResult`` with samples
        (chains, num_samples, *state_shape).  ``num_warmup=None`` picks :func:`default_num_warmup` for the
        number of chains (Stan's 1000 for one chain, shorter when adaptation pools many chains).
        ``progress``: a tqdm bar on stderr (``None``: only when stderr is a terminal).  ``save_warmup``:
        keep the warmup iterations in ``result.warmup``.  ``warn``: run the end-of-run checks
        (``hnn.sampling.checks``: divergences, R̂, ESS, tree depth, E-BFMI) and issue each failed one
        once as a ``SamplingWarning``; their cost grows like N log N in the number N of draws per
        coordinate (``result.check_seconds``).

        Raises ``ValueError`` when U falls without bound during warmup (``checks.UnboundedWatch``):
        the usual cause is a log-density passed as ``energy=`` instead of ``log_prob=``.
        """
        _check_int("num_samples", num_samples, 1)
        if num_warmup is None:  # a malformed ``initial`` gets its own error from _prepare below
            chains = initial.shape[0] if isinstance(initial, Tensor) and initial.ndim >= 1 else 1
            num_warmup = default_num_warmup(max(chains, 1))
        _check_int("num_warmup", num_warmup, 0)
        for name, flag in (("save_warmup", save_warmup), ("warn", warn)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        show = progress_enabled(progress)
        with torch.inference_mode(False), torch.no_grad():
            if isinstance(initial, Tensor) and initial.is_inference():
                initial = initial.clone()
            result = self._run(initial, num_samples, num_warmup, generator, show, save_warmup)
        if warn:
            start = time.perf_counter()
            messages = result.check()
            result.check_seconds = time.perf_counter() - start
            for message in messages:
                warnings.warn(message, SamplingWarning, stacklevel=2)
        return result

    def _run(self, initial: Tensor, num_samples: int, num_warmup: int, generator, progress: bool,
             save_warmup: bool = False) -> SamplingResult:
        potential, state = self._prepare(initial)
        chains, dim = state.q.shape
        dtype, device = state.q.dtype, state.q.device
        kinetic = self._make_kinetic(dim, dtype, device)
        return self._loop(state, potential, kinetic, num_samples, num_warmup, generator, progress, initial.shape[1:],
                          save_warmup)

    def _buffers(self, chains: int) -> tuple[int, int, int]:
        """Stan's (init, terminal, first slow window) = (75, 50, 25) for one chain.  Windows pool all
        chains, so with C chains a window of 25/√C iterations holds ~25√C draws; the init and terminal
        buffers (reaching the typical set, settling ε) shrink likewise, to at least (15, 25, 5)."""
        shrink = math.sqrt(max(chains, 1))
        defaults = (max(15, round(75 / shrink)), max(25, round(50 / shrink)), max(5, round(25 / shrink)))
        return tuple(d if v is None else v for v, d in zip(self.buffers, defaults))

    def _initial_step_size(self, state, potential, kinetic, generator) -> float:
        if self.step_size is not None and not self.adapt_step_size:
            return self.step_size
        start = self.step_size if self.step_size is not None else 1.0
        if not self.adapt_step_size:
            return start
        return self._find_reasonable_step_size(state, start, potential, kinetic, generator)

    def _loop(self, state: ChainState, potential: Potential, kinetic, num_samples: int, num_warmup: int,
              generator, progress: bool, state_shape, save_warmup: bool = False) -> SamplingResult:
        t_start = time.perf_counter()
        bar = make_progress_bar(progress, self.name, num_warmup, num_samples)
        try:
            return self._iterate(state, potential, kinetic, num_samples, num_warmup, generator, bar, state_shape,
                                 save_warmup, t_start)
        finally:
            if bar is not None:
                bar.close()

    def _iterate(self, state: ChainState, potential: Potential, kinetic, num_samples: int, num_warmup: int,
                 generator, bar, state_shape, save_warmup: bool, t_start: float) -> SamplingResult:
        chains, dim = state.q.shape
        dtype, device = state.q.dtype, state.q.device
        adapt_step = self.adapt_step_size and num_warmup > 0
        if self.adapt_mass and num_warmup > 0 and self.initial_mass_from_gradient:
            kinetic.set_inverse_mass(initial_inverse_mass(state.force, kinetic.structure == "dense"))
        if adapt_step:
            eps0 = self._initial_step_size(state, potential, kinetic, generator)
        else:
            eps0 = self.step_size if self.step_size is not None else 0.1
        step = torch.tensor(eps0, dtype=dtype, device=device)
        averager = DualAveraging(step, self.target_accept) if adapt_step else None
        schedule = WarmupSchedule.build(num_warmup, self.adapt_mass and num_warmup > 0, *self._buffers(chains))
        estimator = PooledCovariance(dim, kinetic.structure == "dense", dtype, device) if schedule.window_ends else None
        warmup_divergences = torch.zeros((), dtype=torch.long, device=device)
        watch = UnboundedWatch(self.energy, self.target, state.q, state.potential, state_shape)
        record = Recorder(chains, num_warmup, dim, dtype, device) if save_warmup else None
        for i in range(num_warmup):
            step_used = step
            state, stats = self._transition(state, step, potential, kinetic, generator, warmup=True)
            warmup_divergences += stats["divergent"].sum()
            problem = watch.check(state.q, state.potential, i + 1)
            if problem is not None:
                raise ValueError(problem)
            if record is not None:
                record.store(i, state, stats, step_used)
            if averager is not None:
                step = averager.update(stats["accept_prob"].mean())
            if estimator is not None and schedule.in_slow_window(i):
                estimator.update(state.q)
                if i in schedule.window_ends:
                    kinetic.set_inverse_mass(estimator.regularized())
                    estimator.reset()
                    if averager is not None:
                        eps = self._find_reasonable_step_size(state, float(step), potential, kinetic, generator)
                        step = torch.tensor(eps, dtype=dtype, device=device)
                        averager.restart(step)
            if bar is not None:
                bar.update(step, warmup_divergences)
        if averager is not None:
            step = averager.final_step_size
        if bar is not None:
            bar.start_sampling()
        warmup_calls = potential.calls
        t_warm = time.perf_counter()
        draws = Recorder(chains, num_samples, dim, dtype, device)
        for i in range(num_samples):
            state, stats = self._transition(state, step, potential, kinetic, generator, warmup=False)
            draws.store(i, state, stats, None)
            if bar is not None:
                bar.update(step, lambda: draws.divergent[:, : i + 1].sum())
        t_end = time.perf_counter()
        draws.fill_step_sizes(step)
        warmup = None
        if record is not None:
            warmup = record.as_warmup(state_shape)
        return SamplingResult(
            samples=draws.samples.reshape(chains, num_samples, *state_shape),
            potential_energy=draws.potential,
            accept_prob=draws.accept,
            divergent=draws.divergent,
            num_steps=draws.steps,
            step_size=step.detach().clone(),
            inverse_mass=None if kinetic.inverse_mass is None else kinetic.inverse_mass.clone(),
            num_grad_evals=potential.calls * chains,
            num_warmup_grad_evals=warmup_calls * chains,
            warmup_divergences=int(warmup_divergences),
            num_warmup=num_warmup,
            warmup_seconds=t_warm - t_start,
            sampling_seconds=t_end - t_warm,
            sampler=self.name,
            tree_depth=draws.depths if draws.has_depth else None,
            energy=draws.energy,
            step_sizes=draws.step_sizes,
            max_tree_depth=getattr(self, "max_tree_depth", None) if draws.has_depth else None,
            warmup=warmup,
            compile_seconds=potential.compile_seconds,
        )


def _as_numpy(t: Tensor):
    """A CPU tensor's NumPy view (detached first if it needs a gradient)."""
    return t.detach().numpy() if t.requires_grad else t.numpy()


class Recorder:
    """Per-iteration storage of a run's states and transition statistics (chains, iterations)."""

    def __init__(self, chains: int, iterations: int, dim: int, dtype: torch.dtype, device: torch.device) -> None:
        self.samples = torch.empty(chains, iterations, dim, dtype=dtype, device=device)
        self.potential = torch.empty(chains, iterations, dtype=dtype, device=device)
        self.energy = torch.empty(chains, iterations, dtype=dtype, device=device)
        self.accept = torch.empty(chains, iterations, dtype=dtype, device=device)
        self.divergent = torch.empty(chains, iterations, dtype=torch.bool, device=device)
        self.steps = torch.empty(chains, iterations, dtype=torch.long, device=device)
        self.depths = torch.empty(chains, iterations, dtype=torch.long, device=device)
        self.step_sizes = torch.empty(chains, iterations, dtype=dtype, device=device)
        self.has_depth = False
        self.has_step_sizes = False
        # on the CPU, writes go through NumPy views of the same memory: seven torch index assignments cost
        # ~40 us per iteration, which one chain of a cheap target pays every few gradient evaluations
        names = ("samples", "potential", "energy", "accept", "divergent", "steps", "depths", "step_sizes")
        cpu = self.samples.device.type == "cpu"
        self._targets = {name: getattr(self, name).numpy() if cpu else getattr(self, name) for name in names}
        self._convert = _as_numpy if cpu else (lambda t: t)

    def store(self, i: int, state: ChainState, stats: dict[str, Tensor], step: Tensor | None) -> None:
        """Record iteration ``i``; the step size comes from the transition's statistics (HMC's jittered
        per-chain values) or, when given, ``step``; otherwise ``fill_step_sizes`` sets it afterwards."""
        targets, convert = self._targets, self._convert
        targets["samples"][:, i] = convert(state.q)
        targets["potential"][:, i] = convert(state.potential)
        targets["energy"][:, i] = convert(stats["energy"])
        targets["accept"][:, i] = convert(stats["accept_prob"])
        targets["divergent"][:, i] = convert(stats["divergent"])
        targets["steps"][:, i] = convert(stats["num_steps"])
        if "tree_depth" in stats:
            targets["depths"][:, i] = convert(stats["tree_depth"])
            self.has_depth = True
        if "step_size" in stats:
            targets["step_sizes"][:, i] = convert(stats["step_size"])
            self.has_step_sizes = True
        elif step is not None:
            targets["step_sizes"][:, i] = convert(step)
            self.has_step_sizes = True

    def fill_step_sizes(self, step: Tensor | None) -> None:
        if not self.has_step_sizes and step is not None:
            self.step_sizes.copy_(step.expand_as(self.step_sizes))

    def as_warmup(self, state_shape) -> WarmupDraws:
        chains, iterations = self.potential.shape
        return WarmupDraws(
            samples=self.samples.reshape(chains, iterations, *state_shape),
            potential_energy=self.potential,
            energy=self.energy,
            accept_prob=self.accept,
            divergent=self.divergent,
            num_steps=self.steps,
            step_sizes=self.step_sizes,
            tree_depth=self.depths if self.has_depth else None,
        )
