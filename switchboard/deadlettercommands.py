"""What `switchboard dead-letters list` and `redrive` do (switchboard.deadletters decides,
switchboard.deadletterkafka reads and publishes; the cli only prints)."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import Progress

from schemas.topics import DEAD_LETTER, RAW_NOTIFICATIONS
from switchboard import deadletters as dl
from switchboard.deadletterkafka import Publisher, Reader


def list_rows(
    settings: dl.DeadLetterSettings, kind: str | None, since_ms: int | None
) -> list[dict[str, Any]]:
    """The dead letters, as rows (switchboard.deadletters.DeadLetter.row)."""
    dl.check_kind(kind)
    reader = Reader(settings)
    try:
        letters = dl.selected(reader.dead_letters(settings.topic(DEAD_LETTER)), kind, since_ms)
        return [letter.row() for letter in letters]
    finally:
        reader.close()


@dataclass
class Summary:
    dry_run: bool
    redriven: int = 0
    from_raw: int = 0  # of those, originals read from raw-notifications (omitted)
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        verb = "would redrive" if self.dry_run else "redriven"
        lines = [f"{verb}: {self.redriven} ({self.from_raw} read from raw-notifications)"]
        lines += [f"skipped: {n}: {why}" for why, n in sorted(self.skipped.items())]
        if not self.skipped:
            lines.append("skipped: 0")
        lines.append(f"failed: {self.failed}")
        return lines


def redrive(
    settings: dl.DeadLetterSettings,
    kind: str | None,
    since_ms: int | None,
    dry_run: bool,
    now_ms: int,
    console: Console | None = None,
) -> Summary:
    """Publish the selected dead letters' originals to raw-notifications again."""
    dl.check_kind(kind)
    raw = settings.topic(RAW_NOTIFICATIONS)
    reader = Reader(settings)
    summary = Summary(dry_run=dry_run)
    try:
        partitions = reader.partitions(raw)
        letters = dl.selected(reader.dead_letters(settings.topic(DEAD_LETTER)), kind, since_ms)
        publisher = None if dry_run else Publisher(settings)
        with Progress(console=console or Console(stderr=True)) as progress:
            task = progress.add_task("redrive", total=len(letters))

            def done(ok: bool) -> None:
                summary.redriven += ok
                progress.advance(task)

            for letter in letters:
                outcome, from_raw = _plan(reader, letter, raw, partitions, now_ms)
                if isinstance(outcome, str):
                    summary.skipped[outcome] += 1
                    progress.advance(task)
                    continue
                summary.from_raw += from_raw
                if publisher is None:
                    done(True)
                else:
                    publisher.send(
                        raw, outcome.partition, outcome.key, outcome.value, outcome.headers, done
                    )
            if publisher is not None:
                left = publisher.flush()
                summary.failed = len(publisher.failures) + left
    finally:
        reader.close()
    return summary


def _plan(
    reader: Reader, letter: dl.DeadLetter, raw: str, partitions: int, now_ms: int
) -> tuple[dl.Redrive | str, bool]:
    source = letter.source
    if source is None:
        return dl.NO_SOURCE, False
    if source.topic != raw:
        return dl.NOT_RAW, False
    if letter.omitted is None:
        return dl.plan(letter.original(), source, partitions, now_ms), False
    original = reader.record_at(raw, source.partition, source.offset)
    if original is None:
        return dl.GONE, False
    return dl.plan(original, source, partitions, now_ms), True
