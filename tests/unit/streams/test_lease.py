"""The lease of group membership: held for its time after the last renewal, never before one."""

from streams.lease import LEASE_SHARE_OF_SESSION, Lease


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_lease_is_not_held_before_its_first_renewal() -> None:
    clock = _Clock()
    lease = Lease(4.0, clock)
    assert not lease.held() and lease.age_s() is None


def test_a_lease_holds_for_its_time_after_the_renewal_and_then_lapses() -> None:
    clock = _Clock()
    lease = Lease(4.0, clock)
    lease.renewed()
    clock.now += 3.5
    assert lease.held() and lease.age_s() == 3.5
    clock.now += 0.5
    assert not lease.held()


def test_a_renewal_counts_from_when_the_heartbeat_was_sent() -> None:
    clock = _Clock()
    lease = Lease(4.0, clock)
    sent = clock.now
    clock.now += 3.0  # the answer took 3 s
    lease.renewed(sent)
    clock.now += 1.0
    assert not lease.held()


def test_a_late_answer_to_an_older_heartbeat_does_not_move_the_lease_back() -> None:
    clock = _Clock()
    lease = Lease(4.0, clock)
    lease.renewed(clock.now)
    lease.renewed(clock.now - 2.0)
    clock.now += 3.0
    assert lease.held()


def test_the_lease_of_a_session_ends_well_before_the_session_can() -> None:
    lease = Lease.for_session(6.0)
    assert lease.valid_for_s == 6.0 * LEASE_SHARE_OF_SESSION < 6.0 - 1.5
