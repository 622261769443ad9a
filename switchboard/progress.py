"""Progress of long CLI work: named phases with their durations, and per-partition bars.

Both write to stderr, so a command's result on stdout stays clean for scripts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class Phases:
    """Prints `name ...` when a phase starts and `name: done in 3.2 s` when it ends, so a
    run of several minutes shows where it is. `clock` is injectable for tests."""

    def __init__(
        self, out: IO[str] | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._out = out
        self._clock = clock

    def say(self, line: str) -> None:
        out = self._out or sys.stderr
        print(line, file=out, flush=True)

    @contextmanager
    def phase(self, name: str, expect: str = "") -> Iterator[None]:
        self.say(f"{name} ..." + (f" ({expect})" if expect else ""))
        started = self._clock()
        try:
            yield
        except BaseException:
            self.say(f"{name}: failed after {self._clock() - started:,.1f} s")
            raise
        self.say(f"{name}: done in {self._clock() - started:,.1f} s")


class PartitionBars:
    """One bar per partition: the offset reached between its first offset and its target."""

    def __init__(self, spans: dict[int, tuple[int, int]], console: Console | None = None) -> None:
        self._spans = spans
        self._progress = Progress(
            TextColumn("partition {task.fields[partition]:>3}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
        )
        self._tasks = {
            p: self._progress.add_task("", total=end - start, partition=p)
            for p, (start, end) in spans.items()
        }

    def __enter__(self) -> PartitionBars:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, offsets: dict[int, int]) -> None:
        for p, offset in offsets.items():
            start, end = self._spans[p]
            self._progress.update(
                self._tasks[p], completed=min(max(offset - start, 0), end - start)
            )
