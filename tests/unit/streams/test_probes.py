"""Health, readiness and metrics endpoints; JSON log lines."""

import json
import logging
from typing import Any, cast

import pytest
from aiohttp.test_utils import make_mocked_request
from faust.tables.manager import TableManager

from schemas.logformat import JsonFormatter
from streams import probes
from streams.app import app


async def get(view: Any) -> Any:
    return await view(app, app.web).dispatch(make_mocked_request("GET", "/"))


async def test_health_is_always_ok() -> None:
    response = await get(probes.Health)
    assert (response.status, json.loads(response.body)) == (200, {"status": "ok"})


async def test_ready_only_after_recovery_and_the_assignment_outside_rebalances(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    completed = cast(TableManager, app.tables).recovery.completed
    monkeypatch.setattr(app, "rebalancing", False)
    monkeypatch.setattr(app, "assignment_handled", True)
    completed.clear()
    assert (await get(probes.Readiness)).status == 503
    completed.set()
    try:
        assert probes.is_ready()
        assert (await get(probes.Readiness)).status == 200
        monkeypatch.setattr(app, "assignment_handled", False)  # its receivers still run
        assert (await get(probes.Readiness)).status == 503
        monkeypatch.setattr(app, "assignment_handled", True)
        monkeypatch.setattr(app, "rebalancing", True)
        assert (await get(probes.Readiness)).status == 503
    finally:
        completed.clear()


async def test_metrics_are_prometheus_text_with_table_sizes() -> None:
    response = await get(probes.Metrics)
    text = response.body.decode()
    assert response.headers["Content-Type"].startswith("text/plain")
    assert 'switchboard_stream_table_keys{table="asset_counts"} 0.0' in text
    assert "switchboard_stream_dead_letters_total" in text or "switchboard_stream_ready" in text


def test_log_lines_are_json_with_their_fields() -> None:
    record = logging.LogRecord(
        "streams.agents", logging.WARNING, __file__, 1, "conflict %s", ("x",), None
    )
    record.fields = {"org": "u1", "id": "n1"}
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "conflict x" and line["level"] == "warning"
    assert (line["org"], line["id"], line["logger"]) == ("u1", "n1", "streams.agents")
