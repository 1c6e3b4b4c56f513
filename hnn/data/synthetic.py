"""Generators for the simulated datasets of the HNN paper (Greydanus, Dzamba & Yosinski 2019).

Each task is a :class:`SimulationRecipe`; :func:`simulate` turns a recipe and a seed into trajectories::

    x0        = system.sample_initial(n_trajectories, generator, **initial_options)     (the paper's recipes)
    x_true    = system.trajectory(x0, t)          t = linspace(t_span[0], t_span[1], n_points)
    dxdt      = system.vector_field(x_true)       exact targets: the field at the *noiseless* state
    x         = x_true + noise_std · N(0, I)      observed states

This is what the paper's ``experiment-spring/data.py`` and ``experiment-pend/data.py`` do (``dydt`` is evaluated on
the solver's states before ``q += randn·noise_std``), so a model is asked to map a noisy state to the clean field.
Two/three-body (``experiment-2body``/``experiment-3body``): no state noise, the field at the integrated state.
Their states use hnn's layout ``[x1, y1, x2, y2, (x3, y3,) px1, py1, ...]`` (q then p, body by body); the paper's
code orders coordinates ``[x1, x2, y1, y2, px1, px2, ...]`` — a fixed permutation, same data. Unit masses, G = 1.
The three-body set keeps the paper's close encounters (minimum pair distance down to ~0.05, |dx/dt| up to ~260 in
the seed-0 set; median of max-|dx/dt| per state 0.8).

Splits are by trajectory and follow the paper's code: spring and pendulum concatenate the 50 trajectories and cut
the point list at 50 % (exactly 25 trajectories, test = the *last* 25); two/three-body cut at 20 % and use the
*first* 20 % as the test set (200 of 1000 orbits, 1000 of 5000 trials). All randomness comes from one
``torch.Generator`` seeded with ``seed`` (initial states first, then noise); the numbers differ from the paper's
NumPy stream but the distributions are the same. Generation runs in float64.
"""
from __future__ import annotations

import functools
import hashlib
import inspect
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from hnn.validate import check_choice, check_int, check_nonnegative, check_real

__all__ = [
    "GENERATOR_VERSION",
    "SimulationRecipe",
    "SIMULATION_RECIPES",
    "simulate",
    "recipe_fingerprint",
]

