"""Physics metrics of generated trajectories (the Hamiltonian-GAN evaluation).

A trajectory set is a tensor ``[N, T, 2n]`` of phase-space states laid out [q, p] and sampled every ``dt``
(for the pendulum q is an angle). Every metric computes in float64 and returns python floats.

- :func:`energy_w1`: the exact Wasserstein-1 distance of two 1-D empirical distributions,
  W₁(a, b) = ∫ |F_a(x) − F_b(x)| dx, evaluated over the merged sorted support (F the empirical CDFs; the
  samples may have different sizes).
- :func:`energy_drift`: mean over trajectories of std_t H / |mean_t H| for energies ``[N, T]`` (population
  standard deviation, ddof = 0); 0 for conserved energies.
- :func:`one_step_flow`: the exact flow φ_dt of an ``hnn.systems`` system (``system.trajectory`` in float64:
  closed form for the springs, dopri5 at rtol = atol = 1e-12 for the others).
- :func:`physics_residual`: the relative one-step residual
  R = mean_{n,k} ‖x_{n,k+1} − φ_dt(x_{n,k})‖₂ / mean_{n,k} ‖φ_dt(x_{n,k}) − x_{n,k}‖₂,
  0 for trajectories of the true flow and 1 for a sequence that stands still. Differences of the periodic
  coordinates (``system.periodic``, one flag per q; none when the system has no such attribute) are wrapped to
  (−π, π] as atan2(sin d, cos d) first, so wrapped and unwrapped angles score alike.
- :func:`mmd`: the unbiased squared maximum mean discrepancy of two samples ``[N, ...]`` and ``[M, ...]``
  (flattened per sample) with the RBF kernel k(a, b) = exp(−‖a − b‖² / (2σ²)),
  MMD²_u = Σ_{i≠j} k(x_i, x_j) / (N(N−1)) + Σ_{i≠j} k(y_i, y_j) / (M(M−1)) − 2 Σ_{i,j} k(x_i, y_j) / (NM),
  σ the median of the pairwise distances of the pooled sample (i < j; the mean of the two middle values when
  their number is even), and the permutation p-value p = (1 + #{b : MMD²_b ≥ MMD²_u}) / (1 + P) over P random
  relabellings of the pooled sample (``torch.randperm`` of N + M, drawn one after the other from ``generator``;
  its first N entries form the first sample). All relabellings are scored from the one pooled kernel matrix K
  (zero diagonal) with a label matrix S ∈ {0, 1}^{(N+M)×P}: with r = K1 and u = K s per column s,
  Σ_XX = sᵀu, Σ_XY = sᵀr − sᵀu, Σ_YY = 1ᵀr − 2 sᵀr + sᵀu, so P relabellings cost one matrix product.
- :func:`energy_report`: the above for a generated set against a held-out real set, next to the same numbers of
  the real set against a second, disjoint real set (the floor that sampling noise alone reaches).
- :func:`gan_report`: the protocol of a trained :class:`hnn.models.HamiltonianGAN` — :func:`energy_report` on its
  generated sequences, plus the residual and drift with the latent time step changed at test time (×½, ×2, −1).
- :func:`canonical_prior_report`: the Hamiltonian GAN with its latent initial state drawn from the canonical
  ensemble of its own learned H_θ, ρ(x₀) ∝ exp(−H_θ(x₀)/T) on a box, instead of the noise map; the true energy of
  the generated motion against T.

A GAN is judged as it generates in eval mode — with the generator's weight average when it keeps one
(``ema_decay > 0``) — whatever mode it is passed in: :func:`generated_states`, :func:`validation_metrics`,
:func:`gan_report` and :func:`canonical_prior_report` switch it to eval mode for the call and restore its mode after.

Contract: inputs are torch tensors of a real dtype (not bool); a non-tensor or a non-real dtype is a
``TypeError``; a wrong shape, a size below the minimum (2 samples for the MMD, 2 times per trajectory), or a
non-finite value is a ``ValueError`` that names the argument and the problem.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import torch
from torch import Tensor

from hnn.validate import check_int, check_positive

__all__ = ["MMDResult", "energy_w1", "energy_drift", "one_step_flow", "physics_residual", "mmd", "energy_report",
           "generated_states", "validation_metrics", "gan_report", "canonical_prior_report"]

# Upper bound on the entries of one [N + M, chunk] label block (and of its product with the kernel), in elements.
_LABEL_BLOCK_ELEMENTS = 1 << 23


@dataclass(frozen=True)
class MMDResult:
    """What :func:`mmd` measured: the unbiased MMD², its permutation p-value, the RBF bandwidth σ and P."""

    mmd2: float
    p_value: float
    bandwidth: float
    permutations: int


# ------------------------------------------------------------------------------------------------- input checks
def _as_float64(name: str, x: Any, ndim: int | None = None, min_ndim: int | None = None) -> Tensor:
    """``x`` as a float64 tensor (detached); TypeError for a non-tensor or non-real dtype, ValueError for a wrong
    number of dimensions, an empty tensor or non-finite entries."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name} must have a real (floating or integer) dtype, got {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(x.shape)}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    x = x.detach().to(torch.float64)
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise ValueError(f"{name} must contain only finite values, got {bad} non-finite of {x.numel()}")
    return x


