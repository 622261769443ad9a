"""The sender's W3C traceparent: kept in the record's headers when valid, else ignored."""

import httpx
import pytest

from gateway.tracecontext import valid_traceparent
from schemas import headers as h
from tests.unit.gateway.support import ACME_TOKEN, MemoryPublisher, apple_body, bearer

URL = "/v1/notifications"
VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
INVALID = [
    "",
    "garbage",
    VALID.upper(),  # hex must be lowercase
    VALID[:-1],  # too short
    VALID + "-00",  # version 00 has exactly four fields
    "ff" + VALID[2:],  # version ff is invalid
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
    "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  # later version, no dash
]


def test_a_valid_traceparent_is_kept_as_sent() -> None:
    assert valid_traceparent(VALID.encode()) == VALID.encode()


def test_a_later_version_keeps_the_fields_known_here() -> None:
    later = "cc" + VALID[2:]
    assert valid_traceparent(later.encode()) == later.encode()
    assert valid_traceparent(f"{later}-what-comes-next".encode()) == later.encode()


@pytest.mark.parametrize("value", INVALID)
def test_an_invalid_traceparent_is_ignored(value: str) -> None:
    assert valid_traceparent(value.encode()) is None


async def test_the_record_carries_the_senders_traceparent(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    headers = {**bearer(ACME_TOKEN), "traceparent": VALID}
    response = await client.post(URL, content=apple_body(), headers=headers)
    assert response.status_code == 202
    [record] = publisher.records
    assert record.headers[h.TRACEPARENT] == VALID.encode()


@pytest.mark.parametrize("value", INVALID[1:4])
async def test_an_invalid_traceparent_is_accepted_without_it(
    value: str, client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    headers = {**bearer(ACME_TOKEN), "traceparent": value}
    response = await client.post(URL, content=apple_body(), headers=headers)
    assert response.status_code == 202
    [record] = publisher.records
    assert h.TRACEPARENT not in record.headers


async def test_no_traceparent_no_header(
    client: httpx.AsyncClient, publisher: MemoryPublisher
) -> None:
    response = await client.post(URL, content=apple_body(), headers=bearer(ACME_TOKEN))
    assert response.status_code == 202
    assert h.TRACEPARENT not in publisher.records[0].headers
