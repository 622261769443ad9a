"""One POST to the gateway, as `switchboard send` and `switchboard baseline import` make it."""

import httpx


class GatewayUnreachableError(Exception):
    """No answer from the gateway: one line naming the URL and why."""


def post_json(url: str, body: bytes, token: str) -> httpx.Response:
    """POST `body` (JSON) with the bearer `token`; the answer, whatever its status."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        return httpx.post(url, content=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise GatewayUnreachableError(f"{url}: {exc}") from None
