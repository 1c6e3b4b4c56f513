"""The result of an MCMC run and its printed summary."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from hnn.sampling.diagnostics import ess, mcse_mean, rhat


@dataclass
class SamplingResult:
    """Draws and statistics of a run with ``chains`` chains.

    ``samples``: (chains, draws, *state_shape); ``potential_energy``, ``accept_prob``, ``divergent``,
    ``num_steps`` (leapfrog steps of the chain's own trajectory): (chains, draws).
    ``num_grad_evals``: gradient evaluations summed over chains, warmup included, counting every
    evaluation a chain pays in a lock-step batch (also after its own trajectory ended).
    ``divergences``: number of divergent transitions after warmup (all chains);
    ``warmup_divergences`` the same during warmup.
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
    def wall_seconds(self) -> float:
        return self.warmup_seconds + self.sampling_seconds

    def ess(self, method: str = "bulk") -> Tensor:
        return ess(self.samples, method=method)

    def rhat(self) -> Tensor:
        return rhat(self.samples)

    def summary(self, max_rows: int = 12, print_table: bool = True) -> str:
        """Table of mean, sd, MCSE, bulk/tail ESS and R̂ per coordinate plus run statistics."""
        flat = self.samples.reshape(self.num_chains, self.num_draws, -1)
        dim = flat.shape[-1]
        rows = list(range(min(dim, max_rows)))
        sub = flat[:, :, rows]
        mean = sub.mean((0, 1))
        sd = sub.to(torch.float64).reshape(-1, len(rows)).std(0)
        mc = mcse_mean(sub)
        eb, et, rh = ess(sub, "bulk"), ess(sub, "tail"), rhat(sub)
        lines = [f"{self.sampler}: {self.num_chains} chains x {self.num_draws} draws (+{self.num_warmup} warmup)"]
        lines.append(f"{'':>8} {'mean':>10} {'sd':>10} {'mcse':>10} {'ess_bulk':>9} {'ess_tail':>9} {'r_hat':>7}")
        for j, i in enumerate(rows):
            lines.append(
                f"{'x[' + str(i) + ']':>8} {float(mean[j]):10.4f} {float(sd[j]):10.4f} {float(mc[j]):10.4f} "
                f"{float(eb[j]):9.1f} {float(et[j]):9.1f} {float(rh[j]):7.3f}"
            )
        if dim > len(rows):
            all_bulk = ess(flat, "bulk")
            all_rhat = rhat(flat)
            lines.append(f"  ... {dim - len(rows)} more coordinates; over all {dim}: min ess_bulk "
                         f"{float(all_bulk.min()):.1f}, max r_hat {float(all_rhat.max()):.3f}")
        step = self.step_size.flatten()
        step_text = f"{float(step[0]):.4g}" if step.numel() == 1 else ", ".join(f"{float(s):.3g}" for s in step)
        lines.append(
            f"step size {step_text} | mean accept {float(self.accept_prob.mean()):.3f} | divergences "
            f"{self.divergences} (warmup {self.warmup_divergences}) | mean steps/draw "
            f"{float(self.num_steps.float().mean()):.1f}"
            + (f" | mean tree depth {float(self.tree_depth.float().mean()):.2f}" if self.tree_depth is not None else "")
        )
        lines.append(
            f"gradient evaluations {self.num_grad_evals} (warmup {self.num_warmup_grad_evals}) | wall "
            f"{self.wall_seconds:.2f}s (warmup {self.warmup_seconds:.2f}s)"
        )
        text = "\n".join(lines)
        if print_table:
            print(text)
        return text
