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

The state of a leaf is packed in one row per chain, z = [q | ∂U/∂q | U | H | c | p | v] (c: the running
momentum sum of the subtree), integrated in place, so a leaf's progressive choice is one ``torch.where`` on z,
a checkpoint [c | p | v] one copy, and the tree's two ends one (2, chains, 5D + 2) tensor merged by one
``torch.where``; these buffers and their views are made once per (chains, D, dtype, device, max_tree_depth).
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

    def _workspace(self, chains: int, dim: int, dtype: torch.dtype, device: torch.device) -> "_Workspace":
        key = (chains, dim, dtype, device, self.max_tree_depth)
        cached = getattr(self, "_cached_workspace", None)
        if cached is None or cached.key != key:
            cached = self._cached_workspace = _Workspace(key)
        return cached

    def _transition(self, state: ChainState, step_size: Tensor, potential: Potential, kinetic, generator, warmup: bool):
        q0, force0, pe0 = state.q, state.force, state.potential
        chains, dim = q0.shape
        dtype, device = q0.dtype, q0.device
        max_depth = self.max_tree_depth
        ws = self._workspace(chains, dim, dtype, device)
        o_f, o_u, o_h, o_c, o_p, o_v = ws.offsets
        z, sub = ws.z, ws.sub
        q, f, u, energy, c, p, v = ws.q, ws.f, ws.u, ws.energy, ws.c, ws.p, ws.v

        p0 = kinetic.sample(chains, generator)
        v0 = kinetic.velocity(p0)
        h_initial = pe0 + kinetic.energy(p0, v0)
        forward_dirs, log_u_merge = self._tree_randoms(chains, dtype, device, generator)
        step = step_size.reshape(()) if isinstance(step_size, Tensor) else torch.tensor(step_size, dtype=dtype, device=device)
        threshold = h_initial + self.max_energy_error  # a leaf with H above it (or H not finite) diverges
        z0 = torch.cat((q0, force0, pe0.unsqueeze(-1), h_initial.unsqueeze(-1), torch.zeros_like(p0), p0, v0), 1)
        edges = torch.stack((z0, z0))  # (2, chains, width): the tree's backward (0) and forward (1) ends
        prop = z0  # the tree's current proposal
        rho = p0
        sides = torch.stack((~forward_dirs, forward_dirs), 1).unsqueeze(-1)  # (max_depth, 2, chains, 1)
        steps = torch.where(forward_dirs, step, -step).unsqueeze(-1)  # (max_depth, chains, 1)
        half_kicks = -0.5 * steps
        log_weight = torch.zeros(chains, dtype=dtype, device=device)
        active = torch.ones(chains, dtype=torch.bool, device=device)
        depth = torch.zeros(chains, dtype=torch.long, device=device)
        sum_accept = torch.zeros(chains, dtype=dtype, device=device)
        n_steps = torch.zeros(chains, dtype=torch.long, device=device)
        divergent = torch.zeros(chains, dtype=torch.bool, device=device)
        neg_inf = ws.neg_inf

        for d in range(max_depth):
            if d > 0 and not bool(active.any()):
                break
            fwd_col = forward_dirs[d].unsqueeze(-1)
            torch.where(fwd_col, edges[1], edges[0], out=z)  # the leaf, integrated in place from the growing end
            c.zero_()
            sub.copy_(z)  # the subtree's proposal
            h, half_kick = steps[d], half_kicks[d]
            n_leaves = 1 << d
            level = ws.levels[d]
            log_u_leaf = torch.rand(n_leaves, chains, dtype=dtype, device=device, generator=generator).log_()
            leaf_log_w, leaf_active = level.log_w, level.active
            leaf_active.zero_()
            sub_active = active
            sub_log_weight = neg_inf.expand(chains)
            for k in range(n_leaves):
                if k > 0 and k % self.check_every == 0 and not bool(sub_active.any()):
                    break  # every chain's subtree has ended: the rest of the batch would be pure padding
                # leapfrog in place: p ← p − (h/2)∂U(q), q ← q + h∇K(p), p ← p − (h/2)∂U(q)
                p.addcmul_(f, half_kick)
                q.addcmul_(kinetic.velocity_into(p, v), h)
                value, grad = potential(q if ws.q_contiguous else q.contiguous())
                f.copy_(grad)
                u.copy_(value)
                p.addcmul_(f, half_kick)
                kinetic.hamiltonian_into(p, u, v, energy)
                ok = torch.nan_to_num(energy, nan=math.inf, neginf=math.inf) <= threshold
                log_w = torch.where(ok, h_initial - energy, neg_inf, out=level.log_w_rows[k])
                level.active_rows[k].copy_(sub_active)
                new_sub_log_weight = torch.logaddexp(sub_log_weight, log_w)
                take = log_u_leaf[k] < log_w - new_sub_log_weight
                torch.where(take.unsqueeze(-1), z, sub, out=sub)
                sub_log_weight = new_sub_log_weight
                level.start_writes[_trailing_zeros(k, d)].copy_(ws.cpv)
                c.add_(p)
                keep = ok
                levels = _trailing_ones(k)
                if levels:
                    # checks of the blocks [s, k] of size 2^j, j = 1..levels, with middle m = s + 2^(j-1)
                    s_c, s_v, m_c, m_p, m_v, e_p, e_v = level.checks[levels]
                    rho_full = c - s_c
                    rho_ext1 = m_c - s_c + m_p
                    rho_ext2 = c - m_c + e_p
                    v_b = v.expand_as(rho_full)
                    dots = torch.stack(
                        (
                            torch.linalg.vecdot(s_v, rho_full),
                            torch.linalg.vecdot(v_b, rho_full),
                            torch.linalg.vecdot(s_v, rho_ext1),
                            torch.linalg.vecdot(m_v, rho_ext1),
                            torch.linalg.vecdot(e_v, rho_ext2),
                            torch.linalg.vecdot(v_b, rho_ext2),
                        )
                    )
                    keep = keep & (dots.flatten(0, 1).amin(0) > 0)
                    if levels < d:
                        level.end_writes[levels].copy_(ws.pv)
                elif d > 0:
                    level.end_writes[0].copy_(ws.pv)
                sub_active = sub_active & keep
            # ---- statistics of the steps each chain really took, then merge the subtree into the tree
            leaf_log_w = leaf_log_w.masked_fill(~leaf_active, -math.inf)
            sum_accept = sum_accept + leaf_log_w.clamp(max=0.0).exp().sum(0)
            n_steps = n_steps + leaf_active.sum(0)
            divergent = divergent | (leaf_active & (leaf_log_w == -math.inf)).any(0)
            valid = sub_active
            # ends [p | v] of the two halves a (left) and b (right) of the merged tree: forward, a is the old tree
            # and b the subtree (first leaf .. last leaf); backward, a is the subtree (last .. first), b the old tree
            ends = torch.stack((edges[0, :, o_p:], edges[1, :, o_p:], level.first_pv, ws.pv))
            ends = torch.where(fwd_col, ends, ends[[3, 2, 0, 1]])
            a_left_v, b_right_v = ends[0, :, dim:], ends[3, :, dim:]
            a_right_p, a_right_v = ends[1, :, :dim], ends[1, :, dim:]
            b_left_p, b_left_v = ends[2, :, :dim], ends[2, :, dim:]
            rho_a = torch.where(fwd_col, rho, c)
            rho_b = torch.where(fwd_col, c, rho)
            rho_total = rho_a + rho_b
            rho_ext_a = rho_a + b_left_p
            rho_ext_b = rho_b + a_right_p
            dots = torch.stack(
                (
                    torch.linalg.vecdot(a_left_v, rho_total),
                    torch.linalg.vecdot(b_right_v, rho_total),
                    torch.linalg.vecdot(a_left_v, rho_ext_a),
                    torch.linalg.vecdot(b_left_v, rho_ext_a),
                    torch.linalg.vecdot(a_right_v, rho_ext_b),
                    torch.linalg.vecdot(b_right_v, rho_ext_b),
                )
            )
            no_turn = dots.amin(0) > 0
            edges = torch.where(sides[d] & valid.unsqueeze(-1), z, edges)
            rho = torch.where(valid.unsqueeze(-1), rho_total, rho)
            take = valid & (log_u_merge[d] < sub_log_weight - log_weight)
            prop = torch.where(take.unsqueeze(-1), sub, prop)
            log_weight = torch.where(valid, torch.logaddexp(log_weight, sub_log_weight), log_weight)
            depth = depth + valid
            active = valid & no_turn

        new_state = ChainState(prop[:, :o_f].clone(), prop[:, o_u].clone(), prop[:, o_f:o_u].clone())
        stats = {
            "accept_prob": sum_accept / n_steps.clamp(min=1),
            "divergent": divergent,
            "num_steps": n_steps,
            "tree_depth": depth,
            "energy": prop[:, o_h].clone(),
        }
        return new_state, stats


