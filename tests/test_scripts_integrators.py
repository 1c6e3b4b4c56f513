"""Smoke tests of scripts/plot_integrators.py and scripts/bench_integrators.py (fast: small runs only), and of the
benchmark's helpers in hnn.experiments.integrators.

The scripts are loaded from their files (scripts/ is not a package) and run in-process through main(argv).
"""
from __future__ import annotations

import importlib.util
import math
import struct
import sys
from pathlib import Path
from types import ModuleType

import pytest

from hnn.experiments.integrators import fewest_steps, our_methods

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_scripts_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def plot() -> ModuleType:
    return _load("plot_integrators")


@pytest.fixture(scope="module")
def experiment() -> ModuleType:
    import hnn.experiments.integrators

    return hnn.experiments.integrators


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _load("bench_integrators")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_a_png_with_content_and_a_physical_summary(experiment, tmp_path):
    out = tmp_path / "new_folder" / "integrators.png"  # the folder does not exist yet: the script creates it
    summary = experiment.make_figure(str(out), periods=3.0, dpi=40)

    width, height = _png_size(out)
    assert (width, height) == (round(20.0 * 40), round(10.2 * 40))  # 4 columns of 5 in, 10.2 in tall, at 40 dpi
    import matplotlib.image

    pixels = matplotlib.image.imread(str(out))
    assert pixels.std() > 0.05, "the image is (nearly) blank"
    assert sorted(p.name for p in out.parent.iterdir()) == ["integrators.png"], "temp file left behind"

    # Every method was run on every case; the numbers behave as the physics says (they can fail if the rollouts
    # or the energy bookkeeping in the script are wrong).
    cases = {(system, steps) for system, steps, _ in summary}
    assert cases == {("spring", 60), ("spring", 10), ("pendulum", 60), ("pendulum", 10)}
    for system, steps in cases:
        errors = {m: summary[(system, steps, m)] for m in experiment.METHODS}
        # Euler's energy grows without bound: over 3 periods it ends far above leapfrog's bounded error.
        assert errors["euler"] > 10 * errors["leapfrog"]
        # Higher order at the same step: Yoshida 6 beats leapfrog.
        assert errors["yoshida6"] < errors["leapfrog"]
    # Implicit midpoint conserves quadratic invariants exactly, so on H = q² + p² only round-off remains:
    # 180 steps of float64 Newton solved to 1e-12 relative leave |ΔH|/H0 far below 1e-10.
    assert summary[("spring", 60, "implicit_midpoint")] < 1e-10
    assert summary[("spring", 10, "implicit_midpoint")] < 1e-10


def test_plot_command_line_prints_where_and_summary(plot, tmp_path, capsys):
    out = tmp_path / "cli.png"
    plot.main(["--out", str(out), "--periods", "1", "--small-steps", "20", "--large-steps", "10", "--dpi", "30"])
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert "max |H(t) - H0| / H0" in printed
    for method in plot.METHODS:
        assert method in printed
    assert _png_size(out)[0] > 0


def test_plot_rejects_bad_arguments(plot, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        plot.main(["--out", str(tmp_path / "figure.jpg")])
    assert exit_info.value.code == 2
    assert ".png" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        plot.main(["--out", str(tmp_path / "x.png"), "--periods", "0"])
    assert "periods must be > 0" in capsys.readouterr().err


def test_benchmark_quick_run_prints_every_table(bench, capsys):
    import torch

    threads_before = torch.get_num_threads()
    bench.main(["--quick", "--repeats", "1"])
    assert torch.get_num_threads() == threads_before, "the benchmark must restore torch's thread count"
    printed = capsys.readouterr().out
    for heading in ("== Throughput", "== RK4 at equal steps", "== Equal accuracy", "summary"):
        assert heading in printed
    for method in our_methods():
        assert f"\n{method} " in printed, f"no throughput row for {method}"
    assert "torchdiffeq:dopri5" in printed and "torchdiffeq:rk4" in printed
    assert "equal steps, torchdiffeq:rk4 time / ours rk4" in printed
    assert "goal, ours at least as fast as torchdiffeq:" in printed


def test_benchmark_rejects_unknown_method_and_bad_batches(bench, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--quick", "--methods", "rk4,rk5"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "'rk5'" in err and "leapfrog" in err  # names the bad one and lists the valid ones
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--batches", "1,0"])
    assert "batch sizes must be integers >= 1" in capsys.readouterr().err


@pytest.mark.parametrize("target", [1e-3, 1e-6, 3.7e-9])
@pytest.mark.parametrize("start", [4, 64, 5000])
def test_fewest_steps_finds_the_minimum_of_a_model_error(target, start):
    # A 4th-order error model e(N) = 7·N^-4 (blown up, inf, below 3 steps): the true minimum is
    # ceil((7/target)^(1/4)); the search promises the smallest passing N to within 1 %.
    def error_at(steps: int) -> float:
        return math.inf if steps < 3 else 7.0 * steps ** -4.0

    exact = math.ceil((7.0 / target) ** 0.25)
    found = fewest_steps(error_at, target, order=4, start=start)
    assert error_at(found) <= target
    assert exact <= found <= max(exact + 1, math.ceil(1.01 * exact))


def test_interleaved_timing_rounds_warmups_and_results():
    # the benchmark's harness (hnn.experiments.timing): warm-ups first (substitutes where given), then rounds of
    # every function in order; each result is released before that function's next timed call
    import weakref

    import torch

    from hnn.experiments.timing import time_calls, time_interleaved

    calls: list[str] = []
    alive_at_call: list[bool] = []
    last: dict[str, weakref.ref] = {}

    def make(name: str):
        def run() -> torch.Tensor:
            calls.append(name)
            if name in last:
                alive_at_call.append(last[name]() is not None)
            out = torch.zeros(3)
            last[name] = weakref.ref(out)
            return out
        return run

    timings = time_interleaved({"a": make("a"), "b": make("b")}, repeats=3, warmup=1,
                               warmup_fns={"b": lambda: calls.append("b-short")})
    assert calls == ["a", "b-short", "a", "b", "a", "b", "a", "b"]
    assert list(timings) == ["a", "b"]
    assert all(len(t.wall) == 3 and len(t.cpu) == 3 and min(t.wall) >= 0.0 for t in timings.values())
    assert timings["a"].minimum <= timings["a"].median <= timings["a"].maximum
    assert not any(alive_at_call), "a previous result was still alive when the next timed call started"
    assert isinstance(timings["b"].result, torch.Tensor)  # the last result is kept ...
    assert time_interleaved({"a": make("a")}, repeats=2, keep_result=False)["a"].result is None  # ... unless not

    single = time_calls(lambda: 7, repeats=4, warmup=0)
    assert len(single.wall) == 4 and single.result == 7
    with pytest.raises(ValueError, match="repeats"):
        time_calls(lambda: None, repeats=0)
    with pytest.raises(TypeError, match="callable"):
        time_calls(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        time_interleaved({})
    with pytest.raises(ValueError, match="not in fns"):
        time_interleaved({"a": make("a")}, warmup_fns={"z": make("z")})
