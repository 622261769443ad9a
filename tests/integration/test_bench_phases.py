"""`switchboard bench`, shortest run: each phase is announced on stderr as it starts and
ends, in order, while the figures alone go to stdout."""

import re
import subprocess
import sys

import pytest

from tests.integration.streams_fixtures import REPO

pytestmark = [pytest.mark.kafka, pytest.mark.worker]

PHASES = [
    "starting Kafka",
    "starting the worker",
    "starting the gateway",
    "offering 40/s for 2 s",
    "waiting for the worker to apply what was accepted",
    "offering 80/s for 2 s",
    "waiting for the worker to apply what was accepted",
    "stopping the gateway, the worker and Kafka",
]


def test_bench_announces_each_phase_as_it_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "switchboard", "bench", "--rates", "40,80", "--seconds", "2"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # "name ... (what to expect)" then "name: done in 1.2 s", each phase before the next
    announced = [
        re.sub(r" \(.*\)$|(?<=done) in [\d.,]+ s$", "", line)
        for line in result.stderr.splitlines()
        if " ..." in line or ": done in " in line
    ]
    assert announced == [x for p in PHASES for x in (f"{p} ...", f"{p}: done")], result.stderr
    assert "offered/s" in result.stdout and "starting" not in result.stdout