class _Level:
    """Buffers of the depth-d subtree and their views, made once per workspace: per-leaf log weights and
    activity, the checkpoints [c | p | v] at block starts (d + 1 levels) and [p | v] at block ends."""

    def __init__(self, d: int, chains: int, dim: int, dtype: torch.dtype, device: torch.device) -> None:
        n_leaves = 1 << d
        self.log_w = torch.empty(n_leaves, chains, dtype=dtype, device=device)
        self.active = torch.zeros(n_leaves, chains, dtype=torch.bool, device=device)
        self.log_w_rows = list(self.log_w.unbind(0))
        self.active_rows = list(self.active.unbind(0))
        start = torch.empty(d + 1, chains, 3 * dim, dtype=dtype, device=device)
        end = torch.empty(max(d, 1), chains, 2 * dim, dtype=dtype, device=device)
        self.start_writes = [start[: t + 1] for t in range(d + 1)]
        self.end_writes = [end[: t + 1] for t in range(max(d, 1))]
        self.first_pv = start[d, :, dim:]
        self.checks = [None] + [
            (
                start[1 : j + 1, :, :dim], start[1 : j + 1, :, 2 * dim :],
                start[:j, :, :dim], start[:j, :, dim : 2 * dim], start[:j, :, 2 * dim :],
                end[:j, :, :dim], end[:j, :, dim:],
            )
            for j in range(1, d + 1)
        ]


