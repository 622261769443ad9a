"""The floor under the gateway: uvicorn serving an ASGI app that does nothing.

`python bench/asgi_floor.py PORT` serves, with the gateway's uvicorn settings (uvloop,
httptools, no access log), an app that reads each POST body and answers 202 with a small
JSON body, and 200 on GET /readyz. `bench/gateway_bench.py --floor` drives it exactly as
it drives the gateway: what one process can answer here before any authentication,
parsing or Kafka work, so the gateway's figures can be read against it.
"""

import sys
from typing import Any

import uvicorn

ACCEPTED = b'{"status":"accepted","notificationId":"floor"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(ACCEPTED))]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:  # the whole body, as the gateway reads it
        message = await receive()
        more = message.get("more_body", False)
    status = 200 if scope["method"] == "GET" else 202
    await send({"type": "http.response.start", "status": status, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ACCEPTED})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        lifespan="off",
        access_log=False,
        log_level="warning",
        server_header=False,
        proxy_headers=False,  # as the gateway, whose access log is off
        backlog=4096,
        loop="uvloop",
        http="httptools",
    )
