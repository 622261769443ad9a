"""The bench command's arithmetic and its table (the benchmark itself is not a test)."""

import math

from switchboard import loadgen
from switchboard.bench import Phase, every_org, percentile, table


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile(list(reversed(values)), 1) == 1
    assert math.isnan(percentile([], 50))


def test_table_aligns_columns_and_formats_numbers() -> None:
    text = table(["rate", "p99 ms", "name"], [[100.0, 1234.56, "a"], [3000, math.nan, "bb"]])
    assert text.splitlines() == [
        " rate   p99 ms  name",
        "-----  -------  ----",
        "100.0  1,234.6     a",
        "3,000        -    bb",
    ]


def test_every_org_covers_both_key_forms_and_the_probe() -> None:
    orgs = every_org(tenants=2, orgs=3)
    assert len(orgs.orgs) == 2 * 3 * 2 + 1
    assert "2049025000010002" in orgs.uids("tenant-1")
    assert "32002" in orgs.tenant_ids("tenant-1")


def test_phase_adds_up_its_segments() -> None:
    first = loadgen.Segment(100, 10, offered=1000, sent=990, busy=10, lost=2, last_answer=11.0)
    first.statuses.update({202: 980, 503: 5})  # and 3 never answered
    first.latencies = [0.01] * 980
    second = loadgen.Segment(100, 10, offered=1000, sent=1000, start=40.0, last_answer=49.0)
    second.statuses.update({202: 1000})
    second.latencies = [0.02] * 1000
    phase = Phase(100, [first, second])
    assert phase.total("busy") == 10
    assert phase.refused == 5 + 2 + 3
    assert len(phase.latencies) == 1980
    assert phase.accepted_per_s == 1980 / (11 + 10)  # the pause between segments not counted
