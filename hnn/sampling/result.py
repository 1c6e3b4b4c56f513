"""The result of an MCMC run: draws, per-draw statistics, its printed summary, the end-of-run
checks and the export to ArviZ."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from torch import Tensor

from hnn.sampling.checks import coordinate_label, run_checks
from hnn.sampling.diagnostics import _ESS_METHODS, SUMMARY_KEYS, _statistics, _wrap, ebfmi

if TYPE_CHECKING:  # pragma: no cover
    import arviz

# to_arviz builds an InferenceData (tested with ArviZ 0.22 and 0.23); ArviZ 1.0 replaced it by xarray's DataTree
ARVIZ_RANGE = ">=0.22,<1.0"


@dataclass
class WarmupDraws:
    """The warmup iterations of a run (``sample(..., save_warmup=True)``), shaped like the draws:
    ``samples`` (chains, num_warmup, *state_shape), the statistics (chains, num_warmup).  The
    adaptation changes the step size and the metric along the way, so these are not draws of the target."""

    samples: Tensor
    potential_energy: Tensor
    energy: Tensor | None
    accept_prob: Tensor
    divergent: Tensor
    num_steps: Tensor
    step_sizes: Tensor
    tree_depth: Tensor | None = None


@dataclass
class SamplingResult:
    """Draws and statistics of a run with ``chains`` chains.

    ``samples``: (chains, draws, *state_shape); ``potential_energy`` U(q_n), ``energy`` the total
    energy E_n = U(q_n) + K(p_n) of the draw with its momentum (what E-BFMI needs; ``None`` for
    parallel tempering, whose swaps move states between Hamiltonians), ``accept_prob``, ``divergent``,
    ``num_steps`` (leapfrog steps of the chain's own trajectory), ``step_sizes`` (the step size of
    every transition, jittered per chain for HMC): (chains, draws).
    ``num_grad_evals``: gradient evaluations summed over chains, warmup included, counting every
    evaluation a chain pays in a lock-step batch (also after its own trajectory ended).
    ``divergences``: number of divergent transitions after warmup (all chains);
    ``warmup_divergences`` the same during warmup.  ``warmup``: the warmup iterations when the run
    was made with ``save_warmup=True``.  ``check_seconds``: time of the end-of-run checks.
    The per-coordinate statistics (``ess``, ``rhat``, ``summary_stats``, ``summary`` and the checks)
    are computed once per statistic and kept with the result; replacing or changing ``samples``
    in place recomputes them.
    ``compile_seconds``: with ``compile_gradient=True``, time of the first gradient evaluation (the
    compilation, unless an earlier run of the same sampler compiled for this batch shape), made before warmup
    starts (not in ``warmup_seconds``); 0 otherwise.
    """

    samples: Tensor
    potential_energy: Tensor
    accept_prob: Tensor
    divergent: Tensor
    num_steps: Tensor
    step_size: Tensor
    inverse_mass: Tensor | None
    num_grad_evals: int
    num_warmup_grad_evals: int
    warmup_divergences: int
    num_warmup: int
    warmup_seconds: float
    sampling_seconds: float
    sampler: str
    tree_depth: Tensor | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    energy: Tensor | None = None
    step_sizes: Tensor | None = None
    max_tree_depth: int | None = None
    warmup: WarmupDraws | None = None
    check_seconds: float = 0.0
    compile_seconds: float = 0.0
    _statistics: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)
    _statistics_of: tuple[int, int] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def divergences(self) -> int:
        return int(self.divergent.sum())

    @property
    def divergences_per_chain(self) -> Tensor:
        return self.divergent.sum(1)

    @property
    def num_chains(self) -> int:
        return self.samples.shape[0]

    @property
    def num_draws(self) -> int:
        return self.samples.shape[1]

    @property
    def state_shape(self) -> tuple[int, ...]:
        return tuple(self.samples.shape[2:])

    @property
    def wall_seconds(self) -> float:
        return self.warmup_seconds + self.sampling_seconds

    def statistics(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The statistics ``keys`` (of ``mean, sd, mcse_mean, ess_bulk, ess_tail, ess_mean, r_hat``) per
        coordinate, read-only float64 arrays of ``state_shape``, each computed once (``hnn.sampling.diagnostics``)."""
        known = (*SUMMARY_KEYS, *(f"ess_{m}" for m in _ESS_METHODS))
        unknown = [key for key in keys if key not in known]
        if unknown:
            raise ValueError(f"unknown statistics {unknown}; choose from {sorted(set(known))}")
        stamp = (id(self.samples), self.samples._version)
        if stamp != self._statistics_of:
            self._statistics, self._statistics_of = {}, stamp
        missing = tuple(key for key in dict.fromkeys(keys) if key not in self._statistics)
        if missing:
            for key, value in _statistics(self.samples, missing)[0].items():
                value.setflags(write=False)  # shared by every later call: read-only
                self._statistics[key] = value
        return {key: self._statistics[key] for key in keys}

    def ess(self, method: str = "bulk") -> Tensor:
        """ESS per coordinate: ``"bulk"``, ``"tail"`` or ``"mean"`` (``hnn.sampling.ess``)."""
        if method not in _ESS_METHODS:
            raise ValueError(f"unknown ESS method {method!r}; choose one of {list(_ESS_METHODS)}")
        return _wrap(self.statistics((f"ess_{method}",))[f"ess_{method}"].copy(), True)

    def rhat(self) -> Tensor:
        """Rank-normalised split R̂ per coordinate (``hnn.sampling.rhat``)."""
        return _wrap(self.statistics(("r_hat",))["r_hat"].copy(), True)

    def ebfmi(self) -> Tensor:
        """E-BFMI per chain, Σ_{n≥2} (E_n − E_{n−1})² / Σ_n (E_n − Ē)² of the total energies (chains,)."""
        if self.energy is None:
            raise ValueError(f"this {self.sampler} result records no total energy, so it has no E-BFMI")
        return ebfmi(self.energy)

    def summary_stats(self) -> dict[str, Tensor]:
        """Per coordinate (tensors of ``state_shape``): mean, sd, mcse_mean, ess_bulk, ess_tail, r_hat —
        the values of ``arviz.summary(self.to_arviz(), round_to="none")`` (R̂ also for one chain)."""
        return {key: _wrap(value.copy(), True) for key, value in self.statistics(SUMMARY_KEYS).items()}

    def check(self) -> list[str]:
        """The end-of-run checks (``hnn.sampling.checks``): one message per failed check."""
        return run_checks(self)

    def summary(self, max_rows: int = 12, print_table: bool = True) -> str:
        """Table of mean, sd, MCSE, bulk/tail ESS and R̂ per coordinate plus run statistics."""
        flat = self.samples.reshape(self.num_chains, self.num_draws, -1)
        dim = flat.shape[-1]
        rows = list(range(min(dim, max_rows)))
        stats = {key: value.reshape(-1) for key, value in self.statistics(SUMMARY_KEYS).items()}
        lines = [f"{self.sampler}: {self.num_chains} chains x {self.num_draws} draws (+{self.num_warmup} warmup)"]
        lines.append(f"{'':>8} {'mean':>10} {'sd':>10} {'mcse':>10} {'ess_bulk':>9} {'ess_tail':>9} {'r_hat':>7}")
        for j, i in enumerate(rows):
            lines.append(
                f"{coordinate_label(i, self.state_shape):>8} {float(stats['mean'][j]):10.4f} {float(stats['sd'][j]):10.4f} "
                f"{float(stats['mcse_mean'][j]):10.4f} {float(stats['ess_bulk'][j]):9.1f} {float(stats['ess_tail'][j]):9.1f} "
                f"{float(stats['r_hat'][j]):7.3f}"
            )
        if dim > len(rows):
            lines.append(f"  ... {dim - len(rows)} more coordinates; over all {dim}: min ess_bulk "
                         f"{float(stats['ess_bulk'].min()):.1f}, max r_hat {float(stats['r_hat'].max()):.3f}")
        step = self.step_size.flatten()
        step_text = f"{float(step[0]):.4g}" if step.numel() == 1 else ", ".join(f"{float(s):.3g}" for s in step)
        lines.append(
            f"step size {step_text} | mean accept {float(self.accept_prob.mean()):.3f} | divergences "
            f"{self.divergences} (warmup {self.warmup_divergences}) | mean steps/draw "
            f"{float(self.num_steps.float().mean()):.1f}"
            + (f" | mean tree depth {float(self.tree_depth.float().mean()):.2f}" if self.tree_depth is not None else "")
        )
        if self.energy is not None and self.num_draws >= 3:
            lines.append("E-BFMI per chain " + ", ".join(f"{float(v):.3f}" for v in self.ebfmi()[:8])
                         + (", ..." if self.num_chains > 8 else ""))
        lines.append(
            f"gradient evaluations {self.num_grad_evals} (warmup {self.num_warmup_grad_evals}) | wall "
            f"{self.wall_seconds:.2f}s (warmup {self.warmup_seconds:.2f}s)"
        )
        text = "\n".join(lines)
        if print_table:
            print(text)
        return text

    # ------------------------------------------------------------------ ArviZ
    def _posterior(self, samples: Tensor, var_names: str | Sequence[str]) -> dict[str, np.ndarray]:
        array = samples.detach().cpu().numpy()
        if isinstance(var_names, str):
            return {var_names: array}
        flat = array.reshape(array.shape[0], array.shape[1], -1)
        return {name: flat[:, :, i] for i, name in enumerate(var_names)}

    def _sample_stats(self, potential: Tensor, energy: Tensor | None, accept: Tensor, divergent: Tensor,
                      steps: Tensor, step_sizes: Tensor | None, depth: Tensor | None) -> dict[str, np.ndarray]:
        def numpy(t: Tensor) -> np.ndarray:
            return t.detach().cpu().numpy()

        stats = {
            "lp": numpy(-potential),
            "acceptance_rate": numpy(accept),
            "diverging": numpy(divergent),
            "n_steps": numpy(steps),
        }
        if energy is not None:
            stats["energy"] = numpy(energy)
        if step_sizes is not None:
            stats["step_size"] = numpy(step_sizes)
        if depth is not None:
            stats["tree_depth"] = numpy(depth)
        return stats

    def to_arviz(self, var_names: str | Sequence[str] = "x") -> "arviz.InferenceData":
        """The run as ``arviz.InferenceData`` (ArviZ ``>=0.22,<1.0``).

        ``posterior``: the draws, one variable ``var_names`` of shape (chain, draw, *state_shape), or one
        scalar variable per coordinate when ``var_names`` lists a name for each of them (flattened
        state).  ``sample_stats``, named as ArviZ expects: ``lp`` (= −U, the log density up to a
        constant), ``energy`` (total energy E_n), ``acceptance_rate``, ``diverging``, ``n_steps``,
        ``step_size`` and, for NUTS, ``tree_depth``.  Runs made with ``save_warmup=True`` add
        ``warmup_posterior`` and ``warmup_sample_stats``.  ``arviz.summary`` and ``arviz.bfmi`` on it
        give ``summary_stats()`` and ``ebfmi()``.  The ``posterior`` and ``sample_stats`` groups carry the
        attributes ``inference_library="hnn"``, ``sampler``, ``num_warmup`` and ``num_grad_evals``.
        """
        try:
            import arviz as az
        except ImportError as error:  # pragma: no cover - arviz is a test dependency
            raise ImportError(f"to_arviz needs ArviZ: pip install 'arviz{ARVIZ_RANGE}'") from error
        if int(az.__version__.split(".")[0]) >= 1:
            raise ImportError(f"to_arviz builds arviz.InferenceData, which ArviZ {az.__version__} replaced by "
                              f"DataTree; install 'arviz{ARVIZ_RANGE}'")
        size = int(np.prod(self.state_shape)) if self.state_shape else 1
        if not isinstance(var_names, str):
            names = list(var_names)
            if len(names) != size or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
                raise ValueError(f"var_names must be one name or {size} distinct names (one per coordinate of the "
                                 f"state of shape {self.state_shape}), got {names!r}")
            var_names = names
        kwargs: dict[str, Any] = {
            "posterior": self._posterior(self.samples, var_names),
            "sample_stats": self._sample_stats(self.potential_energy, self.energy, self.accept_prob, self.divergent,
                                               self.num_steps, self.step_sizes, self.tree_depth),
        }
        if self.warmup is not None:
            w = self.warmup
            kwargs["warmup_posterior"] = self._posterior(w.samples, var_names)
            kwargs["warmup_sample_stats"] = self._sample_stats(w.potential_energy, w.energy, w.accept_prob, w.divergent,
                                                               w.num_steps, w.step_sizes, w.tree_depth)
            kwargs["save_warmup"] = True
        idata = az.from_dict(**kwargs)
        attrs = {"inference_library": "hnn", "sampler": self.sampler, "num_warmup": self.num_warmup,
                 "num_grad_evals": self.num_grad_evals}
        for group in ("posterior", "sample_stats"):
            getattr(idata, group).attrs.update(attrs)
        return idata