class _Workspace:
    """The packed leaf state z = [q | f | U | H | c | p | v] (chains, 5D + 2), the subtree proposal and the
    per-depth buffers of one (chains, D, dtype, device, max_tree_depth), with their views made once."""

    def __init__(self, key) -> None:
        chains, dim, dtype, device, max_depth = key
        self.key = key
        self.offsets = (dim, 2 * dim, 2 * dim + 1, 2 * dim + 2, 3 * dim + 2, 4 * dim + 2)
        o_f, o_u, o_h, o_c, o_p, o_v = self.offsets
        self.z = torch.empty(chains, 5 * dim + 2, dtype=dtype, device=device)
        self.sub = torch.empty_like(self.z)
        z = self.z
        self.q, self.f, self.u, self.energy = z[:, :o_f], z[:, o_f:o_u], z[:, o_u], z[:, o_h]
        self.c, self.p, self.v = z[:, o_c:o_p], z[:, o_p:o_v], z[:, o_v:]
        self.cpv, self.pv = z[:, o_c:], z[:, o_p:]
        self.q_contiguous = self.q.is_contiguous()
        self.neg_inf = torch.tensor(-math.inf, dtype=dtype, device=device)
        self.levels = [_Level(d, chains, dim, dtype, device) for d in range(max_depth)]