# Bump when the generation procedure changes in a way the source hash below would not capture.
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class SimulationRecipe:
    """Everything a simulated dataset depends on (besides the seed and the code)."""

    task: str
    system: str  # name for hnn.systems.get
    system_params: dict[str, Any] = field(default_factory=dict)
    n_trajectories: int = 50
    t_span: tuple[float, float] = (0.0, 3.0)
    n_points: int = 30
    noise_std: float = 0.1
    test_fraction: float = 0.5
    test_block: str = "last"  # which trajectories form the test set: "last" or "first" (the paper's code)
    initial_options: dict[str, Any] = field(default_factory=dict)  # keyword options for system.sample_initial
    # Empty: system.trajectory (exact or the float64 reference integration, ~1e-10). Else keyword arguments for
    # hnn.integrate(system, x0, t, **integrator), e.g. the paper's own tolerance for the chaotic three-body data.
    integrator: dict[str, Any] = field(default_factory=dict)
    chunk_size: int | None = None  # integrate this many trajectories per call (None: all at once)

    def __post_init__(self) -> None:
        check_int("n_trajectories", self.n_trajectories, minimum=1)
        check_int("n_points", self.n_points, minimum=2)
        if len(self.t_span) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in self.t_span) \
                or not self.t_span[1] > self.t_span[0]:
            raise ValueError(f"t_span must be (start, end) with finite start < end, got {self.t_span!r}")
        check_nonnegative("noise_std", self.noise_std)
        if not 0.0 < check_real("test_fraction", self.test_fraction) < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction!r}")
        if self.chunk_size is not None:
            check_int("chunk_size", self.chunk_size, minimum=1)
        check_choice("test_block", self.test_block, ("first", "last"))
        n_test = self.n_test
        if n_test < 1 or n_test >= self.n_trajectories:
            raise ValueError(
                f"test_fraction={self.test_fraction} of n_trajectories={self.n_trajectories} gives {n_test} test "
                "trajectories; need at least one test and one train trajectory"
            )

    @property
    def n_test(self) -> int:
        """Number of test trajectories: the paper's ``int(n_points_total · test_fraction)`` in trajectories."""
        return int(self.n_trajectories * self.test_fraction + 1e-9)

    def times(self, dtype: torch.dtype = torch.float64) -> Tensor:
        """The sample times ``linspace(t_span[0], t_span[1], n_points)`` (the paper's ``t_eval``)."""
        return torch.linspace(float(self.t_span[0]), float(self.t_span[1]), self.n_points, dtype=dtype)

    def test_indices(self) -> Tensor:
        """Trajectory indices of the test set (a contiguous block, first or last, per the paper's code)."""
        n, k = self.n_trajectories, self.n_test
        return torch.arange(k) if self.test_block == "first" else torch.arange(n - k, n)

    def train_indices(self) -> Tensor:
        """Trajectory indices of the train set (all that are not test), in order."""
        n, k = self.n_trajectories, self.n_test
        return torch.arange(k, n) if self.test_block == "first" else torch.arange(n - k)

    def with_options(self, **changes: Any) -> "SimulationRecipe":
        """A copy with some fields changed (e.g. fewer trajectories for a quick test)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["t_span"] = [float(v) for v in self.t_span]
        return data


_SQRT_HALF = math.sqrt(0.5)

SIMULATION_RECIPES: dict[str, SimulationRecipe] = {
    # experiment-spring/data.py: H = q² + p², t_eval = linspace(0, 3, 10·3), radius = rand·0.9 + 0.1, noise 0.1
    "spring": SimulationRecipe(
        task="spring", system="spring", n_trajectories=50, t_span=(0.0, 3.0), n_points=30, noise_std=0.1,
        test_fraction=0.5, test_block="last", initial_options={"radius": (0.1, 1.0)},
    ),
    # experiment-pend/data.py: H = 3(1 − cos q) + p², t_eval = linspace(0, 3, 15·3), radius = rand + 1.3, noise 0.1
    "pendulum": SimulationRecipe(
        task="pendulum", system="pendulum", n_trajectories=50, t_span=(0.0, 3.0), n_points=45, noise_std=0.1,
        test_fraction=0.5, test_block="last", initial_options={"radius": (1.3, 2.3)},
    ),
    # experiment-2body/data.py: 1000 near-circular orbits (positions U[0.5, 1.5]² per body, velocity scaled by
    # 1 + 0.05·N(0, 1)), t_eval = linspace(0, 20, 50), no noise, test = first 20 % (sampling: TwoBody.sample_initial)
    "two_body": SimulationRecipe(
        task="two_body", system="two_body", n_trajectories=1000, t_span=(0.0, 20.0), n_points=50, noise_std=0.0,
        test_fraction=0.2, test_block="first",
        initial_options={"orbit_noise": 0.05, "min_radius": 0.5, "max_radius": 1.5},
    ),
    # experiment-3body/data.py: 5000 perturbed Lagrange triangles (radius U[0.9, 1.2], velocity components scaled by
    # 1 + 0.2·U[−1, 1]), t_eval = linspace(0, 5, 20), no noise, test = first 20 % (ThreeBody.sample_initial)
    # Integrated with dopri5 at rtol = atol = 1e-9 (the paper's solve_ivp rtol) rather than the 1e-12 reference:
    # close encounters force tiny shared steps on the whole batch (3.5x more field evaluations at 1e-12), and the
    # derivative targets are the exact field at the integrated states whatever the tolerance. Chunks of 1000.
    "three_body": SimulationRecipe(
        task="three_body", system="three_body", n_trajectories=5000, t_span=(0.0, 5.0), n_points=20, noise_std=0.0,
        test_fraction=0.2, test_block="first",
        initial_options={"orbit_noise": 0.2, "min_radius": 0.9, "max_radius": 1.2},
        integrator={"method": "torchdiffeq:dopri5", "rtol": 1e-9, "atol": 1e-9}, chunk_size=1000,
    ),
    # Dissipative variants (not in the paper): the paper's spring / pendulum Hamiltonians with Rayleigh damping
    # D = γ p²/2, γ = 0.1, same sampling, horizon, noise and split.
    "damped_spring": SimulationRecipe(
        task="damped_spring", system="damped_mass_spring", system_params={"k": 2.0, "m": 0.5, "gamma": 0.1},
        n_trajectories=50, t_span=(0.0, 3.0), n_points=30, noise_std=0.1, test_fraction=0.5, test_block="last",
        initial_options={"radius": (0.1, 1.0)},
    ),
    "damped_pendulum": SimulationRecipe(
        task="damped_pendulum", system="damped_pendulum",
        system_params={"m": 1.0, "l": _SQRT_HALF, "g": 3.0 / _SQRT_HALF, "gamma": 0.1},
        n_trajectories=50, t_span=(0.0, 3.0), n_points=45, noise_std=0.1, test_fraction=0.5, test_block="last",
        initial_options={"radius": (1.3, 2.3)},
    ),
}


@functools.lru_cache(maxsize=None)
def _file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _source_sha256(obj: Any) -> str:
    """SHA-256 (16 hex digits) of the source file defining ``obj``, read once per process (the code that runs)."""
    try:
        path = inspect.getsourcefile(obj)
    except TypeError:
        path = None
    return _file_sha256(path) if path else "unknown"


_THIS_SOURCE = _file_sha256(__file__)  # hashed at import: edits after import do not change this process's key


def recipe_fingerprint(recipe: SimulationRecipe, seed: int, system: Any) -> dict[str, Any]:
    """The cache key material: every recipe field, the seed and the code version (generator version + SHA-256 of
    this module's and the system class's source files)."""
    return {
        "kind": "simulation",
        "recipe": recipe.to_dict(),
        "seed": int(seed),
        "code": {
            "generator_version": GENERATOR_VERSION,
            "generator_source": _THIS_SOURCE,
            "system_class": f"{type(system).__module__}.{type(system).__qualname__}",
            "system_source": _source_sha256(type(system)),
        },
    }


def build_system(recipe: SimulationRecipe) -> Any:
    """The ground-truth ``hnn.systems`` object of a recipe."""
    import hnn.systems

    return hnn.systems.get(recipe.system, **recipe.system_params)


def _rollout(system: Any, x0: Tensor, t: Tensor, integrator: dict[str, Any]) -> Tensor:
    """``[T, n, dim]`` float64 trajectories: system.trajectory, or hnn.integrate with the recipe's options."""
    if not integrator:
        return system.trajectory(x0, t).to(torch.float64)
    from hnn.integrators import integrate

    return integrate(system, x0, t, **integrator).to(torch.float64)


