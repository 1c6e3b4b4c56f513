"""The one job pool of hnn's experiments and benchmarks: jobs in spawned worker processes, with follow-up jobs
queued as results come in."""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Sequence

import torch

from hnn.validate import check_int

__all__ = ["run_jobs", "quiet_lightning"]


def quiet_lightning() -> None:
    """Lightning's per-run banners off, and its warning about an empty validation loader (val_fraction 0)."""
    for name in ("pytorch_lightning", "lightning_fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*Total length of .* across ranks is zero")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


def _exit_with_parent(parent: int) -> None:
    """Poll the parent's pid; a worker whose parent died (killed, so the pool never shut it down) exits."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def _initialise_worker(threads: int, parent: int) -> None:
    torch.set_num_threads(threads)
    quiet_lightning()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="exit-with-parent").start()


def run_jobs(function: Callable[[Any], Any], items: Sequence[Any], jobs: int = 1, threads: int = 1,
             on_result: Callable[[int, Any], Iterable[Any] | None] | None = None) -> list[Any]:
    """``[function(item) for item in items]``, with ``jobs > 1`` in that many spawned worker processes.

    Each job runs with ``threads`` torch intra-op threads: a worker sets them once (with Lightning's quiet settings),
    and exits within a second of its parent process dying (a killed run leaves no workers behind);
    with ``jobs == 1`` (or a single item and no ``on_result``) the jobs run in this process, whose thread count is
    restored afterwards.
    ``on_result(index, result)`` is called in the parent as each job finishes (completion order). If it returns
    items, these are queued as further jobs, numbered on from the last index given so far (a job that depends on
    earlier results starts as soon as they are in, while other jobs keep the workers busy). The returned list holds
    every job's result by index: ``items`` first, then the queued ones in the order they were queued. A job's
    exception is re-raised in the parent (the pool is shut down first). ``function`` and the items must pickle.
    """
    check_int("jobs", jobs, minimum=1)
    check_int("threads", threads, minimum=1)
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    if on_result is not None and not callable(on_result):
        raise TypeError(f"on_result must be callable or None, got {type(on_result).__name__}")
    queue: list[Any] = list(items)
    results: dict[int, Any] = {}

    def finished(index: int, result: Any) -> list[Any]:
        results[index] = result
        more = on_result(index, result) if on_result is not None else None
        more = [] if more is None else list(more)
        queue.extend(more)
        return more

    if jobs == 1 or (len(queue) <= 1 and on_result is None):
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            index = 0
            while index < len(queue):  # the queue grows while it runs
                finished(index, function(queue[index]))
                index += 1
        finally:
            torch.set_num_threads(previous)
        return [results[i] for i in range(len(queue))]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_initialise_worker,
                             initargs=(threads, os.getpid())) as pool:
        pending = {pool.submit(function, item): index for index, item in enumerate(queue)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                index = pending.pop(future)
                start = len(queue)
                more = finished(index, future.result())
                for offset, item in enumerate(more):
                    pending[pool.submit(function, item)] = start + offset
    return [results[i] for i in range(len(queue))]
