"""Which offset of each raw-notifications partition the worker takes next.

raw-notifications is never compacted and written without transactions, so its offsets
have no holes: after offset n of a partition comes n + 1. A jump means the consumer lost
records on the way, and Faust's fetch loop can lose some around a rebalance:

- Faust's recovery resumes the stream partitions before it seeks them to their committed
  offsets (Recovery.on_recovery_completed), so records fetched in between are handed
  over, then fetched again from the committed offset;
- every app.flow_control.resume() empties the streams' queues (mode's FlowControlEvent),
  records already handed over included, and recovery resumes the flow after that seek;
- the fetch loop takes a record past a hole for a gap of a compacted topic and acks the
  hole (Consumer._add_gap), so the next commit passes over records never processed;
- the fetch loop drops the records it fetched for a partition that recovery paused, and
  Faust's seek does not move a partition that has no committed offset yet: its first
  records were lost (a worker killed before its first commit, system scenario 2).

Seen in the SIGKILL tests: 45 records of one partition skipped and committed, their
deltas lost. So for these partitions the worker keeps its own positions: the next offset
the fetch loop may hand over (`handed`) and the next one the agent processes
(`processed`), both set to the committed offset when Faust seeks at the end of a
rebalance (without one, to the log's first offset: streams.consumer seeks there). A
record below `handed` was handed over already and is dropped; one above it is a hole,
and the partition is sought back to `handed` (a "rewind"); the fetch loop's own read
offsets and gaps are not used for them (streams.faustfence).
"""

from dataclasses import dataclass, field
from enum import Enum


class Take(Enum):
    YES = "yes"  # the next offset: hand it over (or process it)
    SEEN = "seen"  # below the next offset: handed over (or processed) already, drop it
    HOLE = "hole"  # above the next offset: records are missing, seek back


@dataclass(slots=True)
class _Partition:
    handed: int | None  # next offset to hand over; None: take the first one fetched
    processed: int | None  # next offset to process
    rewinding: int | None = None  # sought back to this offset, not fetched again yet


@dataclass(slots=True)
class Positions:
    """Per partition of a topic without holes, the next offset to hand over and the next
    one to process (see the module docstring)."""

    _partitions: dict[int, _Partition] = field(default_factory=dict)

    def sought(self, committed: dict[int, int | None]) -> None:
        """Faust sought these partitions (all that are assigned) to their committed
        offsets (None: no commit yet, the first record fetched starts the partition)."""
        self._partitions = {p: _Partition(o, o) for p, o in committed.items()}

    def read_offset(self, partition: int) -> int | None:
        """The lowest offset the fetch loop should hand over (None: any)."""
        state = self._partitions.get(partition)
        return None if state is None else state.handed

    def processed_next(self, partition: int) -> int | None:
        """The next offset the agent processes (None: any)."""
        state = self._partitions.get(partition)
        return None if state is None else state.processed

    def hand_over(self, partition: int, offset: int) -> Take:
        """Whether the fetch loop hands this record over; YES moves `handed` past it."""
        state = self._partitions.get(partition)
        if state is None:
            return Take.SEEN  # not sought in this assignment: Faust's seek will come
        decision = _compare(state.handed, offset)
        if decision is Take.YES:
            state.handed = offset + 1
            state.rewinding = None
            if state.processed is None:
                state.processed = offset
        return decision

    def process(self, partition: int, offset: int) -> Take:
        """Whether the agent processes this record; YES moves `processed`. A partition
        never sought (the agent fed without the fetch loop: Faust's test tools) is YES."""
        state = self._partitions.get(partition)
        if state is None:
            return Take.YES
        decision = _compare(state.processed, offset)
        if decision is Take.YES:
            state.processed = offset + 1
        return decision

    def rewind(self, partition: int, offset: int) -> bool:
        """Hand over from `offset` again: True when the partition must be sought back to
        it, False when that seek is under way already (the records fetched before it
        are dropped, without a seek each)."""
        state = self._partitions.get(partition)
        if state is None or state.rewinding == offset:
            return False
        state.handed = offset
        state.rewinding = offset
        return True

    def sought_back(self, partition: int, offset: int) -> None:
        """The seek back to `offset` is done: a hole seen from now on is a new one."""
        state = self._partitions.get(partition)
        if state is not None and state.rewinding == offset:
            state.rewinding = None

    def queues_cleared(self) -> dict[int, int]:
        """Faust emptied the streams' queues: the records handed over and not processed
        are gone. The partitions to rewind, and to which offset."""
        return {
            p: s.processed
            for p, s in self._partitions.items()
            if s.processed is not None and s.handed is not None and s.handed > s.processed
        }


def _compare(expected: int | None, offset: int) -> Take:
    if expected is None or offset == expected:
        return Take.YES
    return Take.SEEN if offset < expected else Take.HOLE
