"""The gateway's settings: one pydantic-settings class, read from SWITCHBOARD_* variables."""

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.sharedsettings import SharedSettings
from schemas.topics import RAW_NOTIFICATIONS

MIB = 1024 * 1024


class GatewaySettings(SharedSettings, BaseSettings):
    """Every knob of the gateway. Senders' secrets live in the tenants file; the Kafka
    cluster, its credentials, the topic prefix and the tenants file are the fields shared
    with the workers (schemas.sharedsettings)."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # By default the workers' raw topic: the same prefix, so both sides agree on it. Set
    # only to publish somewhere else (a benchmark, a test of the gateway alone).
    raw_topic: str = Field(
        default_factory=lambda fields: f"{fields['topic_prefix']}{RAW_NOTIFICATIONS}",
        description=f"SWITCHBOARD_TOPIC_PREFIX + {RAW_NOTIFICATIONS}",
    )

    max_body_bytes: int = Field(default=MIB, gt=0)
    # The sender retries 3 times within 1-5 minutes: a fast 503 beats a slow timeout.
    publish_timeout_s: float = Field(default=5.0, gt=0)
    unavailable_retry_after_s: int = Field(default=30, ge=1)

    jwt_leeway_s: float = Field(default=30.0, ge=0)
    jti_cache_size: int = Field(default=100_000, gt=0)

    # For tenants without rate_limit_per_s, per gateway process. Apple sends one
    # notification per organization event (a bulk assignment is one notification listing
    # its assignments), so 100/s with a 1 s burst is 8.6 M a day for one tenant, far above
    # any tenant's Apple traffic, and still under 3% of what one process accepts
    # (~3,500/s): one tenant, or a leaked token, cannot starve the others.
    default_rate_limit_per_s: float = Field(default=100.0, gt=0, allow_inf_nan=False)
    rate_limit_burst_s: float = Field(
        default=1.0, gt=0, description="Bucket size, in seconds of the tenant's rate."
    )

    # Producer batching: records of concurrent requests share a produce request, each
    # request still awaits the acknowledgement of its own record (acks=all).
    linger_ms: int = Field(default=5, ge=0)
    max_batch_bytes: int = Field(default=256 * 1024, gt=0)
    # The raw topic's max.message.bytes (Kafka's default). A bigger record is refused with
    # 413 before it reaches the broker: a broker-side refusal would leave a gap in the
    # idempotent producer's sequence numbers and fail the partition's next batches.
    kafka_max_message_bytes: int = Field(default=1_048_588, gt=0)
    kafka_request_timeout_ms: int = Field(default=30_000, gt=0)
    health_interval_s: float = Field(default=1.0, gt=0)

    # HTTP connections (gateway.connections). A request head is a few hundred bytes (a
    # JWT under 2 KiB): 16 KiB, as Node and h11 allow, leaves room for proxies' headers.
    http_max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    http_max_headers: int = Field(default=100, ge=8)  # Apache's LimitRequestFields
    # Idle before the first request and between requests (uvicorn's keep-alive timeout).
    # Behind a load balancer that reuses connections, set it above the balancer's idle
    # timeout, or the balancer may send a request on a connection being closed.
    http_idle_timeout_s: int = Field(default=5, ge=1)
    # A request's head is due header_timeout_s after its first byte, the whole request
    # header_timeout_s + body_timeout_s after it: a sender trickling either is answered
    # 408 and disconnected, not held forever.
    http_header_timeout_s: float = Field(default=10.0, gt=0)
    http_body_timeout_s: float = Field(default=30.0, gt=0)
    # Open connections of one process; past it a new one gets 503 at once. Each may hold
    # up to max_body_bytes while its body is read.
    http_max_connections: int = Field(default=1024, ge=1)

    # Shared state (gateway.sharedstate): JWT replay refusal and the tenants' rate limits
    # held in one Redis/Valkey for every gateway process. Unset: both are per process.
    shared_state_url: SecretStr | None = Field(
        default=None, description="redis://[user:password@]host:6379/0 (rediss:// for TLS)."
    )
    shared_state_password_file: Path | None = Field(
        default=None, description="A file holding the store's password (a mounted Secret)."
    )
    shared_state_password: SecretStr | None = None
    # Every store call; an unreachable store then costs a request at most this long. Not
    # lower: on a saturated gateway the event loop alone lags by a few hundred ms, and a
    # timeout refuses JWTs (503) for shared_state_retry_s.
    shared_state_timeout_s: float = Field(default=0.5, gt=0, le=5)
    # After a failed call the store is not asked again for this long: replay refusal
    # answers 503 and the rate limit is per process meanwhile, at once.
    shared_state_retry_s: float = Field(default=1.0, gt=0)
    shared_state_key_prefix: str = "switchboard:"
    # Connections of one process to the store; a request waits for a free one at most
    # shared_state_timeout_s. Each admission holds one for a round trip (~0.2 ms).
    shared_state_max_connections: int = Field(default=32, ge=1)

    tenants_reload_interval_s: float = Field(default=1.0, gt=0)
    # Logs (gateway.requestlog): 5xx answers are always logged; 4xx ones at most this many
    # lines a second per process, the others counted in one line a second, so a flood of
    # bad requests cannot flood the log. The access log adds a line for every other answer.
    log_refusals_per_s: int = Field(default=10, ge=0)
    access_log: bool = False
    log_level: str = "info"
