"""The progress bar of a run: one tqdm bar on stderr for warmup then sampling.

It shows iterations done, draws per second (an iteration moves every chain by one draw), the
current step size and the divergences so far (of warmup while warming up, then of sampling).
``progress=None`` (the samplers' default) shows it only when stderr is a terminal, ``True``
always, ``False`` never.  It appears after half a second, so the many short runs of a training
loop (persistent chains, a few transitions each) print nothing.
"""
from __future__ import annotations

import sys
import time
from typing import Callable

from torch import Tensor

APPEAR_AFTER = 0.5  # seconds before the bar is first drawn
POSTFIX_EVERY = 0.5  # seconds between updates of the step size / divergences text


def progress_enabled(progress: bool | None) -> bool:
    """``None``: on when stderr is a terminal; otherwise ``bool(progress)``."""
    if progress is None:
        stream = sys.stderr
        isatty = getattr(stream, "isatty", None)
        return bool(stream is not None and isatty is not None and isatty())
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None (on when stderr is a terminal), got {progress!r}")
    return progress


class ProgressBar:
    """``update(step_size, divergences)`` once per iteration; ``start_sampling()`` after warmup."""

    def __init__(self, name: str, num_warmup: int, num_samples: int) -> None:
        from tqdm import tqdm

        self.name = name
        self.bar = tqdm(
            total=num_warmup + num_samples,
            desc=f"{name} {'warmup' if num_warmup else 'sampling'}",
            unit=" draws",
            file=sys.stderr,
            dynamic_ncols=True,
            delay=APPEAR_AFTER,
            leave=True,
        )
        self.next_postfix = 0.0

    def update(self, step_size: Tensor | float, divergences: Callable[[], int] | Tensor | int) -> None:
        self.bar.update(1)
        now = time.perf_counter()
        if now >= self.next_postfix:
            self.next_postfix = now + POSTFIX_EVERY
            step = step_size.flatten()[0] if isinstance(step_size, Tensor) else step_size
            count = divergences() if callable(divergences) else divergences
            self.bar.set_postfix_str(f"step size {float(step):.3g}, divergences {int(count)}", refresh=False)

    def start_sampling(self) -> None:
        self.bar.set_description(f"{self.name} sampling", refresh=False)
        self.next_postfix = 0.0

    def close(self) -> None:
        self.bar.close()


def make_progress_bar(enabled: bool, name: str, num_warmup: int, num_samples: int) -> ProgressBar | None:
    return ProgressBar(name, num_warmup, num_samples) if enabled else None
