"""`switchboard gateway`: serve the app with uvicorn in this process.

HTTP connections are served by gateway.connections (uvicorn's httptools protocol with
bounds on the request head, timeouts and a connection cap).

SIGHUP re-reads the tenants file at once (the app also re-reads it when it changes);
SIGINT/SIGTERM stop accepting connections, let in-flight requests finish (each waits
at most publish_timeout_s for Kafka), then close the producer.
"""

import asyncio
import gc
import logging.config
import signal

import uvicorn

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.connections import HttpLimits, limited_protocol
from gateway.deps import Gateway
from gateway.errors import SetupError
from gateway.publisher import check_credentials
from gateway.requestlog import current_fields
from schemas.logformat import logging_config


def run(host: str | None = None, port: int | None = None) -> None:
    """Run the gateway until SIGINT/SIGTERM; `host`/`port` override the settings."""
    settings = GatewaySettings()
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    settings = settings.model_copy(update=overrides)
    logging.config.dictConfig(logging_config(settings.log_level, context=current_fields))
    try:
        check_credentials(settings)
        app = create_app(settings)
    except SetupError as exc:
        raise SystemExit(f"switchboard gateway: {exc}") from None
    # What exists now (modules, app, models) lives as long as the process. Frozen, it is
    # left out of the cyclic GC's full collections, which otherwise walk it all: pauses
    # of 40-50 ms every few seconds were measured at 3,000 requests/s.
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=limited_protocol(http_limits(settings)),
        timeout_keep_alive=settings.http_idle_timeout_s,
        lifespan="on",
        # The gateway writes its own access log (gateway.requestlog): one line per
        # request with its request id, tenant and outcome, which uvicorn's does not know.
        access_log=False,
        log_config=None,  # keep the logging configured above
        server_header=False,
        # Client addresses from X-Forwarded-For matter only to the access log; rewriting
        # them costs 1.5% of the CPU at full load.
        proxy_headers=settings.access_log,
        backlog=4096,
        timeout_graceful_shutdown=int(settings.publish_timeout_s) + 5,
    )
    server = uvicorn.Server(config)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve(server, app.state.gateway))


def http_limits(settings: GatewaySettings) -> HttpLimits:
    return HttpLimits(
        max_header_bytes=settings.http_max_header_bytes,
        max_headers=settings.http_max_headers,
        idle_s=settings.http_idle_timeout_s,
        header_timeout_s=settings.http_header_timeout_s,
        body_timeout_s=settings.http_body_timeout_s,
        max_connections=settings.http_max_connections,
    )


async def _serve(server: uvicorn.Server, gateway: Gateway) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, gateway.tenants.reload)
    try:
        await server.serve()
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
