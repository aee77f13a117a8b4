"""The progress display of ``convzoo train``: a rich progress bar (loss, headline metric,
throughput) per epoch and one summary line per epoch, on stderr."""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

__all__ = ["Progress", "format_row"]


def format_row(row: dict[str, Any]) -> str:
    """One line for an epoch's metrics row (floats with 4 significant digits).

    >>> format_row({"epoch": 2, "train_loss": 0.123456, "test_accuracy": 0.98})
    'epoch 2  train_loss 0.1235  test_accuracy 0.98'
    """
    parts = []
    for k, v in row.items():
        parts.append(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}")
    return "  ".join(parts)


class Progress:
    """Context manager around a rich progress bar; a no-op when ``enabled`` is False.

    Args:
        enabled: show anything at all. stream: where to draw (default: rich's stdout).

    >>> with Progress(enabled=False) as p:
    ...     p.start_epoch(0, 1, 3, 0)
    ...     p.advance(0.5, "accuracy", 0.9, 100.0)
    """

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.console = Console(file=stream, highlight=False, soft_wrap=True) if enabled else None
        self._bar: RichProgress | None = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}  {task.fields[metric]}  "
                           "{task.fields[speed]}"),
                TimeElapsedColumn(), console=self.console, transient=True)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def start_epoch(self, epoch: int, epochs: int, steps: int, done: int) -> None:
        """A fresh bar for ``epoch`` (0-based) with ``done`` of ``steps`` already done."""
        if self._bar is None:
            return
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(f"epoch {epoch + 1}/{epochs}", total=steps,
                                        completed=done, loss="-", metric="", speed="")

    def advance(self, loss: float, metric: str, value: float | None, speed: float) -> None:
        """One step done: running loss, running headline metric, samples per second."""
        if self._bar is None:
            return
        shown = f"{metric} {value:.4f}" if value is not None else ""
        self._bar.update(self._task, advance=1, loss=f"{loss:.4f}", metric=shown,
                         speed=f"{speed:.0f} samples/s")

    def end_epoch(self, row: dict[str, Any], metric: str) -> None:
        """Print the epoch's summary line."""
        if self.console is not None:
            keys = ("epoch", "train_loss", f"train_{metric}", "test_loss", f"test_{metric}",
                    "test_bicubic_psnr", "test_mean_iou", "samples_per_s", "wall_s")
            shown = {k: row[k] for k in dict.fromkeys(keys) if k in row}
            self.console.print(format_row(shown), markup=False)