def simulate(recipe: SimulationRecipe, seed: int = 0, system: Any | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Tensor]:
    """Generate the dataset of ``recipe`` (float64, CPU); ``progress`` receives a line per integrated chunk.

    Returns ``{"t": [T], "x": [N, T, dim] observed (noisy), "x_true": [N, T, dim], "dxdt": [N, T, dim] exact field
    at x_true, "x0": [N, dim]}``.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    system = build_system(recipe) if system is None else system
    generator = torch.Generator(device="cpu").manual_seed(seed)
    x0 = system.sample_initial(recipe.n_trajectories, generator, dtype=torch.float64, **recipe.initial_options)
    t = recipe.times(torch.float64)
    chunk = recipe.chunk_size or recipe.n_trajectories
    threads = torch.get_num_threads()
    try:
        # The tensors are small ([chunk, dim]); intra-op threading only adds synchronisation (badly so on a busy
        # machine: 10-50x slower reductions measured with 2 threads under load), so generate single-threaded.
        torch.set_num_threads(1)
        with torch.no_grad():
            pieces = []
            start = time.perf_counter()
            for i in range(0, len(x0), chunk):
                pieces.append(_rollout(system, x0[i:i + chunk], t, recipe.integrator))
                if progress is not None and chunk < len(x0):
                    done = min(i + chunk, len(x0))
                    progress(f"{recipe.task}: integrated {done}/{len(x0)} trajectories "
                             f"({time.perf_counter() - start:.1f} s)")
            x_true = torch.cat(pieces, dim=1).transpose(0, 1).contiguous()  # [T, N, dim] -> [N, T, dim]
            dxdt = system.vector_field(x_true)
    finally:
        torch.set_num_threads(threads)
    if not bool(torch.isfinite(x_true).all()):
        raise RuntimeError(f"{recipe.task}: the reference trajectories contain non-finite values")
    noise = torch.randn(x_true.shape, generator=generator, dtype=torch.float64)
    x = x_true + recipe.noise_std * noise if recipe.noise_std > 0 else x_true.clone()
    return {"t": t, "x": x, "x_true": x_true, "dxdt": dxdt, "x0": x0}
