"""gateway.connections' refusals, as bytes on the wire (the behaviour is tested against a
real gateway process in tests/integration/test_gateway_http_limits.py)."""

import json

from gateway.connections import HttpLimits, LimitedHttpProtocol, limited_protocol
from gateway.errors import problem_message

LIMITS = HttpLimits(16384, 100, 5, 10.0, 30.0, 1024)


def test_a_refusal_is_a_whole_problem_answer_that_closes() -> None:
    message = problem_message(431, "the request has more than 100 headers")
    head, _, body = message.partition(b"\r\n\r\n")
    lines = head.decode("ascii").split("\r\n")
    assert lines[0] == "HTTP/1.1 431 Request Header Fields Too Large"
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields["content-type"] == "application/problem+json"
    assert fields["connection"] == "close"
    assert int(fields["content-length"]) == len(body)
    assert json.loads(body)["status"] == 431


def test_the_refusals_name_the_limits() -> None:
    protocol = limited_protocol(LIMITS)
    assert issubclass(protocol, LimitedHttpProtocol)
    refusals = protocol.refusals
    assert b"over 16384 bytes" in refusals.head_too_large
    assert b"more than 100 headers" in refusals.too_many_headers
    assert b"within 10 s" in refusals.head_too_slow
    assert refusals.too_many_connections.startswith(b"HTTP/1.1 503 ")
