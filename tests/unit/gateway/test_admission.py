"""Which admission a gateway uses is chosen once, at start, from the settings, and said in
one log line; the in-process one keeps today's per-process semantics."""

import logging
import time

import pytest
from pydantic import SecretStr

from gateway.admission import InProcessAdmission, ReplayTicket
from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.errors import AuthenticationError, RateLimitedError
from gateway.ratelimit import RateLimiter
from gateway.replay import ReplayCache
from gateway.sharedstate import RedisAdmission
from tests.unit.gateway.support import MemoryPublisher


async def started_log(settings: GatewaySettings, caplog: pytest.LogCaptureFixture) -> str:
    app = create_app(settings, publisher=MemoryPublisher())
    caplog.set_level(logging.INFO, "gateway.app")
    async with app.router.lifespan_context(app):
        pass
    return caplog.text


async def test_without_a_store_limits_and_replay_are_per_process(
    settings: GatewaySettings, caplog: pytest.LogCaptureFixture
) -> None:
    text = await started_log(settings, caplog)
    assert text.count("rate limits and JWT replay refusal are per gateway process") == 1
    assert isinstance(create_app(settings, MemoryPublisher()).state.gateway.admission,
                      InProcessAdmission)  # fmt: skip


async def test_with_a_store_the_gateway_says_where_without_its_password(
    settings: GatewaySettings, caplog: pytest.LogCaptureFixture
) -> None:
    """No connection is made at start: an unreachable store does not stop the gateway."""
    url = SecretStr("redis://user:hunter2@127.0.0.1:1/3")
    shared = settings.model_copy(update={"shared_state_url": url})
    assert isinstance(create_app(shared, MemoryPublisher()).state.gateway.admission,
                      RedisAdmission)  # fmt: skip
    text = await started_log(shared, caplog)
    assert "shared by every gateway process through the store at 127.0.0.1:1/3" in text
    assert "hunter2" not in text
    assert "hunter2" not in repr(shared)


async def test_in_process_refusals_keep_their_order() -> None:
    """A replay is refused before the rate is charged; a rate refusal leaves the token
    unused."""
    admission = InProcessAdmission(ReplayCache(10), RateLimiter(burst_s=1.0))
    ticket = ReplayTicket(("ams", "jti:a"), time.time() + 60)
    await admission.admit("t", 2.0, ticket)
    with pytest.raises(AuthenticationError):
        await admission.admit("t", 2.0, ticket)
    await admission.admit("t", 2.0, None)  # the replay was not charged: one left
    other = ReplayTicket(("ams", "jti:b"), time.time() + 60)
    with pytest.raises(RateLimitedError):
        await admission.admit("t", 2.0, other)
    assert admission.replays.reserve(other.key, other.until)  # b was not marked used