def _check_trajectories(name: str, x: Any, dim: int | None = None) -> Tensor:
    """A float64 trajectory set ``[N, T, 2n]`` with T >= 2 (and 2n = ``dim`` when given)."""
    x = _as_float64(name, x, ndim=3)
    if x.shape[1] < 2:
        raise ValueError(f"{name} must have at least 2 times per trajectory ([N, T, 2n], T >= 2), "
                         f"got shape {tuple(x.shape)}")
    if dim is not None and x.shape[-1] != dim:
        raise ValueError(f"{name} must have state dimension {dim} (the system's), got shape {tuple(x.shape)}")
    if x.shape[-1] % 2:
        raise ValueError(f"{name} must have an even state dimension 2n (layout [q, p]), got shape {tuple(x.shape)}")
    return x


def _periodic_mask(system: Any, dim: int, device: torch.device) -> Tensor:
    """Boolean ``[dim]``: True at the periodic coordinates q_i (``system.periodic``; none when absent)."""
    n = dim // 2
    flags = getattr(system, "periodic", None)
    flags = (False,) * n if flags is None else tuple(bool(f) for f in flags)
    if len(flags) != n:
        raise ValueError(f"system.periodic must have one flag per coordinate q ({n}), got {len(flags)}")
    return torch.tensor(flags + (False,) * n, device=device)


# ------------------------------------------------------------------------------------------------------ energies
def energy_w1(a: Tensor, b: Tensor) -> float:
    """Exact Wasserstein-1 distance ∫ |F_a − F_b| dx between the empirical distributions of 1-D samples."""
    a = _as_float64("a", a, ndim=1)
    b = _as_float64("b", b, ndim=1)
    a_sorted, b_sorted = torch.sort(a).values, torch.sort(b).values
    support = torch.sort(torch.cat([a_sorted, b_sorted])).values
    widths = torch.diff(support)
    # The CDFs are constant on each [support_i, support_{i+1}); their value there is read at the left end.
    cdf_a = torch.searchsorted(a_sorted, support[:-1], right=True).to(torch.float64) / a.numel()
    cdf_b = torch.searchsorted(b_sorted, support[:-1], right=True).to(torch.float64) / b.numel()
    return float(torch.sum(torch.abs(cdf_a - cdf_b) * widths))


