"""schemas.logformat: one JSON object per line, our loggers and uvicorn's alike."""

import json
import logging
import subprocess
import sys

from schemas.logformat import JsonFormatter

SCRIPT = """
import logging, logging.config
import uvicorn.config
from schemas.logformat import logging_config
logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)  # uvicorn's own plain-text handlers
logging.config.dictConfig(logging_config("info"))
logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
access = ("10.0.0.1", "GET", "/", "1.1", 200)
logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', *access)
logging.getLogger("gateway.requests").warning("refused", extra={"fields": {"status": 401}})
logging.getLogger("gateway.requests").debug("below the level")
"""


def test_every_line_is_json_with_the_same_keys_uvicorns_too() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=60
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["logger"], line["level"], line["msg"]) for line in lines] == [
        ("uvicorn.error", "info", "Started server process [42]"),
        ("uvicorn.access", "info", '10.0.0.1 - "GET / HTTP/1.1" 200'),
        ("gateway.requests", "warning", "refused"),
    ]
    assert all(isinstance(line["ts"], float) for line in lines)
    assert lines[2]["status"] == 401


def test_the_context_adds_its_fields_and_a_line_its_own_over_them() -> None:
    formatter = JsonFormatter(context=lambda: {"request_id": "r-1", "status": 0})
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom %s", ("now",), None)
    record.fields = {"status": 500}
    line = json.loads(formatter.format(record))
    assert line == {
        "ts": round(record.created, 3),
        "level": "error",
        "logger": "x",
        "msg": "boom now",
        "request_id": "r-1",
        "status": 500,
    }
    assert "request_id" not in json.loads(JsonFormatter(context=lambda: None).format(record))
