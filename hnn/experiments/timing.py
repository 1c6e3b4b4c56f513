"""The one timing harness of hnn's benchmarks: wall and CPU seconds of repeated calls.

- :func:`time_calls` -- one function: ``warmup`` untimed calls, then ``repeats`` timed calls.
- :func:`time_interleaved` -- several functions under the same conditions: ``warmup`` untimed calls of each, then
  ``repeats`` rounds in which every function is called once, in order (machine noise then hits all of them alike,
  so their ratios are steadier than their absolute times).

Each timed call is bracketed by ``time.perf_counter`` (wall) and ``time.process_time`` (CPU of this process). A
call's return value is released outside the timed region: before the same function's next timed call, or right
after the call with ``keep_result=False``. So freeing a large result (an autograd graph, say) is never counted, and
no function ever has more than one result alive; the last one is kept as ``Timing.result`` (None with
``keep_result=False``). Warm-up results are dropped at once.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hnn.validate import check_bool, check_int

__all__ = ["Timing", "time_calls", "time_interleaved"]

Key = TypeVar("Key", bound=Hashable)


@dataclass
class Timing:
    """Wall and CPU seconds per timed call, and the last call's return value."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    result: Any = None

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def minimum(self) -> float:
        return min(self.wall)

    @property
    def maximum(self) -> float:
        return max(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    def __str__(self) -> str:
        return f"{self.median:.4g} s (median of {len(self.wall)}; {self.minimum:.4g}–{self.maximum:.4g})"


def _check_callable(name: str, fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"{name} must be a callable taking no arguments, got {type(fn).__name__}")


def time_interleaved(fns: Mapping[Key, Callable[[], Any]], repeats: int = 5, warmup: int = 1,
                     warmup_fns: Mapping[Key, Callable[[], Any]] | None = None,
                     keep_result: bool = True) -> dict[Key, Timing]:
    """``{key: Timing}`` of every ``fns[key]()``: ``warmup`` untimed rounds, then ``repeats`` timed rounds, each round
    calling every function once in the mapping's order.

    ``warmup_fns[key]``, where given, is called in the warm-up rounds instead of ``fns[key]`` (e.g. a short version
    of a long run that touches the same code paths). ``keep_result``: keep each function's last return value as
    ``Timing.result`` (module docstring).
    """
    if not isinstance(fns, Mapping):
        raise TypeError(f"fns must be a mapping of names to callables, got {type(fns).__name__}")
    if not fns:
        raise ValueError("fns is empty: give at least one function to time")
    check_int("repeats", repeats, minimum=1)
    check_int("warmup", warmup, minimum=0)
    check_bool("keep_result", keep_result)
    warmup_fns = {} if warmup_fns is None else warmup_fns
    if not isinstance(warmup_fns, Mapping):
        raise TypeError(f"warmup_fns must be a mapping or None, got {type(warmup_fns).__name__}")
    unknown = [key for key in warmup_fns if key not in fns]
    if unknown:
        raise ValueError(f"warmup_fns has keys not in fns: {', '.join(map(repr, unknown))}")
    for key, fn in fns.items():
        _check_callable(f"fns[{key!r}]", fn)
    for key, fn in warmup_fns.items():
        _check_callable(f"warmup_fns[{key!r}]", fn)
    for _ in range(warmup):
        for key, fn in fns.items():
            warmup_fns.get(key, fn)()
    timings = {key: Timing() for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            timing = timings[key]
            timing.result = None  # this function's previous result is freed here, outside the timed region
            start, cpu = time.perf_counter(), time.process_time()
            result = fn()
            timing.wall.append(time.perf_counter() - start)
            timing.cpu.append(time.process_time() - cpu)
            if keep_result:
                timing.result = result
            del result
    return timings


def time_calls(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1, keep_result: bool = True) -> Timing:
    """Call ``fn()`` ``warmup`` times untimed, then ``repeats`` times timed (``time.perf_counter`` and
    ``time.process_time`` around each call; return values released outside the timed region, module docstring)."""
    _check_callable("fn", fn)
    return time_interleaved({"fn": fn}, repeats=repeats, warmup=warmup, keep_result=keep_result)["fn"]
