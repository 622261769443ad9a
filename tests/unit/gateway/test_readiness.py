"""gateway.readiness: a line per change of /readyz's answer, not per probe."""

import logging

import pytest

from gateway.readiness import ReadinessLog


def test_a_line_per_change_with_the_reason_and_how_long_it_lasted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    readiness = ReadinessLog(clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="gateway.readiness")
    readiness.observe(True, "")  # ready from the start: nothing to say
    for reason in ["Kafka is unreachable"] * 3 + ["Kafka topic raw does not exist yet"] * 2:
        readiness.observe(False, reason)
        now[0] += 5
    readiness.observe(True, "")
    readiness.observe(True, "")
    said = [(r.levelname, r.getMessage(), getattr(r, "fields", None)) for r in caplog.records]
    assert said == [
        ("ERROR", "not ready", {"reason": "Kafka is unreachable"}),
        ("ERROR", "not ready", {"reason": "Kafka topic raw does not exist yet"}),
        ("WARNING", "ready again", {"not_ready_s": 25.0}),
    ]
