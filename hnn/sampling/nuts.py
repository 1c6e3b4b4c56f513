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
On the CPU (float32/float64) the same steps run on NumPy (``tree_backend``), with the leaf state as one
contiguous (chains, D) array per quantity instead of the packed row (an elementwise operation on a column block
of a packed buffer costs about twice as much), and row gathers and scatters instead of masked merges: the
gradient is still one torch call, on a tensor sharing q's memory.  One chain works on NumPy views of the packed
buffers and keeps its scalars (energies, log weights, the choices and flags) as Python numbers, so a branch
replaces each masked merge.  The three
builders make the same trees from the same random numbers (tests/test_sampling_nuts.py checks each against
the reference).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from hnn.sampling.base import ChainState, EnergyFn, LogProbFn, MCMCSampler, Potential, _check_int


# one chain: the leaf uniforms drawn with the tree's other randoms; 32 cover every leaf of a tree of depth ≤ 5
# (31 leapfrog steps), so shallower trees make one RNG call per transition beside the momentum's
_LEAF_POOL = 32


def _trailing_ones(k: int) -> int:
    count = 0
    while k & 1:
        k >>= 1
        count += 1
    return count


def _turn_dots(a_left_v: Tensor, a_right_v: Tensor, b_left_v: Tensor, b_right_v: Tensor, rho_total: Tensor,
               rho_ext_a: Tensor, rho_ext_b: Tensor) -> Tensor:
    """The six dot products of the generalised no-U-turn check of a tree made of a left half a and a right half b
    (Stan's criterion with the two extra checks across the halves): ``v·ρ`` for the outer velocities with ρ the whole
    tree's momentum sum, and for ``ρ_ext_a`` = ρ_a + p(b's left end) and ``ρ_ext_b`` = ρ_b + p(a's right end) with
    their end velocities. No U-turn ⇔ all six are > 0. Stacked along a new leading dimension."""
    return torch.stack((torch.linalg.vecdot(a_left_v, rho_total), torch.linalg.vecdot(b_right_v, rho_total),
                        torch.linalg.vecdot(a_left_v, rho_ext_a), torch.linalg.vecdot(b_left_v, rho_ext_a),
                        torch.linalg.vecdot(a_right_v, rho_ext_b), torch.linalg.vecdot(b_right_v, rho_ext_b)))


def _turn_dots_numpy(out: np.ndarray, a_left_v: np.ndarray, a_right_v: np.ndarray, b_left_v: np.ndarray,
                     b_right_v: np.ndarray, rho_total: np.ndarray, rho_ext_a: np.ndarray,
                     rho_ext_b: np.ndarray) -> np.ndarray:
    """:func:`_turn_dots` on NumPy arrays, written into ``out`` (six rows, in the same order)."""
    np.vecdot(a_left_v, rho_total, out=out[0])
    np.vecdot(b_right_v, rho_total, out=out[1])
    np.vecdot(a_left_v, rho_ext_a, out=out[2])
    np.vecdot(b_left_v, rho_ext_a, out=out[3])
    np.vecdot(a_right_v, rho_ext_b, out=out[4])
    np.vecdot(b_right_v, rho_ext_b, out=out[5])
    return out


def _trailing_zeros(k: int, cap: int) -> int:
    if k == 0:
        return cap
    count = 0
    while not k & 1:
        k >>= 1
        count += 1
    return min(count, cap)


