"""A batched cross-entropy-method (CEM) model-predictive planner.

The planner chooses the next action of a system from its current state by optimising an open-loop action sequence
of ``horizon`` steps through a *dynamics function*

    step(state [N, d], action [N, ...]) -> (next_state [N, d], reward [N], terminated [N] bool),

evaluating ``samples`` = N candidate sequences as one batch (actions: ``[N, action_dim]`` floats for the Gaussian
distribution, integer ``[N]`` for the categorical and Bernoulli ones). The *value* of a sequence is its return
plus an optional shaping term::

    value = Σ_t alive_t · r_t  +  shaping(rollout)

where ``alive_t`` is True until the step on which the sequence terminates (that step's reward counts, later ones do
not: a CartPole sequence that drops the pole loses the rest of the horizon). A next state or reward that is not
finite before termination (a learned model leaving the region it knows) gives the sequence the value −inf (the
rollout then continues from its last finite state, so one bad sequence never spoils the batch).

One call of :meth:`CEMPlanner.plan` (the algorithm):

1. **Warm start.** The initial distribution is the previous plan's final distribution shifted one step forward in
   time (step t+1 becomes step t); the step shifted in at the end gets the prior. The shifted distribution is then
   pulled toward the prior by ``pull`` (``p ← p + pull·(prior − p)``; for the Gaussian this moves the mean, and the
   standard deviation is always reset to the prior's, so the search never starts collapsed). The first call, and
   the first after :meth:`CEMPlanner.reset`, start from the prior.
2. **Kept sample.** The previous call's best sequence, shifted one step (its last action a draw of the prior), is
   candidate 0 of the first iteration, so a good plan is never lost between steps.
3. **Iterations** (``iterations`` times): draw the candidates from the distribution (slot 0 holds the best sequence
   found so far — the kept one in the first iteration), evaluate them in one batch, take the ``elites`` best, fit
   the distribution to them and smooth: ``new = smoothing·old + (1 − smoothing)·elite estimate`` (``smoothing`` is
   the weight of the old distribution; 0 replaces it by the elite estimate).
4. **Act.** Return the first action of the best sequence found over all iterations. Since the incumbent is always
   re-evaluated as a candidate, the returned sequence's value is at least the kept sequence's (for deterministic
   dynamics).

Distributions (``distribution=``):

============  ===========================================  ================================================
name          actions                                      elite estimate
============  ===========================================  ================================================
gaussian      Box: mean + std·ε clipped to [low, high];    per-step mean and (population) standard deviation
              ε ~ N(0, 1) per step, or held over blocks    of the clipped elite actions; prior: mean at the
              of ``block`` steps                           box centre, std half its width (``init_std``)
categorical   Discrete(n): per-step probabilities over n   per-step elite action frequencies; prior uniform
bernoulli     Discrete(2): per-step P(action = 1)          per-step elite mean of the actions; prior 0.5
============  ===========================================  ================================================

Several problems at once (:meth:`CEMPlanner.plan_batch`, e.g. one per evaluation episode): each row keeps its own
distribution, kept sequence and generator, and only the evaluation is shared — the B·N candidates of an iteration
are one call of the dynamics per step.

Randomness comes from the planner's own ``torch.Generator``, one per row (seeded by ``seed``, reseeded by
:meth:`CEMPlanner.reset`), created on the state's device; samples and values follow the state's device and float
dtype, so the same seed and state give the same plan.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from hnn.validate import check_choice, check_int, check_real

__all__ = ["CEMPlanner", "PlannerRow", "Dynamics", "Rollout", "DISTRIBUTIONS"]

# step(state [N, d], action [N, ...]) -> (next_state [N, d], reward [N], terminated [N])
Dynamics = Callable[[Tensor, Tensor], "tuple[Tensor, Tensor, Tensor]"]

DISTRIBUTIONS = ("gaussian", "categorical", "bernoulli")


@dataclass
class Rollout:
    """The evaluation of N action sequences from one start state (what a ``shaping`` callable receives).

    Attributes:
        states: ``[H + 1, N, d]``, the start state then the state after each step.
        actions: ``[N, H, ...]``, the sequences.
        rewards: ``[H, N]``, the dynamics' reward of each step (also after termination; 0 where it was not
            finite).
        alive: ``[H, N]`` bool, True where step t's reward counts (the sequence had not terminated before step t).
        terminated: ``[H, N]`` bool, the dynamics' termination flag of step t's next state.
        returns: ``[N]``, Σ_t alive_t · r_t (−inf for a sequence that left the finite numbers).
    """

    states: Tensor
    actions: Tensor
    rewards: Tensor
    alive: Tensor
    terminated: Tensor
    returns: Tensor


@dataclass
class PlannerRow:
    """The planner's memory of one problem (one episode): its generator's seed and generator, and after a call the
    best sequence ``last_plan [H, ...]`` and its value ``last_value``, the kept sequence of the first iteration
    ``last_kept`` (None on a first call), and the ``initial_distribution`` / ``final_distribution`` of the call."""

    seed: int
    generator: torch.Generator | None = None
    last_plan: Tensor | None = None
    last_value: float | None = None
    last_kept: Tensor | None = None
    initial_distribution: dict[str, Tensor] | None = None
    final_distribution: dict[str, Tensor] | None = None


class _Distribution:
    """A per-step sampling distribution over action sequences; ``params`` is a dict of ``[H, ...]`` tensors."""

    def prior(self, horizon: int, like: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError

    def sample(self, params: dict[str, Tensor], n: int, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def fit(self, elites: Tensor) -> dict[str, Tensor]:
        raise NotImplementedError

    def warm_start(self, params: dict[str, Tensor], pull: float) -> dict[str, Tensor]:
        """Shift one step forward, the last step from the prior, then pull toward the prior by ``pull``."""
        horizon = next(iter(params.values())).shape[0]
        prior = self.prior(horizon, next(iter(params.values())))
        shifted = {k: torch.cat([v[1:], prior[k][-1:]], 0) for k, v in params.items()}
        return {k: v + pull * (prior[k] - v) for k, v in shifted.items()}


class _Gaussian(_Distribution):
    def __init__(self, low: Tensor, high: Tensor, init_std: Tensor, block: int) -> None:
        self.low, self.high, self.init_std, self.block = low, high, init_std, block

    def _bounds(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        kw = {"dtype": like.dtype, "device": like.device}
        return self.low.to(**kw), self.high.to(**kw), self.init_std.to(**kw)

    def prior(self, horizon: int, like: Tensor) -> dict[str, Tensor]:
        low, high, std = self._bounds(like)
        return {"mean": ((low + high) / 2).expand(horizon, -1).clone(), "std": std.expand(horizon, -1).clone()}

    def sample(self, params: dict[str, Tensor], n: int, generator: torch.Generator) -> Tensor:
        mean, std = params["mean"], params["std"]
        horizon, dim = mean.shape
        blocks = -(-horizon // self.block)
        noise = torch.randn((n, blocks, dim), generator=generator, dtype=mean.dtype, device=mean.device)
        noise = noise.repeat_interleave(self.block, dim=1)[:, :horizon]
        low, high, _ = self._bounds(mean)
        return torch.clamp(mean + std * noise, low, high)

    def fit(self, elites: Tensor) -> dict[str, Tensor]:
        return {"mean": elites.mean(0), "std": elites.std(0, correction=0)}

    def warm_start(self, params: dict[str, Tensor], pull: float) -> dict[str, Tensor]:
        shifted = super().warm_start(params, pull)
        shifted["std"] = self.prior(shifted["std"].shape[0], shifted["std"])["std"]
        return shifted


class _Categorical(_Distribution):
    def __init__(self, n_actions: int) -> None:
        self.n_actions = n_actions

    def prior(self, horizon: int, like: Tensor) -> dict[str, Tensor]:
        return {"probs": torch.full((horizon, self.n_actions), 1.0 / self.n_actions, dtype=like.dtype,
                                    device=like.device)}

    def sample(self, params: dict[str, Tensor], n: int, generator: torch.Generator) -> Tensor:
        probs = params["probs"]
        cdf = probs.cumsum(-1)
        u = torch.rand((n, probs.shape[0], 1), generator=generator, dtype=probs.dtype, device=probs.device)
        u = u * cdf[:, -1:]  # normalised by the row sum: round-off never leaves u above the last bin
        return (u >= cdf).sum(-1).clamp_(max=self.n_actions - 1)

    def fit(self, elites: Tensor) -> dict[str, Tensor]:
        counts = torch.nn.functional.one_hot(elites, self.n_actions).sum(0)
        return {"probs": counts.to(torch.float64) / elites.shape[0]}


class _Bernoulli(_Distribution):
    def prior(self, horizon: int, like: Tensor) -> dict[str, Tensor]:
        return {"p": torch.full((horizon,), 0.5, dtype=like.dtype, device=like.device)}

    def sample(self, params: dict[str, Tensor], n: int, generator: torch.Generator) -> Tensor:
        p = params["p"]
        u = torch.rand((n, p.shape[0]), generator=generator, dtype=p.dtype, device=p.device)
        return (u < p).to(torch.int64)

    def fit(self, elites: Tensor) -> dict[str, Tensor]:
        return {"p": elites.to(torch.float64).mean(0)}


def _as_bound(name: str, value: float | Sequence[float] | Tensor) -> Tensor:
    if isinstance(value, Tensor):
        bound = value.detach().to(torch.float64).reshape(-1)
    else:
        values = [value] if not isinstance(value, Sequence) else list(value)
        bound = torch.tensor([check_real(f"{name}[{i}]", v) for i, v in enumerate(values)], dtype=torch.float64)
    if bound.numel() == 0 or not bool(torch.isfinite(bound).all()):
        raise ValueError(f"{name} must be finite numbers, got {bound.tolist()}")
    return bound


class CEMPlanner:
    """Batched CEM model-predictive planner (module docstring: the algorithm and the contract).

    Args:
        dynamics: ``step(state [N, d], action [N, ...]) -> (next_state, reward, terminated)``, deterministic for the
            kept-sample guarantee; called under ``torch.no_grad()``.
        distribution: ``"gaussian"`` (Box actions; needs ``action_low``/``action_high``), ``"categorical"``
            (Discrete(``n_actions``)) or ``"bernoulli"`` (Discrete(2)).
        horizon: steps per sequence (≥ 1).  samples: candidate sequences per iteration (≥ 2).
        iterations: CEM iterations per call (≥ 1).  elites: best candidates the distribution is fitted to
            (1 ≤ elites ≤ samples).
        smoothing: weight of the old distribution in each update, in [0, 1).
        pull: how far the warm-started distribution is pulled back toward the prior after each shift, in [0, 1]
            (0 keeps the shifted plan, 1 restarts from the prior).
        n_actions: number of discrete actions (categorical: ≥ 2; bernoulli: 2 or None).
        action_low, action_high: Box bounds (numbers or one per action entry; gaussian only).
        init_std: the prior standard deviation (a number or one per entry); default half the box width.
        block: the Gaussian noise is held constant over blocks of ``block`` steps (≥ 1).
        shaping: optional ``shaping(rollout: Rollout) -> [N]`` added to the returns (an objective or a
            tie-break; it must be finite where the return is).
        seed: seed of the planner's generator.

    State: ``rows``, one :class:`PlannerRow` per problem (one after construction; ``reset(seed=[...])`` makes one
    per seed for :meth:`plan_batch`). After :meth:`plan`: ``last_plan`` (the best sequence ``[H, ...]``),
    ``last_value`` (its value), ``last_kept`` (the kept sequence of the first iteration, None on a first call),
    ``initial_distribution`` and ``final_distribution`` (dicts of ``[H, ...]`` tensors: ``mean``/``std``, ``probs``
    or ``p``) — row 0's.
    """

    def __init__(self, dynamics: Dynamics, *, distribution: str, horizon: int, samples: int, iterations: int,
                 elites: int, smoothing: float = 0.0, pull: float = 0.0, n_actions: int | None = None,
                 action_low: float | Sequence[float] | Tensor | None = None,
                 action_high: float | Sequence[float] | Tensor | None = None,
                 init_std: float | Sequence[float] | Tensor | None = None, block: int = 1,
                 shaping: Callable[[Rollout], Tensor] | None = None, seed: int = 0) -> None:
        if not callable(dynamics):
            raise TypeError(f"dynamics must be a callable step(state, action) -> (next_state, reward, terminated), "
                            f"got {type(dynamics).__name__}")
        if shaping is not None and not callable(shaping):
            raise TypeError(f"shaping must be a callable shaping(rollout) -> [N] or None, got "
                            f"{type(shaping).__name__}")
        self.distribution = check_choice("distribution", distribution, DISTRIBUTIONS)
        self.horizon = check_int("horizon", horizon, minimum=1)
        self.samples = check_int("samples", samples, minimum=2)
        self.iterations = check_int("iterations", iterations, minimum=1)
        self.elites = check_int("elites", elites, minimum=1)
        if self.elites > self.samples:
            raise ValueError(f"elites must be at most samples ({self.samples}), got {self.elites}")
        self.smoothing = check_real("smoothing", smoothing)
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1) (the weight of the old distribution), got {smoothing!r}")
        self.pull = check_real("pull", pull)
        if not 0.0 <= self.pull <= 1.0:
            raise ValueError(f"pull must be in [0, 1], got {pull!r}")
        self.block = check_int("block", block, minimum=1)
        if self.block > 1 and self.distribution != "gaussian":
            raise ValueError(f"block applies to the gaussian distribution only, got block={block} with "
                             f"{self.distribution!r}")
        self.dynamics, self.shaping = dynamics, shaping
        self.seed = check_int("seed", seed)
        self._dist = self._make_distribution(n_actions, action_low, action_high, init_std)
        self.rows: list[PlannerRow] = [PlannerRow(seed=self.seed)]

    def _make_distribution(self, n_actions, action_low, action_high, init_std) -> _Distribution:
        if self.distribution == "gaussian":
            if n_actions is not None:
                raise ValueError("the gaussian distribution is for Box actions: pass action_low/action_high, not "
                                 f"n_actions={n_actions!r}")
            if action_low is None or action_high is None:
                raise ValueError("the gaussian distribution needs action_low and action_high (the Box bounds)")
            low, high = _as_bound("action_low", action_low), _as_bound("action_high", action_high)
            low, high = torch.broadcast_tensors(low, high)
            if not bool((low < high).all()):
                raise ValueError(f"action_low must be below action_high, got {low.tolist()} and {high.tolist()}")
            std = (high - low) / 2 if init_std is None else _as_bound("init_std", init_std).expand_as(low)
            if not bool((std > 0).all()):
                raise ValueError(f"init_std must be > 0, got {std.tolist()}")
            self.action_dim = int(low.numel())
            return _Gaussian(low.clone(), high.clone(), std.clone(), self.block)
        if action_low is not None or action_high is not None or init_std is not None:
            raise ValueError(f"action_low/action_high/init_std are for the gaussian distribution, not "
                             f"{self.distribution!r}")
        self.action_dim = None
        if self.distribution == "bernoulli":
            if n_actions is not None and (isinstance(n_actions, bool) or n_actions != 2):
                raise ValueError(f"the bernoulli distribution has 2 actions, got n_actions={n_actions!r}")
            return _Bernoulli()
        if n_actions is None:
            raise ValueError("the categorical distribution needs n_actions (the size of the Discrete space)")
        return _Categorical(check_int("n_actions", n_actions, minimum=2))

    # ------------------------------------------------------------------ state
    def reset(self, seed: int | Sequence[int] | None = None) -> None:
        """Forget every previous plan (the next call starts from the prior) and reseed.

        ``seed``: an int (one row, :meth:`plan`), a sequence of ints (one row per seed, for :meth:`plan_batch`:
        row i gets its own generator seeded with ``seed[i]``), or None (one row with the current ``seed``).
        """
        if seed is None:
            seeds = [self.seed]
        elif isinstance(seed, Sequence) and not isinstance(seed, (str, bytes)):
            seeds = [check_int(f"seed[{i}]", s) for i, s in enumerate(seed)]
            if not seeds:
                raise ValueError("reset(seed=[...]) needs at least one seed (one per row)")
        else:
            seeds = [check_int("seed", seed)]
        self.seed = seeds[0]
        self.rows = [PlannerRow(seed=s) for s in seeds]

    def _generator(self, row: "PlannerRow", device: torch.device) -> torch.Generator:
        if row.generator is None or row.generator.device != device:
            row.generator = torch.Generator(device=device)
            row.generator.manual_seed(row.seed)
        return row.generator

    # the single-row view (row 0) used by plan()
    @property
    def generator(self) -> torch.Generator | None:
        return self.rows[0].generator

    @property
    def last_plan(self) -> Tensor | None:
        return self.rows[0].last_plan

    @property
    def last_value(self) -> float | None:
        return self.rows[0].last_value

    @property
    def last_kept(self) -> Tensor | None:
        return self.rows[0].last_kept

    @property
    def initial_distribution(self) -> dict[str, Tensor] | None:
        return self.rows[0].initial_distribution

    @property
    def final_distribution(self) -> dict[str, Tensor] | None:
        return self.rows[0].final_distribution

    @staticmethod
    def _check_states(states: Tensor, name: str, dim: int) -> Tensor:
        shape = "one state of shape [d]" if dim == 1 else "a batch of states of shape [B, d]"
        if not isinstance(states, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor ({shape}), got {type(states).__name__}")
        if states.dim() != dim or states.numel() == 0:
            raise ValueError(f"{name} must be {shape}, got shape {tuple(states.shape)}")
        if not states.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor (its dtype sets the planner's), got "
                            f"{states.dtype}")
        if not bool(torch.isfinite(states).all()):
            raise ValueError(f"{name} must be finite, got {states.tolist()}")
        return states.detach()

    def _check_state(self, state: Tensor) -> Tensor:
        return self._check_states(state, "state", 1)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Rollout]:
        """Values ``[N]`` of the sequences ``actions [N, H, ...]`` from ``state [d]``, and their rollout."""
        state = self._check_state(state)
        values, rollout = self._evaluate(state[None], actions[None])
        return values[0], rollout

    def _evaluate(self, states: Tensor, actions: Tensor) -> tuple[Tensor, Rollout]:
        """Values ``[B, N]`` of ``actions [B, N, H, ...]`` from ``states [B, d]`` in one batch of B·N sequences;
        the rollout covers the B·N sequences row-major (sequence j of start b is b·N + j)."""
        b, n, horizon = actions.shape[0], actions.shape[1], actions.shape[2]
        actions = actions.reshape(b * n, *actions.shape[2:])
        s = states.repeat_interleave(n, dim=0)
        dtype, device = states.dtype, states.device
        returns = torch.zeros(b * n, dtype=dtype, device=device)
        alive = torch.ones(b * n, dtype=torch.bool, device=device)
        invalid = torch.zeros_like(alive)
        all_states, rewards, alives, terms = [s], [], [], []
        with torch.no_grad():
            for t in range(horizon):
                out = self.dynamics(s, actions[:, t])
                if not isinstance(out, tuple) or len(out) != 3:
                    raise TypeError("dynamics must return (next_state, reward, terminated), got "
                                    f"{type(out).__name__}")
                nxt, reward, term = out
                if t == 0:
                    self._check_step(nxt, reward, term, s)
                nxt = nxt.to(dtype)
                reward = reward.to(dtype)
                bad = ~(torch.isfinite(nxt).all(-1) & torch.isfinite(reward))
                invalid |= bad & alive
                nxt = torch.where(bad[:, None], s, nxt)
                reward = torch.where(bad, torch.zeros_like(reward), reward)
                returns += torch.where(alive, reward, torch.zeros_like(reward))
                alives.append(alive)
                rewards.append(reward)
                terms.append(term)
                alive = alive & ~term
                s = nxt
                all_states.append(s)
        returns = torch.where(invalid, torch.full_like(returns, -math.inf), returns)
        rollout = Rollout(states=torch.stack(all_states), actions=actions, rewards=torch.stack(rewards),
                          alive=torch.stack(alives), terminated=torch.stack(terms), returns=returns)
        values = returns
        if self.shaping is not None:
            extra = self.shaping(rollout)
            if not isinstance(extra, Tensor) or extra.shape != (b * n,):
                raise ValueError(f"shaping must return a tensor of shape [{b * n}] (one value per sequence), got "
                                 f"{getattr(extra, 'shape', type(extra).__name__)}")
            values = values + extra.to(values.dtype)
        values = torch.where(invalid | torch.isnan(values), torch.full_like(values, -math.inf), values)
        return values.reshape(b, n), rollout

    @staticmethod
    def _check_step(nxt: Tensor, reward: Tensor, term: Tensor, s: Tensor) -> None:
        n = s.shape[0]
        if not isinstance(nxt, Tensor) or nxt.shape != s.shape:
            raise ValueError(f"dynamics returned a next state of shape {getattr(nxt, 'shape', type(nxt).__name__)}"
                             f" for states of shape {tuple(s.shape)}; it must keep the shape")
        if not isinstance(reward, Tensor) or reward.shape != (n,):
            raise ValueError(f"dynamics returned a reward of shape {getattr(reward, 'shape', type(reward).__name__)}"
                             f"; it must be [{n}]")
        if not isinstance(term, Tensor) or term.shape != (n,) or term.dtype != torch.bool:
            raise ValueError(f"dynamics returned terminated {getattr(term, 'shape', type(term).__name__)} of dtype "
                             f"{getattr(term, 'dtype', None)}; it must be a bool tensor of shape [{n}]")

    # ------------------------------------------------------------------ planning
    def plan(self, state: Tensor) -> Tensor:
        """The first action of the best sequence found from ``state [d]``: a ``[action_dim]`` tensor (gaussian, in
        the state's dtype) or a 0-d int64 tensor (categorical, bernoulli). Warm-starts from the previous call
        (row 0 of the planner's state)."""
        state = self._check_state(state)
        return self._plan(state[None], [self.rows[0]])[0]

    def plan_batch(self, states: Tensor, rows: Sequence[int] | None = None) -> Tensor:
        """:meth:`plan` for B independent problems at once: ``states [B, d]``, state b planned as row ``rows[b]``
        (default: rows 0..B−1) with that row's own generator, warm start and kept sequence; the B·N candidate
        sequences of an iteration go through the dynamics as one batch. Returns the B first actions
        (``[B, action_dim]`` or int64 ``[B]``). Rows come from :meth:`reset` (``reset(seed=[s0, s1, ...])``); a row's
        draws depend only on its seed, so a row plans what :meth:`plan` would from the same seed and states (up to
        the floating-point effect of the batch size on the dynamics)."""
        states = self._check_states(states, "states", 2)
        rows = list(range(states.shape[0])) if rows is None else list(rows)
        if len(rows) != states.shape[0]:
            raise ValueError(f"rows must name one planner row per state: {len(rows)} rows for {states.shape[0]} "
                             "states")
        if len(set(rows)) != len(rows):
            raise ValueError(f"rows must be distinct, got {rows}")
        for r in rows:
            if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < len(self.rows):
                raise ValueError(f"row {r!r} is not one of the planner's {len(self.rows)} rows: "
                                 "reset(seed=[s0, s1, ...]) makes one row per seed")
        return self._plan(states, [self.rows[r] for r in rows])

    def _plan(self, states: Tensor, rows: "list[PlannerRow]") -> Tensor:
        dist, device = self._dist, states.device
        generators = [self._generator(row, device) for row in rows]
        params, incumbents, best_values = [], [], []
        for row, gen, state in zip(rows, generators, states):
            if row.final_distribution is None:
                p = dist.prior(self.horizon, state)
            else:
                p = dist.warm_start({k: v.to(state) for k, v in row.final_distribution.items()}, self.pull)
            row.initial_distribution = {k: v.clone() for k, v in p.items()}
            incumbent = None
            if row.last_plan is not None:
                fresh = dist.sample(dist.prior(self.horizon, state), 1, gen)[0]
                incumbent = torch.cat([row.last_plan[1:], fresh[-1:]], 0)
            row.last_kept = None if incumbent is None else incumbent.clone()
            params.append(p)
            incumbents.append(incumbent)
            best_values.append(-math.inf)
        for _ in range(self.iterations):
            actions = []
            for p, gen, incumbent in zip(params, generators, incumbents):
                a = dist.sample(p, self.samples, gen)
                if incumbent is not None:
                    a[0] = incumbent
                actions.append(a)
            batch = torch.stack(actions)
            values, _ = self._evaluate(states, batch)
            for i, (a, v) in enumerate(zip(batch, values)):
                order = torch.argsort(v, descending=True, stable=True)
                if incumbents[i] is None or float(v[order[0]]) >= best_values[i]:
                    best_values[i] = float(v[order[0]])
                    incumbents[i] = a[order[0]].clone()
                elite = dist.fit(a[order[: self.elites]])
                params[i] = {k: self.smoothing * params[i][k] + (1.0 - self.smoothing) * elite[k].to(params[i][k])
                             for k in params[i]}
        for row, p, incumbent, value in zip(rows, params, incumbents, best_values):
            row.final_distribution = p
            row.last_plan, row.last_value = incumbent, value
        return torch.stack([incumbent[0] for incumbent in incumbents]).clone()

    def __repr__(self) -> str:
        return (f"CEMPlanner({self.distribution}, horizon={self.horizon}, samples={self.samples}, iterations="
                f"{self.iterations}, elites={self.elites}, smoothing={self.smoothing:g}, pull={self.pull:g}"
                + (f", block={self.block}" if self.block > 1 else "") + ")")
