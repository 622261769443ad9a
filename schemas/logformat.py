"""One log format for the gateway and the stream workers: a JSON object per line on stderr.

Every line has `ts` (epoch seconds, millisecond precision), `level`, `logger` and `msg`,
then its fields: `log.info("duplicate", extra={"fields": {...}})` adds them to the object
(`exc` holds a traceback). A process may add fields of its own context to every line
written while that context holds (the gateway: the request being answered), through
`context`. uvicorn's loggers write through the same handler, so its lines are JSON too.
"""

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

Context = Callable[[], Mapping[str, Any] | None]
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    def __init__(self, context: Context | None = None) -> None:
        super().__init__()
        self.context = context

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self.context is not None:
            entry.update(self.context() or {})
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def logging_config(level: str, context: Context | None = None) -> dict[str, Any]:
    """A dictConfig (also Faust's `logging_config` setting): JSON lines on stderr."""
    formatter: dict[str, Any] = {"()": JsonFormatter}
    if context is not None:
        formatter["context"] = context
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # No handlers of their own (uvicorn's dictConfig would give them plain-text ones):
        # their lines go up to the root's.
        "loggers": {name: {"handlers": [], "propagate": True} for name in UVICORN_LOGGERS},
    }
