"""switchboard.progress: phase lines in order with their durations; partition bars."""

import io
from collections.abc import Iterator

import pytest
from rich.console import Console

from switchboard.progress import PartitionBars, Phases


def clock(*times: float) -> Iterator[float]:
    yield from times


def test_each_phase_says_when_it_starts_and_how_long_it_took() -> None:
    out, ticks = io.StringIO(), clock(10.0, 12.5, 20.0, 21.25)
    phases = Phases(out, clock=lambda: next(ticks))
    with phases.phase("starting Kafka", "about 20 s"):
        pass
    with phases.phase("offering 500/s"):
        pass
    assert out.getvalue().splitlines() == [
        "starting Kafka ... (about 20 s)",
        "starting Kafka: done in 2.5 s",
        "offering 500/s ...",
        "offering 500/s: done in 1.2 s",
    ]


def test_a_failed_phase_says_so_and_the_error_goes_on() -> None:
    out, ticks = io.StringIO(), clock(0.0, 3.0)
    with pytest.raises(RuntimeError), Phases(out, clock=lambda: next(ticks)).phase("x"):
        raise RuntimeError("boom")
    assert out.getvalue().splitlines() == ["x ...", "x: failed after 3.0 s"]


def test_partition_bars_show_the_offset_reached_of_each_partition() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=False)
    with PartitionBars({0: (100, 200), 1: (0, 4)}, console) as bars:
        bars.update({0: 150, 1: 9})  # past the target: shown as done, not beyond
    text = out.getvalue()
    assert "partition   0" in text and "50/100" in text
    assert "partition   1" in text and "4/4" in text
