"""streams.positions: each offset of a partition processed once and in order, whatever
the fetch loop in front of it does (skips, repeats, emptied queues, late seeks)."""

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.positions import Positions, Take


def test_the_next_offset_is_taken_a_seen_one_dropped_a_later_one_is_a_hole() -> None:
    positions = Positions()
    positions.sought({0: 10})
    assert positions.hand_over(0, 9) is Take.SEEN
    assert positions.hand_over(0, 10) is Take.YES
    assert positions.hand_over(0, 12) is Take.HOLE
    assert positions.read_offset(0) == 11
    assert positions.hand_over(1, 0) is Take.SEEN  # not sought: not ours in this assignment


def test_without_a_committed_offset_the_first_record_starts_the_partition() -> None:
    positions = Positions()
    positions.sought({0: None})
    assert positions.hand_over(0, 42) is Take.YES
    assert positions.process(0, 42) is Take.YES
    assert positions.hand_over(0, 44) is Take.HOLE


def test_a_rewind_asks_for_one_seek_until_it_is_done() -> None:
    positions = Positions()
    positions.sought({0: 3})
    assert positions.rewind(0, 3) and not positions.rewind(0, 3)
    positions.sought_back(0, 3)
    assert positions.rewind(0, 3)  # a hole after the seek: sought again
    assert positions.hand_over(0, 3) is Take.YES
    assert positions.rewind(0, 4)


def test_an_emptied_queue_rewinds_to_the_first_record_not_processed() -> None:
    positions = Positions()
    positions.sought({0: 0, 1: 0})
    for offset in range(4):
        positions.hand_over(0, offset)
    positions.hand_over(1, 0)
    positions.process(0, 0)
    positions.process(1, 0)
    assert positions.queues_cleared() == {0: 1}  # partition 1 had nothing queued


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("fskbpcr"), st.integers(1, 6)), max_size=120))
def test_every_offset_is_processed_once_and_in_order_whatever_the_fetch_does(
    script: list[tuple[str, int]],
) -> None:
    """A faulty fetch loop: f fetches the next record, s skips records (a hole), k goes
    back (records again), b runs a stale batch after a seek, p lets the agent process,
    c empties the queue, r delays the seeks asked for. Then it behaves, and every record
    of the log must have been processed exactly once, in offset order."""
    end = 60
    positions = Positions()
    committed = 7
    positions.sought({0: committed})
    position = committed  # where the fetch reads next
    queue: deque[int] = deque()
    processed: list[int] = []
    seeks: list[int] = []
    stale: list[int] = []

    def rewind(to: int | None) -> None:
        assert to is not None
        if positions.rewind(0, to):
            seeks.append(to)

    def fetch(offset: int) -> None:
        if offset >= end:
            return
        decision = positions.hand_over(0, offset)
        if decision is Take.YES:
            queue.append(offset)
        elif decision is Take.HOLE:
            rewind(positions.read_offset(0))

    def process_one() -> None:
        if queue:
            offset = queue.popleft()
            decision = positions.process(0, offset)
            if decision is Take.YES:
                processed.append(offset)
            elif decision is Take.HOLE:
                rewind(positions.processed_next(0))

    def seek() -> int:
        to = seeks.pop()
        seeks.clear()
        positions.sought_back(0, to)
        return to

    for action, n in script:
        if action == "f":
            fetch(position)
            position += 1
        elif action == "s":
            position += n
        elif action == "k":
            position = max(committed, position - n)
        elif action == "b":
            stale.extend(range(position, position + n))
        elif action == "p":
            for _ in range(n):
                process_one()
        elif action == "c":
            queue.clear()
            for to in positions.queues_cleared().values():
                rewind(to)
        elif action == "r" and seeks:
            for offset in stale:  # a batch fetched before the seek, handed over after
                fetch(offset)
            stale.clear()
            position = seek()
        if action != "r" and seeks:  # a seek asked for is done, later or now
            position = seek()
    for _ in range(10 * end):  # the fetch loop behaves from here on
        if seeks:
            position = seek()
        fetch(position)
        position += 1
        process_one()
    assert processed == list(range(committed, end))
