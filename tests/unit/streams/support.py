"""What the streams unit tests share: a memory store, a tenants file, produced records recorded.

streams.app reads its settings when it is imported, so the environment is set around
that import here, and put back right after: other packages' tests share the process.
The fixtures that use these are in conftest.py beside this module.
"""

import hashlib
import os
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchboard.tenantsfile import write_tenants
from tests.examples import example_bytes as example_bytes

TOKENS = {"acme": "acme-token", "globex": "globex-token"}
ACME_UID, ACME_TENANT_ID, GLOBEX_UID = "2049025000431439", "312022", "777"
_tenants_file = write_tenants(
    Path(tempfile.mkdtemp(prefix="streams-unit-")) / "tenants.yaml",
    {
        "tenants": [
            {
                "id": "acme",
                "token_sha256": [hashlib.sha256(b"acme-token").hexdigest()],
                "uids": [ACME_UID, "1000"],
                "tenant_ids": [ACME_TENANT_ID],
            },
            {
                "id": "globex",
                "token_sha256": [hashlib.sha256(b"globex-token").hexdigest()],
                "uids": [GLOBEX_UID],
            },
        ]
    },
)
_ENV = {
    "SWITCHBOARD_STORE": "memory://",
    "SWITCHBOARD_TENANTS_FILE": str(_tenants_file),
    "SWITCHBOARD_DATA_DIR": str(_tenants_file.parent / "data"),
    "SWITCHBOARD_TOPIC_PREFIX": "",
    "SWITCHBOARD_APP_ID": "switchboard",
    "SWITCHBOARD_PARTITIONS": "8",
    "SWITCHBOARD_DEDUPE_WINDOW_S": "3600",
    "SWITCHBOARD_DIRECT_DELIVERY": "true",  # its unit tests need it registered
}
_saved = {name: os.environ.get(name) for name in _ENV}
os.environ.update(_ENV)
try:
    from streams import agents as agents
    from streams import outputs as outputs
    from streams.app import app as app
    from streams.app import settings as settings
    from streams.dedupe import Deduper as Deduper
    from streams.redrive import Redrives as Redrives
    from streams.tables import TABLES as TABLES
    from streams.tables import seen_notifications as seen_notifications
finally:
    for _name, _value in _saved.items():
        if _value is None:
            os.environ.pop(_name, None)
        else:
            os.environ[_name] = _value


@dataclass
class Published:
    topic: str
    partition: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> bytes | None:
        return dict(self.headers).get(name)


class OutputTails:
    """Stands in for streams.watermarks.KafkaTails: marks per partition, reads counted."""

    def __init__(self) -> None:
        self.marks: dict[int, dict[str, int]] = {}
        self.reads: list[list[int]] = []

    async def __call__(self, partitions: Collection[int]) -> dict[int, dict[str, int]]:
        self.reads.append(sorted(partitions))
        return {p: dict(self.marks.get(p, {})) for p in partitions}


class Recorder:
    """Stands in for BatchingProducer.append: keeps every record the worker produces."""

    def __init__(self) -> None:
        self.records: list[Published] = []

    def append(
        self,
        topic: str,
        partition: int,
        key: bytes | None,
        value: bytes | None,
        headers: Any = (),
        on_delivered: Any = None,
    ) -> None:
        self.records.append(Published(topic, partition, key, value, list(headers)))

    @property
    def routed(self) -> list[Published]:
        """Records for the schemas.topics topics (changelog records left out)."""
        return [r for r in self.records if not r.topic.endswith("-changelog")]

    def to(self, topic: str) -> list[Published]:
        return [r for r in self.records if r.topic == topic]


def gateway_headers(
    source: str, received_at_ms: int, tenant: str = "acme"
) -> list[tuple[str, bytes]]:
    return [
        ("tenant", tenant.encode()),
        ("source", source.encode()),
        ("received-at", str(received_at_ms).encode()),
        ("request-id", b"req-1"),
    ]
