"""How long a test may take, registered by tests/conftest.py.

pyproject.toml gives every test 60 s (pytest-timeout), so a hang fails fast. Tests that
start real processes get longer by marker, from the table below; the timeout counts the
fixtures too, so the first `kafka` test of a run also pays for the broker's start. A test's
own `@pytest.mark.timeout(...)` wins over the table.
"""

from __future__ import annotations

import hypothesis
import pytest

# seconds per marker (the longest of a test's markers applies)
TIMEOUTS_BY_MARKER = {
    "kafka": 180,  # a real broker: its start on a loaded machine, then produce/consume
    "worker": 300,  # real Faust workers: start, join the group, recover tables, rebalance
    "system": 300,  # the 3-broker stack with faults injected
}

# Hypothesis' default 200 ms deadline measures the machine, not the code: on a shared
# 2-core CI machine a first call took 354 ms and the test failed as "flaky". The
# examples still run; only the timing check is off.
hypothesis.settings.register_profile("switchboard", deadline=None)
hypothesis.settings.load_profile("switchboard")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        limits = [s for name, s in TIMEOUTS_BY_MARKER.items() if item.get_closest_marker(name)]
        if limits:
            item.add_marker(pytest.mark.timeout(max(limits)))
