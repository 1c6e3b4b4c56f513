"""The No-U-Turn Sampler (Hoffman & Gelman 2014; Betancourt 2017; Stan's variant), batched.

Per chain and iteration: p ~ exp(−K); the trajectory doubles in a random direction until the
generalised U-turn criterion fires, a divergence occurs or ``max_tree_depth`` doublings are done.
The sample is drawn multinomially with weights w = exp(H₀ − H): uniformly (progressively, leaf by
leaf) within a new subtree and with biased progressive sampling, min(1, W_new/W_old), when the
subtree is merged into the tree.  The U-turn criterion for a (sub)tree with momentum sum ρ and
end velocities v⁻, v⁺ (v = ∇K(p)) is v⁻·ρ ≤ 0 or v⁺·ρ ≤ 0; as in Stan it is also checked on
the left half plus the first state of the right half and on the right half plus the last state
of the left half, at every merge (inside subtrees too).  A subtree that turns or diverges
(H − H₀ > max_energy_error or non-finite) is discarded and ends the tree.
tests/test_sampling_nuts.py checks trees, step counts, divergences, acceptance statistics and the
law of the draw against a recursive transcription of Stan's base_nuts.

Chains run in lock step on one tensor: every chain builds its depth-d subtree (of 2^d leapfrog
steps, in its own direction) at the same time, so the subtree is built iteratively leaf by leaf;
the checks of all subtrees that end at leaf k use checkpoints (momentum, velocity and cumulative
momentum sum at the first leaf of every aligned block, and momentum/velocity at the last leaf of
every aligned block).  A chain whose tree has ended keeps integrating (its results are masked
out) until every chain has ended: it pays these gradients, and they are counted.  The adaptation
statistic is the mean acceptance min(1, w) over all new states of the tree.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from hnn.sampling.base import ChainState, EnergyFn, LogProbFn, MCMCSampler, Potential, _check_int


def _trailing_ones(k: int) -> int:
    count = 0
    while k & 1:
        k >>= 1
        count += 1
    return count


def _trailing_zeros(k: int, cap: int) -> int:
    if k == 0:
        return cap
    count = 0
    while not k & 1:
        k >>= 1
        count += 1
    return min(count, cap)


def _no_uturn(v_left: Tensor, v_right: Tensor, rho: Tensor) -> Tensor:
    """True where v⁻·ρ > 0 and v⁺·ρ > 0 (no U-turn)."""
    return (torch.linalg.vecdot(v_left, rho) > 0) & (torch.linalg.vecdot(v_right, rho) > 0)


class NUTS(MCMCSampler):
    """NUTS(energy, mass="identity"|"diag"|"dense", target_accept=0.8, max_tree_depth=10, ...) or
    NUTS(log_prob=..., ...); see ``MCMCSampler`` for the target and the shared options.  The total
    energy recorded for a draw is H = U + K at the state the tree selected (Stan's ``energy__``)."""

    name = "NUTS"

    def __init__(
        self,
        energy: EnergyFn | None = None,
        mass="identity",
        target_accept: float = 0.8,
        *,
        log_prob: LogProbFn | None = None,
        max_tree_depth: int = 10,
        step_size: float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(energy, log_prob=log_prob, mass=mass, target_accept=target_accept, step_size=step_size,
                         **kwargs)
        _check_int("max_tree_depth", max_tree_depth, 1)
        self.max_tree_depth = max_tree_depth
        # leaves between host-side "is any chain still building?" checks (1 on CPU, where a check is cheap)
        self.check_every = 1

    def _tree_randoms(self, chains: int, dtype: torch.dtype, device: torch.device,
                      generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Per doubling and chain: the direction (True = forward) and log U for the biased
        progressive choice between the old tree and the new subtree; (max_tree_depth, chains) each."""
        randoms = torch.rand(2, self.max_tree_depth, chains, dtype=dtype, device=device, generator=generator)
        return randoms[0] < 0.5, randoms[1].log()

    def _transition(self, state: ChainState, step_size: Tensor, potential: Potential, kinetic, generator, warmup: bool):
        q0, force0, pe0 = state.q, state.force, state.potential
        chains, dim = q0.shape
        dtype, device = q0.dtype, q0.device
        max_depth = self.max_tree_depth
        max_err = self.max_energy_error

        p0 = kinetic.sample(chains, generator)
        v0 = kinetic.velocity(p0)
        h_initial = pe0 + kinetic.energy(p0, v0)
        forward_dirs, log_u_merge = self._tree_randoms(chains, dtype, device, generator)
        step = step_size.reshape(()) if isinstance(step_size, Tensor) else torch.tensor(step_size, dtype=dtype, device=device)

        # the tree: its two edges, momentum sum, log total weight and current proposal
        q_left = q_right = q0
        p_left = p_right = p0
        v_left = v_right = v0
        f_left = f_right = force0
        rho = p0
        log_weight = torch.zeros(chains, dtype=dtype, device=device)
        prop_q, prop_pe, prop_f, prop_h = q0, pe0, force0, h_initial
        active = torch.ones(chains, dtype=torch.bool, device=device)
        depth = torch.zeros(chains, dtype=torch.long, device=device)
        sum_accept = torch.zeros(chains, dtype=dtype, device=device)
        n_steps = torch.zeros(chains, dtype=torch.long, device=device)
        divergent = torch.zeros(chains, dtype=torch.bool, device=device)
        neg_inf = torch.tensor(-math.inf, dtype=dtype, device=device)

        for d in range(max_depth):
            if d > 0 and not bool(active.any()):
                break
            fwd = forward_dirs[d]
            fwd_col = fwd.unsqueeze(-1)
            q = torch.where(fwd_col, q_right, q_left)
            p = torch.where(fwd_col, p_right, p_left)
            f = torch.where(fwd_col, f_right, f_left)
            h = torch.where(fwd, step, -step).unsqueeze(-1)
            n_leaves = 1 << d
            log_u_leaf = torch.rand(n_leaves, chains, dtype=dtype, device=device, generator=generator).log()
            start_p = torch.empty(d + 1, chains, dim, dtype=dtype, device=device)
            start_v = torch.empty_like(start_p)
            start_c = torch.empty_like(start_p)
            end_p = torch.empty(max(d, 1), chains, dim, dtype=dtype, device=device)
            end_v = torch.empty_like(end_p)
            cum_p = torch.zeros(chains, dim, dtype=dtype, device=device)
            sub_active = active
            sub_log_weight = neg_inf.expand(chains)
            sub_q, sub_pe, sub_f, sub_h = q, prop_pe, f, prop_h
            leaf_log_w = torch.zeros(n_leaves, chains, dtype=dtype, device=device)
            leaf_active = torch.zeros(n_leaves, chains, dtype=torch.bool, device=device)
            for k in range(n_leaves):
                if k > 0 and k % self.check_every == 0 and not bool(sub_active.any()):
                    break  # every chain's subtree has ended: the rest of the batch would be pure padding
                q, p, f, pe = self._leapfrog(q, p, f, h, potential, kinetic)
                v = kinetic.velocity(p)
                h_leaf = pe + kinetic.energy(p, v)
                delta = torch.nan_to_num(h_initial - h_leaf, nan=-math.inf, posinf=-math.inf)
                ok = delta >= -max_err  # False for NaN/±inf energies and large energy errors
                log_w = torch.where(ok, delta, neg_inf)
                leaf_log_w[k] = log_w
                leaf_active[k] = sub_active
                new_sub_log_weight = torch.logaddexp(sub_log_weight, log_w)
                take = log_u_leaf[k] < log_w - new_sub_log_weight
                take_col = take.unsqueeze(-1)
                sub_q = torch.where(take_col, q, sub_q)
                sub_f = torch.where(take_col, f, sub_f)
                sub_pe = torch.where(take, pe, sub_pe)
                sub_h = torch.where(take, h_leaf, sub_h)
                sub_log_weight = new_sub_log_weight
                tz = _trailing_zeros(k, d)
                start_c[: tz + 1] = cum_p
                cum_p = cum_p + p
                start_p[: tz + 1] = p
                start_v[: tz + 1] = v
                keep = ok
                levels = _trailing_ones(k)
                if levels:
                    # checks of the blocks [s, k] of size 2^j, j = 1..levels, with middle m = s + 2^(j-1)
                    s_p, s_v, s_c = start_p[1 : levels + 1], start_v[1 : levels + 1], start_c[1 : levels + 1]
                    m_p, m_v, m_c = start_p[:levels], start_v[:levels], start_c[:levels]
                    e_p, e_v = end_p[:levels], end_v[:levels]
                    rho_full = cum_p - s_c
                    rho_ext1 = m_c - s_c + m_p
                    rho_ext2 = cum_p - m_c + e_p
                    dots = torch.stack(
                        (
                            torch.linalg.vecdot(s_v, rho_full),
                            torch.linalg.vecdot(v.expand_as(rho_full), rho_full),
                            torch.linalg.vecdot(s_v, rho_ext1),
                            torch.linalg.vecdot(m_v, rho_ext1),
                            torch.linalg.vecdot(e_v, rho_ext2),
                            torch.linalg.vecdot(v.expand_as(rho_ext2), rho_ext2),
                        )
                    )
                    keep = keep & (dots.flatten(0, 1).amin(0) > 0)
                    if levels < d:
                        end_p[:levels + 1] = p
                        end_v[:levels + 1] = v
                elif d > 0:
                    end_p[:1] = p
                    end_v[:1] = v
                sub_active = sub_active & keep
            # ---- statistics of the steps each chain really took, then merge the subtree into the tree
            leaf_log_w = leaf_log_w.masked_fill(~leaf_active, -math.inf)
            sum_accept = sum_accept + leaf_log_w.clamp(max=0.0).exp().sum(0)
            n_steps = n_steps + leaf_active.sum(0)
            divergent = divergent | (leaf_active & (leaf_log_w == -math.inf)).any(0)
            valid = sub_active
            first_p, first_v = start_p[d], start_v[d]
            fwd_valid = (valid & fwd).unsqueeze(-1)
            bwd_valid = (valid & ~fwd).unsqueeze(-1)
            fwd_c = fwd.unsqueeze(-1)
            a_left_p = torch.where(fwd_c, p_left, p)
            a_left_v = torch.where(fwd_c, v_left, v)
            a_right_p = torch.where(fwd_c, p_right, first_p)
            a_right_v = torch.where(fwd_c, v_right, first_v)
            b_left_p = torch.where(fwd_c, first_p, p_left)
            b_left_v = torch.where(fwd_c, first_v, v_left)
            b_right_p = torch.where(fwd_c, p, p_right)
            b_right_v = torch.where(fwd_c, v, v_right)
            rho_a = torch.where(fwd_c, rho, cum_p)
            rho_b = torch.where(fwd_c, cum_p, rho)
            rho_total = rho_a + rho_b
            no_turn = (
                _no_uturn(a_left_v, b_right_v, rho_total)
                & _no_uturn(a_left_v, b_left_v, rho_a + b_left_p)
                & _no_uturn(a_right_v, b_right_v, rho_b + a_right_p)
            )
            q_right = torch.where(fwd_valid, q, q_right)
            p_right = torch.where(fwd_valid, p, p_right)
            v_right = torch.where(fwd_valid, v, v_right)
            f_right = torch.where(fwd_valid, f, f_right)
            q_left = torch.where(bwd_valid, q, q_left)
            p_left = torch.where(bwd_valid, p, p_left)
            v_left = torch.where(bwd_valid, v, v_left)
            f_left = torch.where(bwd_valid, f, f_left)
            rho = torch.where(valid.unsqueeze(-1), rho_total, rho)
            take = valid & (log_u_merge[d] < sub_log_weight - log_weight)
            take_c = take.unsqueeze(-1)
            prop_q = torch.where(take_c, sub_q, prop_q)
            prop_f = torch.where(take_c, sub_f, prop_f)
            prop_pe = torch.where(take, sub_pe, prop_pe)
            prop_h = torch.where(take, sub_h, prop_h)
            log_weight = torch.where(valid, torch.logaddexp(log_weight, sub_log_weight), log_weight)
            depth = depth + valid
            active = valid & no_turn

        new_state = ChainState(prop_q, prop_pe, prop_f)
        stats = {
            "accept_prob": sum_accept / n_steps.clamp(min=1),
            "divergent": divergent,
            "num_steps": n_steps,
            "tree_depth": depth,
            "energy": prop_h,
        }
        return new_state, stats
