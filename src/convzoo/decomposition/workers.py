"""Per-layer work in parallel: a pool of threads, each running torch on one intra-op thread
(on a small CPU, one thread per worker beats every worker spinning on all cores: a shared
2-core machine ran a budget search 6x slower with torch's default 2 threads than with 1).

torch releases the GIL inside its kernels, so the threads factor different layers at once.
Ctrl-C sets :attr:`Pool.stop`; the workers check it between units of work (and CP-ALS between
sweeps) and the pool re-raises ``KeyboardInterrupt`` once they have stopped.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar

import torch

from convzoo.arithmetic import is_int

__all__ = ["Pool", "check_workers", "one_thread"]

T = TypeVar("T")
R = TypeVar("R")


def check_workers(workers: object) -> int:
    """``workers``: None (as many as CPU cores, at most 4) or an int >= 1.

    >>> check_workers(2)
    2
    """
    if workers is None:
        return max(1, min(os.cpu_count() or 1, 4))
    if not is_int(workers) or workers < 1:  # type: ignore[operator]
        raise ValueError(f"`workers` (={workers!r}) must be None or an int >= 1")
    return int(workers)  # type: ignore[call-overload]


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one intra-op thread inside the block (restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class Pool:
    """Runs ``fn`` on every item with ``workers`` threads, one torch thread each.

    Attributes:
        stop: set on Ctrl-C (and by :meth:`map` when an item fails); long work polls it.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.stop = threading.Event()

    def map(self, fn: Callable[[T], R], items: Sequence[T],
            done: Callable[[T], None] | None = None) -> list[R]:
        """``[fn(item) for item in items]``, in order; ``done(item)`` after each (in the
        calling thread). The first exception (or Ctrl-C) stops the rest and is re-raised."""
        results: dict[int, R] = {}
        with one_thread():
            if self.workers == 1 or len(items) <= 1:
                for i, item in enumerate(items):
                    if self.stop.is_set():
                        raise KeyboardInterrupt
                    results[i] = fn(item)
                    if done is not None:
                        done(item)
                return [results[i] for i in range(len(items))]
            pool = ThreadPoolExecutor(max_workers=self.workers)
            futures: dict[Future[R], int] = {}
            try:
                futures = {pool.submit(self._guarded, fn, item): i for i, item in
                           enumerate(items)}
                pending = set(futures)
                while pending:
                    finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for f in finished:
                        results[futures[f]] = f.result()
                        if done is not None:
                            done(items[futures[f]])
            except BaseException:
                self.stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
        return [results[i] for i in range(len(items))]

    def _guarded(self, fn: Callable[[T], R], item: T) -> R:
        if self.stop.is_set():
            raise KeyboardInterrupt
        return fn(item)
