"""End-of-run checks of an MCMC run, as Stan and ArviZ make them, issued as ``SamplingWarning``.

``run_checks(result)`` returns one message per failed check (each at most once per run; every
message names what to try):

- divergent transitions after warmup (any): count and share of draws;
- R̂ > 1.01 (rank-normalised split R̂, ``hnn.sampling.rhat``) in any coordinate, or R̂ undefined
  (draws constant over all chains, or not finite);
- bulk or tail ESS < 400 in any coordinate: the total over all chains (100 per chain for 4 chains,
  Vehtari et al. 2021), so healthy runs with many short chains do not warn;
- NUTS trajectories cut at ``max_tree_depth`` (any): count and share of draws;
- E-BFMI < 0.3 in any chain, E-BFMI = Σ_{n≥2} (E_n − E_{n−1})² / Σ_n (E_n − Ē)² of the total
  energies E_n = U(q_n) + K(p_n) (Betancourt 2016; ``hnn.sampling.ebfmi``).

The convergence checks need at least 4 draws per chain (E-BFMI: 3) and are skipped below that.
R̂ needs chains that are long relative to their autocorrelation: split R̂² exceeds 1 by about
1/ESS_c − 1/n for split chains of n draws and effective size ESS_c, so many short, correlated chains
(ESS_c ≲ 50) warn even when they agree; the remedy is longer chains, as the message says.
``MCMCSampler.sample(..., warn=True)`` runs them and warns through ``warnings.warn`` with category
``SamplingWarning`` (a ``UserWarning``), so they can be filtered::

    warnings.filterwarnings("ignore", category=hnn.sampling.SamplingWarning)
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from hnn.sampling.diagnostics import ebfmi

if TYPE_CHECKING:  # pragma: no cover
    from hnn.sampling.result import SamplingResult

RHAT_THRESHOLD = 1.01
ESS_THRESHOLD = 400.0
EBFMI_THRESHOLD = 0.3
MIN_DRAWS_CONVERGENCE = 4
MIN_DRAWS_EBFMI = 3


class SamplingWarning(UserWarning):
    """A problem found by the end-of-run checks of an MCMC run (divergences, R̂, ESS, tree depth, E-BFMI)."""


def coordinate_label(index: int, shape: tuple[int, ...], name: str = "x") -> str:
    """Label of flat coordinate ``index`` of a state of shape ``shape``: x[3], x[1, 2]."""
    if not shape:
        return name
    return f"{name}[{', '.join(str(int(i)) for i in np.unravel_index(index, shape))}]"


def _share(count: int, total: int) -> str:
    return f"{count} of {total} draws ({100.0 * count / total:.1f} %)"


def run_checks(result: "SamplingResult") -> list[str]:
    """Messages of the checks that ``result`` fails (empty when the run looks healthy)."""
    chains, draws = result.num_chains, result.num_draws
    total = chains * draws
    name = result.sampler
    where = f"{chains} chain{'s' if chains > 1 else ''} x {draws} draws"
    messages = []
    divergences = result.divergences
    if divergences:
        messages.append(
            f"{name}: {_share(divergences, total)} after warmup were divergent transitions ({where}); the draws may "
            "be biased where the posterior is strongly curved. Raise target_accept (e.g. 0.95), try mass='dense', "
            "or reparameterise (e.g. a non-centred hierarchical model)."
        )
    if draws >= MIN_DRAWS_CONVERGENCE:
        shape = tuple(result.samples.shape[2:])
        stats = result.statistics(("ess_bulk", "ess_tail", "r_hat"))
        r_hat = stats["r_hat"].reshape(-1)
        bad = ~(r_hat <= RHAT_THRESHOLD)  # NaN counts as bad
        if bad.any():
            finite = np.where(np.isfinite(r_hat), r_hat, -np.inf)
            undefined = int((~np.isfinite(r_hat)).sum())
            worst = int(np.argmax(finite)) if np.isfinite(r_hat).any() else int(np.flatnonzero(bad)[0])
            detail = (f"max R-hat {r_hat[worst]:.4f} at {coordinate_label(worst, shape)}" if np.isfinite(r_hat[worst])
                      else f"R-hat undefined at {coordinate_label(worst, shape)}")
            if undefined and np.isfinite(r_hat[worst]):
                detail += f"; undefined (constant or non-finite draws) in {undefined}"
            messages.append(
                f"{name}: R-hat > {RHAT_THRESHOLD} in {int(bad.sum())} of {r_hat.size} coordinates ({detail}; {where}): "
                "the chains have not converged to a common distribution. Run a longer warmup (num_warmup) and more "
                "draws, or reparameterise; a multimodal target needs ParallelTempering."
            )
        parts = []
        for kind in ("bulk", "tail"):
            values = stats[f"ess_{kind}"].reshape(-1)
            low = ~(values >= ESS_THRESHOLD)
            if low.any():
                worst = int(np.argmin(np.where(np.isnan(values), -np.inf, values)))
                parts.append(f"{kind} ESS < {ESS_THRESHOLD:.0f} in {int(low.sum())} of {values.size} coordinates "
                             f"(min {values[worst]:.0f} at {coordinate_label(worst, shape)})")
        if parts:
            messages.append(
                f"{name}: {' and '.join(parts)}, totals over {where}: means, quantiles and their standard errors are "
                "unreliable. Draw more (num_samples) or run more chains; mass='dense' helps correlated targets, a "
                "reparameterisation helps badly scaled ones."
            )
    if result.tree_depth is not None and result.max_tree_depth is not None:
        hits = int((result.tree_depth >= result.max_tree_depth).sum())
        if hits:
            messages.append(
                f"{name}: {_share(hits, total)} hit max_tree_depth={result.max_tree_depth} ({where}): those "
                "trajectories were cut before they turned, which costs efficiency. Raise max_tree_depth, try "
                "mass='dense' for a correlated target, or reparameterise."
            )
    if result.energy is not None and draws >= MIN_DRAWS_EBFMI:
        values = ebfmi(result.energy)
        values = values.numpy() if isinstance(values, torch.Tensor) else values
        low = np.flatnonzero(~(values >= EBFMI_THRESHOLD))
        if low.size:
            listed = ", ".join(f"chain {int(c)}: {values[c]:.3g}" for c in low[:8]) + (", ..." if low.size > 8 else "")
            messages.append(
                f"{name}: E-BFMI < {EBFMI_THRESHOLD} in {low.size} of {chains} chains ({listed}): resampling the "
                "momentum explores the energy distribution poorly (heavy tails or a funnel). Reparameterise (e.g. "
                "non-centred), or try mass='dense' and a longer warmup."
            )
    return messages


class UnboundedWatch:
    """Stops a warmup whose potential U falls without bound — the sign error of a log-density
    passed as ``energy=`` (U = +log π; for a Gaussian −|x|²/2, unbounded below).

    A normalisable density exp(−U) has U → +∞ along almost every ray to infinity, so U cannot keep
    falling along the path a chain takes.  Every warmup iteration costs one comparison: chain c is
    looked at when U has fallen below its trigger, initially U₀ − 100·D (D coordinates; in the
    typical set U fluctuates by ~√D, so a fall of 100·D is not noise).  Then U is evaluated along
    the ray from the chain's start q₀ through its state q: u_k = U(q₀ + 2^k (q − q₀)),
    k = 1..12.  U falls without bound when it keeps falling along the whole ray, u₀ > u₁ > … > u₁₂
    with u₀ = U(q), by at least the fall seen so far (U₀ − U(q)); a target started far in its tails
    fails this test, since the ray passes the mode and U rises again, and the chain's trigger moves
    down to U(q) − 10·(U₀ − U(q)) (so these looks are rare).  U = −∞ at a state fails at once.
    Those ray evaluations are energy evaluations (no gradient) and are not counted in
    ``num_grad_evals``.  Only falls this test confirms are errors: a heavy-tailed density passed
    with the wrong sign (U ~ −log|x|) falls too slowly to be caught here, and shows up in the
    end-of-run checks instead.
    """

    FALL = 100.0
    DOUBLINGS = 12

    def __init__(self, energy, target: str, q0: Tensor, u0: Tensor, state_shape: tuple[int, ...],
                 label=lambda row: f"chain {row}") -> None:
        self.energy = energy
        self.target = target
        self.label = label
        self.q0 = q0.clone()
        self.u0 = u0.clone()
        self.state_shape = tuple(state_shape)
        self.trigger = u0 - self.FALL * q0.shape[1]

    def check(self, q: Tensor, u: Tensor, iteration: int) -> str | None:
        """The error message when U has fallen without bound by warmup iteration ``iteration``, else None."""
        if not bool((u < self.trigger).any()):
            return None
        return self._probe(q, u, iteration)

    def _probe(self, q: Tensor, u: Tensor, iteration: int) -> str | None:
        looked = u < self.trigger
        minus_inf = looked & (u == -math.inf)
        if bool(minus_inf.any()):
            chain = int(torch.nonzero(minus_inf).flatten()[0])
            return unbounded_message(self.target, float(u[chain]), self.label(chain), float(self.u0[chain]), iteration)
        direction = q - self.q0
        previous = u
        falling = looked.clone()
        for k in range(1, self.DOUBLINGS + 1):
            x = (self.q0 + (2.0**k) * direction).reshape(q.shape[0], *self.state_shape)
            value = self.energy(x).detach().reshape(-1)
            falling &= value < previous  # False for NaN
            previous = value
        falling &= previous <= u - (self.u0 - u)
        if bool(falling.any()):
            chain = int(torch.nonzero(falling).flatten()[0])
            return unbounded_message(self.target, float(u[chain]), self.label(chain), float(self.u0[chain]), iteration)
        self.trigger = torch.where(looked, u - 10.0 * (self.u0 - u), self.trigger)
        return None


def unbounded_message(target: str, value: float, chain: str, start: float, iteration: int) -> str:
    """The error for a target whose U fell without bound during warmup (the sign error)."""
    if target == "log_prob":
        return (
            f"log_prob rises without bound during warmup: log_prob = {-value:.3g} in {chain} after {iteration} "
            f"warmup iterations, from {-start:.3g} at its initial state, and keeps rising along the chain's path, so "
            "exp(log_prob) is not a normalisable density. If the function returns an energy U(x) (the density is exp(-U)), pass it as energy=, not "
            "log_prob=."
        )
    return (
        f"energy falls without bound during warmup: U = {value:.3g} in {chain} after {iteration} warmup "
        f"iterations, from {start:.3g} at its initial state, and keeps falling along the chain's path, so exp(-U) "
        "is not a normalisable density. If the "
        "function returns a log-density log p(x), pass it as log_prob= (the sampler then uses U = -log_prob), not "
        "energy=."
    )

