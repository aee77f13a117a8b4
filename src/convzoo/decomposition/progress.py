"""Progress of the long steps of :func:`convzoo.advise` and :func:`convzoo.decompose`: one
``rich`` bar per step (factorizing, searching ranks, sensitivity, timing), advanced per layer
and method, on stderr, gone when the step ends. Shown only when stderr is a terminal (or when
asked for); ``progress=False`` (the CLI's ``--quiet``) shows nothing.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any

__all__ = ["Steps", "Step"]


class Step:
    """One bar: ``advance(label)`` after each unit of work (thread-safe)."""

    def __init__(self, steps: Steps, description: str, total: int) -> None:
        self._steps = steps
        self.description = description
        self.total = total
        self.done = 0
        self._lock = threading.Lock()
        self._task = steps._add(description, total)

    def advance(self, label: str = "") -> None:
        """One more unit done; ``label`` (the layer and method) shown beside the bar."""
        with self._lock:
            self.done += 1
            self._steps._update(self._task, self.description, label, self.done)

    def close(self) -> None:
        """Remove the bar."""
        self._steps._remove(self._task)


class Steps:
    """The bars of one call (a context manager).

    Args:
        enabled: True to show bars, False for none, None (default) to show them when stderr
            is a terminal.

    >>> with Steps(False) as steps:
    ...     step = steps.step("factorizing", 2)
    ...     step.advance("conv1 tucker")
    ...     step.done
    1
    """

    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.enabled = bool(enabled)
        self._progress: Any = None

    def __enter__(self) -> Steps:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("{task.fields[label]}"),
                console=Console(stderr=True), transient=True,
            )
            self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def step(self, description: str, total: int) -> Step:
        """A new bar of ``total`` units."""
        return Step(self, description, total)

    def _add(self, description: str, total: int) -> Any:
        if self._progress is None:
            return None
        return self._progress.add_task(description, total=total, label="")

    def _update(self, task: Any, description: str, label: str, done: int) -> None:
        if self._progress is not None and task is not None:
            self._progress.update(task, completed=done, label=label)

    def _remove(self, task: Any) -> None:
        if self._progress is not None and task is not None:
            self._progress.remove_task(task)