def _logaddexp(a: float, b: float) -> float:
    """log(exp a + exp b) of Python floats (−inf allowed)."""
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


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
        # where the tree is built: "auto" = NumPy for float32/float64 states on the CPU (the gradient stays a torch
        # call on a tensor sharing the array's memory; one chain: its scalars as Python floats), torch otherwise;
        # "torch" or "numpy" (NumPy arrays for any number of chains) to choose
        self.tree_backend = "auto"

    def _tree_randoms(self, chains: int, dtype: torch.dtype, device: torch.device,
                      generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Per doubling and chain: the direction (True = forward) and log U for the biased
        progressive choice between the old tree and the new subtree; (max_tree_depth, chains) each."""
        randoms = torch.rand(2, self.max_tree_depth, chains, dtype=dtype, device=device, generator=generator)
        return randoms[0] < 0.5, randoms[1].log()

    def _one_chain_randoms(self, generator: torch.Generator | None) -> tuple[list[bool], list[float], list[float]]:
        """One chain's tree randoms from one ``torch.rand`` call (float64, on the CPU): the directions (True =
        forward) and U of the merges, ``max_tree_depth`` each, then U of the first ``_LEAF_POOL`` leaves (a
        depth whose leaves the pool no longer covers draws its own); as Python lists."""
        depth = self.max_tree_depth
        u = torch.rand(2 * depth + _LEAF_POOL, dtype=torch.float64, generator=generator).tolist()
        return [x < 0.5 for x in u[:depth]], u[depth:2 * depth], u[2 * depth:]

    def _workspace(self, chains: int, dim: int, dtype: torch.dtype, device: torch.device) -> "_Workspace":
        key = (chains, dim, dtype, device, self.max_tree_depth)
        cached = getattr(self, "_cached_workspace", None)
        if cached is None or cached.key != key:
            cached = self._cached_workspace = _Workspace(key)
        return cached

    def _use_numpy(self, q: Tensor) -> bool:
        if self.tree_backend not in ("auto", "torch", "numpy"):
            raise ValueError(f"tree_backend must be 'auto', 'torch' or 'numpy', got {self.tree_backend!r}")
        if self.tree_backend == "auto":
            return q.device.type == "cpu" and q.dtype in (torch.float32, torch.float64)
        return self.tree_backend == "numpy"

    def _transition(self, state: ChainState, step_size: Tensor, potential: Potential, kinetic, generator, warmup: bool):
        if self._use_numpy(state.q):
            if state.q.shape[0] == 1 and self.tree_backend != "numpy":
                return self._transition_one_chain(state, step_size, potential, kinetic, generator)
            return self._transition_numpy(state, step_size, potential, kinetic, generator)
        return self._transition_torch(state, step_size, potential, kinetic, generator)

    def _transition_torch(self, state: ChainState, step_size: Tensor, potential: Potential, kinetic, generator):
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
                    dots = _turn_dots(s_v, e_v, m_v, v.expand_as(rho_full), rho_full, rho_ext1, rho_ext2)
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
            dots = _turn_dots(a_left_v, a_right_v, b_left_v, b_right_v, rho_total, rho_ext_a, rho_ext_b)
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


    def _transition_numpy(self, state: ChainState, step_size: Tensor, potential: Potential, kinetic, generator):
        """``_transition_torch`` step for step on NumPy arrays (a NumPy operation on these small arrays costs a
        fraction of a torch dispatch); the random numbers come from the same torch generator. The leaf state is
        one contiguous (chains, D) array per quantity, not the packed row: an elementwise operation on a column
        block of the packed buffer runs about twice as long as on a contiguous array."""
        chains, dim = state.q.shape
        dtype, device = state.q.dtype, state.q.device
        max_depth = self.max_tree_depth
        ws = self._workspace_split(chains, dim, dtype)
        q, f, u, energy, c, p, v, kick = ws.q, ws.f, ws.u, ws.energy, ws.c, ws.p, ws.v, ws.kick
        sub_q, sub_f, sub_u, sub_h = ws.sub
        edges = ws.edges  # (q, f, U, H, p, v) of the tree's backward (0) and forward (1) ends, (2, chains, ...)
        edge_rows = ws.edge_rows  # the same as (2 * chains, ...): row e * chains + i is end e of chain i
        kin = _NumpyKinetic(kinetic)
        inf = math.inf

        q0, force0, pe0 = state.q.numpy(), state.force.numpy(), state.potential.numpy()
        p0 = kinetic.sample(chains, generator).numpy()
        forward_t, log_u_merge_t = self._tree_randoms(chains, dtype, device, generator)
        forward_dirs, log_u_merge = forward_t.numpy(), log_u_merge_t.numpy()
        step = float(step_size)
        for end, value in zip(edges, (q0, force0, pe0, None, p0, None)):
            if value is not None:
                end[...] = value
        e_q, e_f, e_u, e_h, e_p, e_v = edges
        kin.hamiltonian_into(p0, pe0, e_v[0], e_h[0])
        e_v[1], e_h[1] = e_v[0], e_h[0]
        h_initial = e_h[0].copy()
        threshold = h_initial + self.max_energy_error  # a leaf with H above it (or H not finite) diverges
        # per depth, the row of each chain's growing end (forward: 1, backward: 0); masked copies over whole
        # buffers cost more than gathering and scattering the rows that change
        chain_index = np.arange(chains)
        growing_rows = forward_dirs.astype(np.intp) * chains + chain_index
        other_rows = (~forward_dirs).astype(np.intp) * chains + chain_index
        er_q, er_f, er_u, er_h, er_p, er_v = edge_rows
        drift = kin.drift(1.0)  # q <- q + h * drift * p for a linear velocity M^-1 p (None: velocity_into)
        prop_q, prop_f, prop_u, prop_h = q0.copy(), force0.copy(), pe0.copy(), h_initial.copy()  # the proposal
        rho = p0.copy()
        steps = np.where(forward_dirs, step, -step).astype(q.dtype)[..., None]  # (max_depth, chains, 1)
        half_kicks = -0.5 * steps
        log_weight = np.zeros(chains, dtype=q.dtype)
        active = np.ones(chains, dtype=bool)
        depth = np.zeros(chains, dtype=np.int64)
        sum_accept = np.zeros(chains, dtype=q.dtype)
        n_steps = np.zeros(chains, dtype=np.int64)
        divergent = np.zeros(chains, dtype=bool)
        q_tensor = ws.q_tensor  # shares q's memory

        with np.errstate(invalid="ignore", over="ignore"):
            for d in range(max_depth):
                if d > 0 and not active.any():
                    break
                rows = growing_rows[d]
                for rows_of, leaf in zip(edge_rows, (q, f, u, energy, p, v)):
                    np.take(rows_of, rows, axis=0, out=leaf)
                c[...] = 0.0
                for proposal, leaf in zip(ws.sub, (q, f, u, energy)):
                    np.copyto(proposal, leaf)
                h, half_kick = steps[d], half_kicks[d]
                h_drift = None if drift is None else h * drift
                n_leaves = 1 << d
                level = ws.levels[d]
                start_c, start_p, start_v, end_p, end_v = level.start_c, level.start_p, level.start_v, level.end_p, level.end_v
                log_u_leaf = torch.rand(n_leaves, chains, dtype=dtype, device=device, generator=generator).log_().numpy()
                level.active[...] = False
                sub_active = active
                sub_log_weight = np.full(chains, -inf, dtype=q.dtype)
                for k in range(n_leaves):
                    if k > 0 and k % self.check_every == 0 and not sub_active.any():
                        break  # every chain's subtree has ended: the rest of the batch would be pure padding
                    p += np.multiply(f, half_kick, out=kick)
                    if h_drift is None:
                        q += np.multiply(kin.velocity_into(p, v), h, out=kick)
                    else:  # v is written with H below
                        q += np.multiply(p, h_drift, out=kick)
                    value, grad = potential(q_tensor)
                    f[...] = grad.numpy()
                    u[...] = value.numpy()
                    p += np.multiply(f, half_kick, out=kick)
                    kin.hamiltonian_into(p, u, v, energy)
                    ok = (energy <= threshold) & (energy != -inf)
                    log_w = level.log_w[k]
                    np.subtract(h_initial, energy, out=log_w)
                    log_w[~ok] = -inf
                    level.active[k] = sub_active
                    new_sub_log_weight = np.logaddexp(sub_log_weight, log_w)
                    chosen = np.flatnonzero(log_u_leaf[k] < log_w - new_sub_log_weight)
                    if chosen.size:
                        sub_q[chosen], sub_f[chosen], sub_u[chosen], sub_h[chosen] = \
                            q[chosen], f[chosen], u[chosen], energy[chosen]
                    sub_log_weight = new_sub_log_weight
                    block_starts = _trailing_zeros(k, d) + 1
                    start_c[:block_starts], start_p[:block_starts], start_v[:block_starts] = c, p, v
                    c += p
                    keep = ok
                    levels = _trailing_ones(k)
                    if levels:
                        s_c, s_v, m_c, m_p, m_v, e_p_, e_v_ = level.checks[levels]
                        rho_full = c - s_c
                        rho_ext1 = m_c - s_c + m_p
                        rho_ext2 = c - m_c + e_p_
                        dots = _turn_dots_numpy(level.dots[levels], s_v, e_v_, m_v, v, rho_full, rho_ext1, rho_ext2)
                        keep = keep & (dots.reshape(-1, chains).min(0) > 0)
                        if levels < d:
                            end_p[:levels + 1], end_v[:levels + 1] = p, v
                    elif d > 0:
                        end_p[:1], end_v[:1] = p, v
                    sub_active = sub_active & keep
                # ---- statistics of the steps each chain really took, then merge the subtree into the tree
                leaf_active = level.active
                leaf_log_w = np.where(leaf_active, level.log_w, -inf)
                sum_accept += np.exp(np.minimum(leaf_log_w, 0.0)).sum(0)
                n_steps += leaf_active.sum(0)
                divergent |= (leaf_active & (leaf_log_w == -inf)).any(0)
                valid = sub_active
                # the merge's U-turn checks (_turn_dots) in the old tree's terms, the same in both directions: its
                # end the subtree grew from (near) and its other end (far), the subtree's first leaf (start_p[d],
                # start_v[d]) and last leaf (p, v). Forward, [a | b] = [old | subtree]; backward, [subtree reversed
                # | old]: the six products are the same set, and rho_a + rho_b = rho + c either way.
                near_p, near_v = np.take(er_p, rows, axis=0), np.take(er_v, rows, axis=0)
                far_v = np.take(er_v, other_rows[d], axis=0)
                first_p, first_v = start_p[d], start_v[d]
                rho_total = rho + c
                rho_ext_old = rho + first_p  # the old tree extended by the subtree's first leaf
                rho_ext_sub = c + near_p  # the subtree extended by the old tree's near end
                dots = _turn_dots_numpy(ws.dots, far_v, near_v, first_v, v, rho_total, rho_ext_old, rho_ext_sub)
                no_turn = dots.min(0) > 0
                grown = np.flatnonzero(valid)
                if grown.size:
                    grown_rows = rows[grown]
                    for rows_of, leaf in zip(edge_rows, (q, f, u, energy, p, v)):
                        rows_of[grown_rows] = leaf[grown]
                    rho[grown] = rho_total[grown]
                chosen = np.flatnonzero(valid & (log_u_merge[d] < sub_log_weight - log_weight))
                if chosen.size:
                    prop_q[chosen], prop_f[chosen], prop_u[chosen], prop_h[chosen] = \
                        sub_q[chosen], sub_f[chosen], sub_u[chosen], sub_h[chosen]
                log_weight = np.where(valid, np.logaddexp(log_weight, sub_log_weight), log_weight)
                depth += valid
                active = valid & no_turn

        new_state = ChainState(torch.from_numpy(prop_q), torch.from_numpy(prop_u), torch.from_numpy(prop_f))
        stats = {
            "accept_prob": torch.from_numpy(sum_accept / np.maximum(n_steps, 1)),
            "divergent": torch.from_numpy(divergent),
            "num_steps": torch.from_numpy(n_steps),
            "tree_depth": torch.from_numpy(depth),
            "energy": torch.from_numpy(prop_h),
        }
        return new_state, stats

    def _transition_one_chain(self, state: ChainState, step_size: Tensor, potential: Potential, kinetic, generator):
        """``_transition_numpy`` for one chain: its scalars (energies, log weights, choices, flags) are Python
        floats and bools, so a branch replaces each masked merge and a state is copied only when chosen. Its tree
        randoms come from one call (:meth:`_one_chain_randoms`), not one per doubling as in the batched builders."""
        dim = state.q.shape[1]
        dtype = state.q.dtype
        max_depth = self.max_tree_depth
        ws = self._workspace_numpy(1, dim, dtype)
        o_f, o_u, o_h, o_c, o_p, o_v = ws.offsets
        z, sub = ws.z, ws.sub_qfuh
        zr = z[0]
        q_tensor, f2 = ws.q_tensor, ws.f  # (1, D) views: the gradient's input (as a tensor) and output
        q, f, c, p, v = zr[:o_f], zr[o_f:o_u], zr[o_c:o_p], zr[o_p:o_v], zr[o_v:]
        kin = ws.numpy_kinetic(kinetic)
        np_dtype = z.dtype
        inf = math.inf
        log = math.log

        p0 = kinetic.sample(1, generator).numpy()
        forward, u_merge, u_pool = self._one_chain_randoms(generator)
        pool_used = 0
        step = float(step_size)
        edges = ws.edges_one  # (2, width): the tree's backward (0) and forward (1) ends
        e0 = edges[0]
        e0[:o_f], e0[o_f:o_u], e0[o_c:o_p], e0[o_p:o_v] = state.q.numpy()[0], state.force.numpy()[0], 0.0, p0[0]
        u0 = float(state.potential)
        e0[o_u] = u0
        h_initial = u0 + kin.energy_into(e0[o_p:o_v], e0[o_v:])
        e0[o_h] = h_initial
        edges[1] = e0
        threshold = h_initial + self.max_energy_error
        prop = e0[:o_c].copy()  # the tree's current proposal [q | f | U | H]
        rho = e0[o_p:o_v].copy()
        log_weight = 0.0
        depth = n_steps = 0
        sum_accept = 0.0
        divergent = False

        for d in range(max_depth):
            fwd = forward[d]
            z[0] = edges[1] if fwd else e0
            c[...] = 0.0
            sub[0] = zr[:o_c]
            h = step if fwd else -step
            # the scalars as 0-d arrays of the state's dtype: a Python float factor of a (D,) array costs twice
            # as much (its dtype is resolved in every product)
            half_kick = np.array(-0.5 * h, dtype=np_dtype)
            drift = kin.drift(h)  # h·M⁻¹ of a Gaussian kinetic energy with identity or diagonal M, else None
            if type(drift) is float:
                drift = np.array(drift, dtype=np_dtype)
            n_leaves = 1 << d
            level = ws.levels[d]
            if pool_used + n_leaves <= _LEAF_POOL:
                u_leaf, offset = u_pool, pool_used
                pool_used += n_leaves
            else:
                u_leaf, offset = torch.rand(n_leaves, dtype=torch.float64, generator=generator).tolist(), 0
            sub_active = True
            sub_log_weight = -inf
            for k, (start_write, checks, end_write) in enumerate(level.leaf_plan):
                if not sub_active:
                    break  # the subtree has ended
                p += half_kick * f
                q += h * kin.velocity_into(p, v) if drift is None else drift * p
                value, grad = potential(q_tensor)
                f2[...] = grad.numpy()
                u = float(value)
                p += half_kick * f
                energy = u + kin.energy_into(p, v)
                zr[o_u], zr[o_h] = u, energy
                ok = energy <= threshold and energy != -inf  # False for NaN
                log_w = h_initial - energy if ok else -inf
                n_steps += 1
                sum_accept += math.exp(min(log_w, 0.0))
                divergent = divergent or not ok
                new_sub_log_weight = _logaddexp(sub_log_weight, log_w)
                u_k = u_leaf[offset + k]
                if (log(u_k) if u_k > 0.0 else -inf) < log_w - new_sub_log_weight:
                    sub[0] = zr[:o_c]
                sub_log_weight = new_sub_log_weight
                start_write[...] = ws.cpv
                c += p
                if checks and ok:
                    # the checks of _transition_numpy, level by level, stopping at the first that fails
                    # (written "not x > 0" so that a NaN product fails too)
                    for s_c, s_v, m_c, m_p, m_v, e_p, e_v in checks:
                        rho_full = c - s_c
                        rho_ext1 = m_c - s_c + m_p
                        rho_ext2 = c - m_c + e_p
                        if not (np.dot(s_v, rho_full) > 0 and np.dot(v, rho_full) > 0
                                and np.dot(s_v, rho_ext1) > 0 and np.dot(m_v, rho_ext1) > 0
                                and np.dot(e_v, rho_ext2) > 0 and np.dot(v, rho_ext2) > 0):
                            ok = False
                            break
                if end_write is not None:
                    end_write[...] = ws.pv
                sub_active = ok
            if not sub_active:
                break  # the subtree turned or diverged: it is discarded and the tree ends
            # ---- merge: a (left) and b (right) halves of the merged tree, as in _transition_torch
            first_p, first_v = level.first_pv[0, :dim], level.first_pv[0, dim:]
            if fwd:
                a_left_v, a_right_p, a_right_v = e0[o_v:], edges[1, o_p:o_v], edges[1, o_v:]
                b_left_p, b_left_v, b_right_v = first_p, first_v, v
                rho_a, rho_b = rho, c
            else:
                a_left_v, a_right_p, a_right_v = v, first_p, first_v
                b_left_p, b_left_v, b_right_v = e0[o_p:o_v], e0[o_v:], edges[1, o_v:]
                rho_a, rho_b = c, rho
            rho_total = rho_a + rho_b
            rho_ext_a = rho_a + b_left_p
            rho_ext_b = rho_b + a_right_p
            no_turn = (
                np.dot(a_left_v, rho_total) > 0 and np.dot(b_right_v, rho_total) > 0
                and np.dot(a_left_v, rho_ext_a) > 0 and np.dot(b_left_v, rho_ext_a) > 0
                and np.dot(a_right_v, rho_ext_b) > 0 and np.dot(b_right_v, rho_ext_b) > 0
            )
            edges[1 if fwd else 0] = zr
            rho = rho_total
            u_d = u_merge[d]
            if (log(u_d) if u_d > 0.0 else -inf) < sub_log_weight - log_weight:
                prop[...] = sub[0]
            log_weight = _logaddexp(log_weight, sub_log_weight)
            depth += 1
            if not no_turn:
                break

        new_state = ChainState(torch.from_numpy(prop[None, :o_f].copy()), torch.from_numpy(prop[None, o_u].copy()),
                               torch.from_numpy(prop[None, o_f:o_u].copy()))
        stats = {
            "accept_prob": torch.from_numpy(np.array([sum_accept / max(n_steps, 1)], dtype=z.dtype)),
            "divergent": torch.from_numpy(np.array([divergent])),
            "num_steps": torch.from_numpy(np.array([n_steps], dtype=np.int64)),
            "tree_depth": torch.from_numpy(np.array([depth], dtype=np.int64)),
            "energy": torch.from_numpy(prop[None, o_h].copy()),
        }
        return new_state, stats

    def _workspace_split(self, chains: int, dim: int, dtype: torch.dtype) -> "_SplitWorkspace":
        key = (chains, dim, dtype, self.max_tree_depth)
        cached = getattr(self, "_cached_split_workspace", None)
        if cached is None or cached.key != key:
            cached = self._cached_split_workspace = _SplitWorkspace(key)
        return cached

    def _workspace_numpy(self, chains: int, dim: int, dtype: torch.dtype) -> "_Workspace":
        key = (chains, dim, dtype, "numpy", self.max_tree_depth)
        cached = getattr(self, "_cached_workspace", None)
        if cached is None or cached.key != key:
            cached = self._cached_workspace = _Workspace(key)
        return cached


class _Level:
    """Buffers of the depth-d subtree and their views, made once per workspace: per-leaf log weights and
    activity, the checkpoints [c | p | v] at block starts (d + 1 levels) and [p | v] at block ends.  Torch
    tensors, or NumPy arrays (sharing their memory) when ``as_numpy``."""

    def __init__(self, d: int, chains: int, dim: int, dtype: torch.dtype, device: torch.device, as_numpy: bool) -> None:
        n_leaves = 1 << d
        convert = (lambda t: t.numpy()) if as_numpy else (lambda t: t)
        self.log_w = convert(torch.empty(n_leaves, chains, dtype=dtype, device=device))
        self.active = convert(torch.zeros(n_leaves, chains, dtype=torch.bool, device=device))
        self.log_w_rows = list(self.log_w)
        self.active_rows = list(self.active)
        start = convert(torch.empty(d + 1, chains, 3 * dim, dtype=dtype, device=device))
        end = convert(torch.empty(max(d, 1), chains, 2 * dim, dtype=dtype, device=device))
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
        self.dots = [None] + [convert(torch.empty(6, j, chains, dtype=dtype, device=device)) for j in range(1, d + 1)]
        # one chain: the (D,) views of the block of size 2^j, j = 1..d: (s_c, s_v, m_c, m_p, m_v, e_p, e_v)
        self.checks_one = [
            (start[j, 0, :dim], start[j, 0, 2 * dim :], start[j - 1, 0, :dim], start[j - 1, 0, dim : 2 * dim],
             start[j - 1, 0, 2 * dim :], end[j - 1, 0, :dim], end[j - 1, 0, dim:])
            for j in range(1, d + 1)
        ] if chains == 1 else []
        # one chain, per leaf k: (the checkpoint write of its block starts, the block checks that end at k, the
        # write of its block ends or None), the index arithmetic of _trailing_zeros / _trailing_ones done once
        self.leaf_plan = [
            (self.start_writes[_trailing_zeros(k, d)], self.checks_one[:_trailing_ones(k)],
             self.end_writes[_trailing_ones(k)] if 0 < _trailing_ones(k) < d
             else self.end_writes[0] if _trailing_ones(k) == 0 and d > 0 else None)
            for k in range(n_leaves)
        ] if chains == 1 else []


class _Workspace:
    """The packed leaf state z = [q | f | U | H | c | p | v] (chains, 5D + 2), the subtree proposal and the
    per-depth buffers of one (chains, D, dtype, device or "numpy", max_tree_depth), with their views made once."""

    def __init__(self, key) -> None:
        chains, dim, dtype, device, max_depth = key
        self.key = key
        as_numpy = device == "numpy"
        device = torch.device("cpu") if as_numpy else device
        convert = (lambda t: t.numpy()) if as_numpy else (lambda t: t)
        self.offsets = (dim, 2 * dim, 2 * dim + 1, 2 * dim + 2, 3 * dim + 2, 4 * dim + 2)
        o_f, o_u, o_h, o_c, o_p, o_v = self.offsets
        self.z = convert(torch.empty(chains, 5 * dim + 2, dtype=dtype, device=device))
        self.sub = convert(torch.empty(chains, 5 * dim + 2, dtype=dtype, device=device))
        self.sub_qfuh = convert(torch.empty(chains, 2 * dim + 2, dtype=dtype, device=device))
        z = self.z
        self.q, self.f, self.u, self.energy = z[:, :o_f], z[:, o_f:o_u], z[:, o_u], z[:, o_h]
        self.c, self.p, self.v = z[:, o_c:o_p], z[:, o_p:o_v], z[:, o_v:]
        self.cpv, self.pv = z[:, o_c:], z[:, o_p:]
        self.q_contiguous = chains == 1
        self.q_tensor = torch.from_numpy(self.q) if as_numpy and chains == 1 else None  # shares z's memory
        self.neg_inf = torch.tensor(-math.inf, dtype=dtype, device=device)
        self.levels = [_Level(d, chains, dim, dtype, device, as_numpy) for d in range(max_depth)]
        self.edges_one = convert(torch.empty(2, 5 * dim + 2, dtype=dtype, device=device)) if as_numpy else None
        self._numpy_kinetic: tuple | None = None

    def numpy_kinetic(self, kinetic) -> "_NumpyKinetic":
        """The NumPy view of ``kinetic``, rebuilt when it or its M⁻¹ tensor (replaced by adaptation) changes."""
        cached = self._numpy_kinetic
        if cached is None or cached[0] is not kinetic or cached[1] is not kinetic.inverse_mass:
            cached = self._numpy_kinetic = (kinetic, kinetic.inverse_mass, _NumpyKinetic(kinetic))
        return cached[2]


class _NumpyKinetic:
    """∇K and H = U + K of a ``GaussianKinetic`` or ``RelativisticKinetic`` on NumPy arrays (its M⁻¹ shared)."""

    def __init__(self, kinetic) -> None:
        self.structure = kinetic.structure
        self.inverse_mass = None if kinetic.inverse_mass is None else kinetic.inverse_mass.numpy()
        self.c = getattr(kinetic, "c", None)  # speed of light of a relativistic kinetic energy
        self._drifts: dict[float, np.ndarray] = {}
        if self.c is None and self.structure != "dense":  # the one-chain leaf's K(p) without the branches
            minv = self.inverse_mass
            if minv is None:
                def energy_into(p: np.ndarray, velocity_out: np.ndarray) -> float:
                    np.copyto(velocity_out, p)
                    return 0.5 * float(np.dot(p, p))
            else:
                def energy_into(p: np.ndarray, velocity_out: np.ndarray) -> float:
                    np.multiply(p, minv, out=velocity_out)
                    return 0.5 * float(np.dot(p, velocity_out))
            energy_into.__doc__ = _NumpyKinetic.energy_into.__doc__
            self.energy_into = energy_into

    def drift(self, h: float) -> float | np.ndarray | None:
        """The position step per unit momentum, q ← q + drift·p, where ∇K(p) = M⁻¹p is linear and M is the identity
        (a number) or diagonal (an array, kept for the last two h: a tree's two directions); None otherwise
        (dense M, relativistic K: use ``velocity_into``)."""
        if self.c is not None or self.structure == "dense":
            return None
        if self.structure == "identity":
            return h
        drift = self._drifts.get(h)
        if drift is None:
            if len(self._drifts) >= 2:
                self._drifts.clear()
            drift = self._drifts[h] = h * self.inverse_mass
        return drift

    def _minv(self, p: np.ndarray, out: np.ndarray) -> np.ndarray:
        if self.structure == "identity":
            np.copyto(out, p)
        elif self.structure == "diag":
            np.multiply(p, self.inverse_mass, out=out)
        else:
            np.matmul(p, self.inverse_mass, out=out)
        return out

    def velocity_into(self, p: np.ndarray, out: np.ndarray) -> np.ndarray:
        self._minv(p, out)
        if self.c is not None:
            out *= self.c / np.sqrt(np.vecdot(p, out) + self.c**2)[..., None]
        return out

    def energy_into(self, p: np.ndarray, velocity_out: np.ndarray) -> float:
        """One chain (p of shape (D,)): write ∇K(p) into ``velocity_out``, return K(p) as a Python float."""
        self._minv(p, velocity_out)
        quad = float(np.dot(p, velocity_out))
        if self.c is None:
            return 0.5 * quad
        root = math.sqrt(quad + self.c**2)
        velocity_out *= self.c / root
        return self.c * root

    def hamiltonian_into(self, p: np.ndarray, potential: np.ndarray, velocity_out: np.ndarray,
                         energy_out: np.ndarray) -> None:
        self._minv(p, velocity_out)
        quad = np.vecdot(p, velocity_out)
        if self.c is None:
            np.add(potential, 0.5 * quad, out=energy_out)
        else:
            root = np.sqrt(quad + self.c**2)
            velocity_out *= (self.c / root)[:, None]
            np.add(potential, self.c * root, out=energy_out)


class _SplitLevel:
    """The depth-d subtree's buffers for the NumPy builder, one contiguous array per quantity: per-leaf log
    weights and activity, the checkpoints c, p, v at block starts (d + 1 levels, (d + 1, chains, D) each) and p, v at
    block ends, and the views of the U-turn checks of a block of 2^j leaves, j = 1..d."""

    def __init__(self, d: int, chains: int, dim: int, dtype: np.dtype) -> None:
        n_leaves = 1 << d
        self.log_w = np.empty((n_leaves, chains), dtype=dtype)
        self.active = np.zeros((n_leaves, chains), dtype=bool)
        self.start_c, self.start_p, self.start_v = (np.empty((d + 1, chains, dim), dtype=dtype) for _ in range(3))
        self.end_p, self.end_v = (np.empty((max(d, 1), chains, dim), dtype=dtype) for _ in range(2))
        self.checks = [None] + [
            (self.start_c[1 : j + 1], self.start_v[1 : j + 1], self.start_c[:j], self.start_p[:j], self.start_v[:j],
             self.end_p[:j], self.end_v[:j])
            for j in range(1, d + 1)
        ]
        self.dots = [None] + [np.empty((6, j, chains), dtype=dtype) for j in range(1, d + 1)]


class _SplitWorkspace:
    """The NumPy builder's leaf state (q, ∂U/∂q, U, H, c, p, v as separate contiguous arrays), the subtree
    proposal, the tree's two ends and the per-depth buffers of one (chains, D, dtype, max_tree_depth)."""

    def __init__(self, key) -> None:
        chains, dim, dtype, max_depth = key
        self.key = key
        np_dtype = torch.empty(0, dtype=dtype).numpy().dtype
        vector = lambda *lead: np.empty((*lead, chains, dim), dtype=np_dtype)  # noqa: E731
        scalar = lambda *lead: np.empty((*lead, chains), dtype=np_dtype)  # noqa: E731
        self.q, self.f, self.c, self.p, self.v, self.kick = (vector() for _ in range(6))
        self.u, self.energy = scalar(), scalar()
        self.q_tensor = torch.from_numpy(self.q)  # the gradient's argument, sharing q's memory
        self.sub = (vector(), vector(), scalar(), scalar())  # the subtree's proposal (q, f, U, H)
        self.edges = (vector(2), vector(2), scalar(2), scalar(2), vector(2), vector(2))  # (q, f, U, H, p, v)
        self.edge_rows = tuple(e.reshape(2 * chains, *e.shape[2:]) for e in self.edges)
        self.dots = np.empty((6, chains), dtype=np_dtype)
        self.levels = [_SplitLevel(d, chains, dim, np_dtype) for d in range(max_depth)]