def energy_drift(energies: Tensor) -> float:
    """Mean over trajectories of std_t H / |mean_t H| for ``energies`` ``[N, T]`` (population std, ddof = 0).

    Raises ValueError when T < 2 or when a trajectory's mean energy is 0 (the relative drift is undefined).
    """
    e = _as_float64("energies", energies, ndim=2)
    if e.shape[1] < 2:
        raise ValueError(f"energies must have at least 2 times per trajectory ([N, T], T >= 2), "
                         f"got shape {tuple(e.shape)}")
    mean = e.mean(dim=1)
    zero = torch.nonzero(mean == 0.0).flatten()
    if zero.numel():
        shown = ", ".join(str(int(i)) for i in zero[:5]) + (", ..." if zero.numel() > 5 else "")
        raise ValueError(f"energies: the mean energy of {zero.numel()} trajectory(ies) is 0 (rows {shown}); "
                         "the relative drift std/|mean| is undefined")
    return float((e.std(dim=1, correction=0) / mean.abs()).mean())


# --------------------------------------------------------------------------------------------------- the flow
def one_step_flow(system: Any, dt: float) -> Callable[[Tensor], Tensor]:
    """The exact flow φ_dt of ``system``: a function from states ``[..., 2n]`` to float64 states ``[..., 2n]``.

    φ_dt(x) = ``system.trajectory(x, t)[-1]`` with t = [0, dt] in float64 (closed form for the springs, dopri5 at
    rtol = atol = 1e-12 for the others), without a graph.
    """
    if not callable(getattr(system, "trajectory", None)):
        raise TypeError(f"system must have a trajectory(x0, t) method (an hnn.systems system), "
                        f"got {type(system).__name__}")
    dt = check_positive("dt", dt)

    def flow(x: Tensor) -> Tensor:
        x = _as_float64("x", x, min_ndim=1)
        # The times as a float64 tensor: a list would become float32 (the default dtype), so dt = 0.1 would be off
        # by 1.5e-9.
        t = torch.tensor([0.0, dt], dtype=torch.float64, device=x.device)
        with torch.no_grad():
            return system.trajectory(x, t)[-1].to(torch.float64)

    return flow


def physics_residual(x: Tensor, system: Any, dt: float) -> float:
    """Relative one-step residual of trajectories ``x`` ``[N, T, 2n]`` sampled every ``dt`` (module docstring).

    0 for the true flow, 1 for states that stand still; periodic differences are wrapped to (−π, π].
    Raises ValueError when the flow moves no state at all (the denominator is 0).
    """
    flow = one_step_flow(system, dt)
    x = _check_trajectories("x", x, dim=getattr(system, "dim", None))
    dim = x.shape[-1]
    mask = _periodic_mask(system, dim, x.device)
    start = x[:, :-1].reshape(-1, dim)
    target = x[:, 1:].reshape(-1, dim)
    moved = flow(start)
    if not bool(torch.isfinite(moved).all()):
        raise ValueError("physics_residual: the reference flow produced non-finite states from x")

    def wrapped(d: Tensor) -> Tensor:
        return torch.where(mask, torch.atan2(torch.sin(d), torch.cos(d)), d)

    error = torch.linalg.vector_norm(wrapped(target - moved), dim=-1).mean()
    step = torch.linalg.vector_norm(wrapped(moved - start), dim=-1).mean()
    if float(step) == 0.0:
        raise ValueError("physics_residual: the flow moves none of the states of x over dt "
                         "(all at rest), so the relative residual is undefined")
    return float(error / step)


