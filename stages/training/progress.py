"""The progress bar of a training loop: steps done, the last step's loss, time left (rich)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


class TrainingBar:
    """Advance with ``step``; ``note`` prints a line above the bar. Quiet when disabled."""

    def __init__(self, progress, task):
        self._progress, self._task = progress, task

    def step(self, description: str, loss: float) -> None:
        self._progress.update(self._task, advance=1, loss=f"{loss:.3f}", description=description)

    def note(self, text: str) -> None:
        if not self._progress.disable:
            self._progress.console.print(text, highlight=False)


@contextmanager
def training_bar(label: str, total: int, done: int, enabled: bool) -> Iterator[TrainingBar]:
    """A bar for ``total`` steps of which ``done`` are already behind (a resumed run)."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    with Progress(TextColumn(f"[bold]{label}[/] {{task.description}}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  disable=not enabled) as progress:
        yield TrainingBar(progress, progress.add_task("", total=total, completed=done, loss="-"))