# ------------------------------------------------------------------------------------------------------ the MMD
def _median_bandwidth(sq_dist: Tensor) -> float:
    """Median of the pairwise distances i < j from the ``[L, L]`` squared distances (mean of the middle two)."""
    values = sq_dist[torch.ones_like(sq_dist, dtype=torch.bool).triu_(1)]
    count = values.numel()
    low = float(torch.kthvalue(values, (count + 1) // 2).values)
    high = float(torch.kthvalue(values, count // 2 + 1).values)
    return 0.5 * (math.sqrt(low) + math.sqrt(high))


def _rbf_kernel(pooled: Tensor) -> tuple[Tensor, float]:
    """The RBF kernel matrix ``[L, L]`` of the rows of ``pooled`` with a zero diagonal, and its median bandwidth."""
    z = pooled - pooled.mean(dim=0)  # centring keeps the expansion ‖a‖² + ‖b‖² − 2a·b accurate
    sq = (z * z).sum(dim=1)
    kernel = torch.addmm(sq[:, None] + sq[None, :], z, z.T, alpha=-2.0).clamp_min_(0.0)
    kernel.fill_diagonal_(0.0)
    sigma = _median_bandwidth(kernel)
    if sigma == 0.0:
        raise ValueError("mmd: the median pairwise distance of the pooled sample is 0 (at least half of the pairs "
                         "of samples coincide), so the RBF bandwidth is undefined")
    kernel.mul_(-0.5 / sigma**2).exp_().fill_diagonal_(0.0)
    return kernel, sigma


def _permutation_mmd2(kernel: Tensor, n: int, labels: Tensor) -> Tensor:
    """Unbiased MMD² ``[P]`` of each labelling (column of ``labels`` ``[L, P]``, 1 = first sample, n ones) from
    the pooled kernel matrix ``kernel`` ``[L, L]`` with a zero diagonal (module docstring)."""
    m = kernel.shape[0] - n
    row = kernel.sum(dim=1)
    total = row.sum()
    within_x = (labels * (kernel @ labels)).sum(dim=0)  # sᵀ K s
    x_rows = row @ labels  # sᵀ K 1 = Σ_XX + Σ_XY
    cross = x_rows - within_x
    within_y = total - 2.0 * x_rows + within_x
    return within_x / (n * (n - 1)) + within_y / (m * (m - 1)) - 2.0 * cross / (n * m)


def mmd(x: Tensor, y: Tensor, permutations: int = 500, generator: torch.Generator | None = None) -> MMDResult:
    """Unbiased RBF-kernel MMD² of ``x`` ``[N, ...]`` and ``y`` ``[M, ...]`` with its permutation p-value.

    Samples are flattened to vectors; σ is the median heuristic of the pooled sample; the p-value uses
    ``permutations`` relabellings drawn from ``generator`` (the global generator when None), so a seeded generator
    makes the result reproducible. Needs N, M >= 2 and equal feature sizes.
    """
    x = _as_float64("x", x, min_ndim=1)
    y = _as_float64("y", y, min_ndim=1)
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"mmd needs at least 2 samples in each of x and y, got {n} and {m}")
    x, y = x.reshape(n, -1), y.reshape(m, -1)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same feature size per sample, got {x.shape[1]} "
                         f"(shape {tuple(x.shape)}) and {y.shape[1]} (shape {tuple(y.shape)})")
    permutations = check_int("permutations", permutations, minimum=1)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    kernel, sigma = _rbf_kernel(torch.cat([x, y]))
    size = n + m
    observed_labels = torch.zeros(size, 1, dtype=torch.float64, device=kernel.device)
    observed_labels[:n] = 1.0
    observed = float(_permutation_mmd2(kernel, n, observed_labels)[0])
    perm_device = generator.device if generator is not None else kernel.device
    chunk = max(1, _LABEL_BLOCK_ELEMENTS // size)
    exceed, done = 0, 0
    while done < permutations:
        count = min(chunk, permutations - done)
        perms = torch.stack([torch.randperm(size, generator=generator, device=perm_device) for _ in range(count)])
        labels = torch.zeros(size, count, dtype=torch.float64, device=kernel.device)
        labels.scatter_(0, perms[:, :n].T.to(kernel.device), 1.0)
        exceed += int((_permutation_mmd2(kernel, n, labels) >= observed).sum())
        done += count
    return MMDResult(mmd2=observed, p_value=(1 + exceed) / (1 + permutations), bandwidth=sigma,
                     permutations=permutations)


# ------------------------------------------------------------------------------------------------- the report
def energy_report(generated: Tensor, real: Tensor, real_reference: Tensor, system: Any, dt: float, *,
                  permutations: int = 500, generator: torch.Generator | None = None) -> dict[str, float]:
    """All metrics of ``generated`` against ``real`` next to their floors, ``real`` against ``real_reference``.

    All three sets are ``[N, T, 2n]`` (N may differ) sampled every ``dt``; ``real`` and ``real_reference``
    should be disjoint draws of the same distribution. Energies are the true ``system.hamiltonian`` of every
    state. Keys: ``energy_w1`` / ``energy_w1_floor`` (W₁ of all state energies, generated vs real / real vs
    real_reference), ``energy_drift`` / ``energy_drift_data`` (of generated / of real), ``physics_residual`` /
    ``physics_residual_data`` (same), ``mmd2``, ``mmd_p`` / ``mmd2_floor``, ``mmd_p_floor`` (:func:`mmd` on the
    flattened trajectories with ``permutations`` and ``generator``; angles are compared as given, so give all
    sets in the same convention, wrapped or not).
    """
    dim = getattr(system, "dim", None)
    generated = _check_trajectories("generated", generated, dim)
    real = _check_trajectories("real", real, dim)
    real_reference = _check_trajectories("real_reference", real_reference, dim)
    for name, other in (("generated", generated), ("real_reference", real_reference)):
        if other.shape[1:] != real.shape[1:]:
            raise ValueError(f"{name} must have the [T, 2n] of real, got shape {tuple(other.shape)} "
                             f"and {tuple(real.shape)}")

    def energies(traj: Tensor) -> Tensor:
        with torch.no_grad():
            return system.hamiltonian(traj).to(torch.float64)

    e_gen, e_real, e_ref = energies(generated), energies(real), energies(real_reference)
    fit = mmd(generated, real, permutations=permutations, generator=generator)
    floor = mmd(real, real_reference, permutations=permutations, generator=generator)
    return {
        "energy_w1": energy_w1(e_gen.flatten(), e_real.flatten()),
        "energy_w1_floor": energy_w1(e_real.flatten(), e_ref.flatten()),
        "energy_drift": energy_drift(e_gen),
        "energy_drift_data": energy_drift(e_real),
        "physics_residual": physics_residual(generated, system, dt),
        "physics_residual_data": physics_residual(real, system, dt),
        "mmd2": fit.mmd2,
        "mmd_p": fit.p_value,
        "mmd2_floor": floor.mmd2,
        "mmd_p_floor": floor.p_value,
    }


# ------------------------------------------------------------------------------------------------------ a GAN
_Report = TypeVar("_Report", bound=Callable[..., Any])


def _in_eval_mode(function: _Report) -> _Report:
    """Run ``function(model, ...)`` with ``model`` in eval mode (the module docstring), then restore its mode."""

    @functools.wraps(function)
    def judged(model: Any, *args: Any, **kwargs: Any) -> Any:
        was_training = getattr(model, "training", None)
        if was_training is None:
            return function(model, *args, **kwargs)
        model.eval()
        try:
            return function(model, *args, **kwargs)
        finally:
            model.train(was_training)

    return judged  # type: ignore[return-value]


@_in_eval_mode
def generated_states(model: Any, n: int, steps: int, seed: int = 0, data: Any = None) -> Tensor:
    """``n`` sequences of ``model`` (a :class:`hnn.models.HamiltonianGAN`) from noise drawn with a generator seeded
    with ``seed``, read back to float64 states ``[n, steps, 2n]`` on the CPU by ``model.read_state`` — or, for a
    GAN with a frame decoder, by :func:`hnn.evaluation.read_states` with the geometry and dt of ``data`` (a
    :class:`hnn.data.VideoDataModule`, required then)."""
    generator = torch.Generator().manual_seed(check_int("seed", seed))
    with torch.no_grad():
        y = model.generate(z=model.noise(check_int("n", n, minimum=2), generator), steps=steps)
        if getattr(model, "frames", False):
            return _read_frames(y, data)
        return model.read_state(y).detach().to(torch.float64).cpu()


def _read_frames(frames: Tensor, data: Any) -> Tensor:
    from hnn.evaluation.video import read_states

    if data is None or getattr(data, "spec", None) is None:
        raise TypeError("reading states off generated frames needs the video data module (its spec and dt): "
                        "pass data=")
    return read_states(frames.detach().cpu(), data.spec, data.dt)


def real_states(model: Any, data: Any, split: str) -> Tensor:
    """The ``split`` of ``data`` as the metrics see it: the stored states, or, for a GAN with a frame decoder, the
    states read off the split's rendered clips by the same probe as the generated ones (so every floor includes
    the probe's own error)."""
    if getattr(model, "frames", False):
        return _read_frames(data.clips(split), data)
    return data.trajectories(split)


@_in_eval_mode
def validation_metrics(model: Any, data: Any, n: int = 500, seed: int = 0) -> dict[str, float]:
    """Energy W₁ (the model-selection metric), energy drift and physics residual of :func:`generated_states`
    against the ``val`` split of ``data`` (a :class:`hnn.data.TrajectoryDataModule` or, for a frame decoder,
    :class:`hnn.data.VideoDataModule`: both sides read off frames), with its system's true H."""
    real = real_states(model, data, "val")
    states = generated_states(model, n, real.shape[1], seed, data=data)
    with torch.no_grad():
        e_gen, e_real = data.system.hamiltonian(states), data.system.hamiltonian(real)
    return {"energy_w1": energy_w1(e_gen.flatten(), e_real.flatten()), "energy_drift": energy_drift(e_gen),
            "physics_residual": physics_residual(states, data.system, data.dt)}


@_in_eval_mode
def gan_report(model: Any, data: Any, n: int = 2000, seed: int = 0, permutations: int = 500) -> dict[str, Any]:
    """The physics protocol of a trained :class:`hnn.models.HamiltonianGAN` on a :class:`hnn.data.TrajectoryDataModule`.

    ``n`` sequences are generated from noise drawn with a generator seeded with ``seed`` and read back to states by
    ``model.read_state`` — the same read-off the held-out ``test`` and ``reference`` splits go through
    (``model.observe`` then ``read_state``: angles wrapped to (−π, π]) — then :func:`energy_report`. The latent time
    step changed at test time from the same noise: ``residual_half_dt`` / ``residual_double_dt`` are the physics
    residuals of the sequences generated with dt·½ and dt·2 against the true flow over that changed step (the same
    orbits traced at the changed rate score as low as at dt); ``residual_reversed`` is the residual of the sequence
    generated with −dt, reversed in time, against the flow over dt (a time-reversible model's backward orbit, read
    forwards, is a forward trajectory); ``energy_drift_*`` the same for the drift. A recurrent motion model has no
    time step: those entries are None.

    A GAN with a frame decoder is read the same way on both sides by the analytic probe
    :func:`hnn.evaluation.read_states` with the geometry of ``data`` (a :class:`hnn.data.VideoDataModule`): the
    generated clips and the rendered ``test`` and ``reference`` clips, so every floor includes the probe's error.
    Such a report also holds the video metrics (:mod:`hnn.evaluation.video`): ``period_error`` /
    ``period_error_data`` (median |ω_dom/ω_E − 1| of :func:`~hnn.evaluation.period_match`, generated / test clips;
    ``period_scored`` the number of generated clips that librate and are scored) and the pixel-space
    ``frame_mmd2``, ``frame_mmd_p`` / ``frame_mmd2_floor``, ``frame_mmd_p_floor`` (:func:`~hnn.evaluation.frame_mmd`
    of 1 000 frames: generated vs test / test vs reference).
    """
    n = check_int("n", n, minimum=2)
    system, dt, steps = data.system, float(data.dt), int(data.steps)
    generator = torch.Generator().manual_seed(check_int("seed", seed))

    frames = bool(getattr(model, "frames", False))

    def read(y: Tensor, step: float = dt) -> Tensor:
        return _read_generated(model, data, y, step)

    def energies(states: Tensor) -> Tensor:
        with torch.no_grad():
            return system.hamiltonian(states).to(torch.float64)

    with torch.no_grad():
        z = model.noise(n, generator)
        generated_clips = model.generate(z=z, steps=steps)
        states = read(generated_clips)
        if frames:
            real_clips, reference_clips = data.clips("test"), data.clips("reference")
            real, reference = read(real_clips), read(reference_clips)
        else:  # float64: the floors are not limited by float32
            real = read(model.observe(data.trajectories("test")))
            reference = read(model.observe(data.trajectories("reference")))
    report: dict[str, Any] = energy_report(states, real, reference, system, dt, permutations=permutations,
                                           generator=generator)
    report.update(n_generated=n, n_real=int(real.shape[0]), steps=steps, dt=dt)
    if frames:
        from hnn.evaluation.video import frame_mmd, period_match

        generated_period, real_period = period_match(states, system, dt), period_match(real, system, dt)
        fit = frame_mmd(generated_clips.detach().cpu(), real_clips, permutations=permutations, generator=generator)
        floor = frame_mmd(real_clips, reference_clips, permutations=permutations, generator=generator)
        report.update(period_error=generated_period["period_error_median"],
                      period_error_data=real_period["period_error_median"],
                      period_scored=generated_period["n_scored"], frame_mmd2=fit.mmd2, frame_mmd_p=fit.p_value,
                      frame_mmd2_floor=floor.mmd2, frame_mmd_p_floor=floor.p_value)
    for key in ("residual_half_dt", "residual_double_dt", "residual_reversed", "energy_drift_half_dt",
                "energy_drift_double_dt", "energy_drift_reversed"):
        report[key] = None
    if getattr(model, "recurrent", False):
        return report
    with torch.no_grad():
        for name, factor in (("half_dt", 0.5), ("double_dt", 2.0)):
            changed = read(model.generate(z=z, steps=steps, dt=dt * factor), dt * factor)
            report[f"residual_{name}"] = physics_residual(changed, system, dt * factor)
            report[f"energy_drift_{name}"] = energy_drift(energies(changed))
        backward = read(model.generate(z=z, steps=steps, dt=-dt).flip(1))
        report["residual_reversed"] = physics_residual(backward, system, dt)
        report["energy_drift_reversed"] = energy_drift(energies(backward))
    return report


def _read_generated(model: Any, data: Any, y: Tensor, step: float) -> Tensor:
    """States [N, T, 2n] (float64) of generated observations: the analytic probe for clips, else ``read_state``."""
    if getattr(model, "frames", False):
        from hnn.evaluation.video import read_states

        return read_states(y.detach().cpu(), data.spec, abs(step))
    return model.read_state(y).detach().to(torch.float64)


@_in_eval_mode
def canonical_prior_report(model: Any, data: Any, temperatures: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0),
                           n: int = 500, seed: int = 0, box_samples: int = 2000, margin: float = 0.1,
                           num_warmup: int = 300, chains: int = 4, sampler: str = "nuts",
                           progress: Callable[[str], None] | None = None, **sampler_options: Any) -> dict[str, Any]:
    """The true energy of motion generated from latent initial states drawn from exp(−H_θ/T).

    H_θ is the GAN's own learned latent Hamiltonian (``model.motion_model.hamiltonian``; a twin without one is a
    ``TypeError``). A tanh-MLP H_θ is bounded, so exp(−H_θ/T) is improper on the whole latent space: it is
    restricted to the box B the noise map covers — per latent coordinate the range of N_θ(z) over
    max(``n``, ``box_samples``) noise draws, widened by ``margin`` × that range on each side; a pendulum's latent
    angle too, since H_θ is an MLP of the unwrapped angle, not periodic in it — and sampled by :func:`hnn.sampling.sample_canonical`
    (``sampler`` through its box bijection, ``chains`` chains, ``num_warmup`` warmup, ``sampler_options`` passed
    on, e.g. ``max_tree_depth``). Temperatures are relative to the
    learned energy scale T₀ = std of H_θ(N_θ(z)) over those noise draws (the scale the GAN matched to the data):
    T = τ·T₀ for each τ in ``temperatures``. Each ensemble's ``n`` starts are rolled out by the GAN's motion
    model and decoder and read back to states as in :func:`gan_report`; the true energy of a sequence is the
    system's H averaged over its steps. ``progress`` (optional) receives one line per temperature.

    Returns ``{"t0", "box_low", "box_high", "data": q, "noise_map": q, "rows": [...]}`` where each q is the
    quantiles (10, 50, 90 %), the mean and the list (``energies``) of the sequences' true energies (``data``: the
    ``test`` split; ``noise_map``: ``n`` sequences from noise) and each row holds ``tau``, ``temperature``, the same statistics of its sequences,
    ``learned_energy_mean`` (mean H_θ of its starts) and ``energy_drift``.
    """
    n = check_int("n", n, minimum=2)
    box_samples = check_int("box_samples", box_samples, minimum=2)
    if not temperatures or any(isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t)
                               or t <= 0 for t in temperatures):
        raise ValueError(f"temperatures must be finite numbers > 0, got {temperatures!r}")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < 10:
        raise ValueError(f"margin must be a number in [0, 10), got {margin!r}")
    motion = getattr(model, "motion_model", None)
    hamiltonian = getattr(motion, "hamiltonian", None)
    if not callable(hamiltonian):
        raise TypeError(f"the canonical prior needs a motion model with a learned Hamiltonian; "
                        f"{type(motion).__name__} has none")
    from hnn.sampling import sample_canonical

    system, dt, steps = data.system, float(data.dt), int(data.steps)
    generator = torch.Generator().manual_seed(check_int("seed", seed))
    weight = next(model.parameters())
    dim = int(motion.dim)
    with torch.no_grad():
        _, latent = model.generate(z=model.noise(max(n, box_samples), generator), steps=1, return_latent=True)
        starts = latent[:, 0].to(torch.float64)
        learned = hamiltonian(starts.to(weight.dtype)).to(torch.float64)
    t0 = float(learned.std())
    low, high = starts.amin(0), starts.amax(0)
    width = (high - low).clamp_min(1e-6)
    low, high = low - margin * width, high + margin * width

    def energy(x: Tensor) -> Tensor:
        return hamiltonian(x.to(weight.dtype)).to(x.dtype)

    def true_energy(x0: Tensor) -> Tensor:
        """[N, T] true energy of the motion generated from the latent starts x0."""
        with torch.no_grad():
            states = _read_generated(model, data, model.decode(model.motion(x0.to(weight.dtype), steps=steps)), dt)
            return system.hamiltonian(states).to(torch.float64)

    def summary(e: Tensor) -> dict[str, Any]:
        q = torch.quantile(e, torch.tensor([0.1, 0.5, 0.9], dtype=e.dtype))
        return {"q10": float(q[0]), "median": float(q[1]), "q90": float(q[2]), "mean": float(e.mean()),
                "energies": e.tolist()}

    with torch.no_grad():
        observed = data.clips("test") if getattr(model, "frames", False) else model.observe(data.trajectories("test"))
        data_energy = system.hamiltonian(_read_generated(model, data, observed, dt)).to(torch.float64).mean(1)
        noise_energy = true_energy(starts[:n]).mean(1)
    rows = []
    for tau in temperatures:
        x0 = sample_canonical(energy, float(tau) * t0, n, dim=dim,
                              domain=(low.tolist(), high.tolist()), chains=chains, num_warmup=num_warmup,
                              sampler=sampler, generator=generator, **sampler_options)
        energies = true_energy(x0)
        with torch.no_grad():
            learned_mean = float(hamiltonian(x0.to(weight.dtype)).to(torch.float64).mean())
        rows.append({"tau": float(tau), "temperature": float(tau) * t0, **summary(energies.mean(1)),
                     "learned_energy_mean": learned_mean, "energy_drift": energy_drift(energies)})
        if progress is not None:
            row = rows[-1]
            progress(f"τ = {tau:g} (T = {row['temperature']:.4g}): true energy median {row['median']:.4g} "
                     f"(10–90 % {row['q10']:.4g}–{row['q90']:.4g}), mean H_θ {learned_mean:.4g}")
    return {"t0": t0, "box_low": low.tolist(), "box_high": high.tolist(), "data": summary(data_energy),
            "noise_map": summary(noise_energy), "rows": rows}
