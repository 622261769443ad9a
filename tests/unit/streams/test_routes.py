"""The worker's web port serves exactly the documented routes, nothing of Faust's own.

Read from the route table of the aiohttp application Faust's web driver serves, after
Faust applied its blueprints: a future faust-streaming default that adds a page (its
/table/ pages serve every row of every table, to anyone) fails this test.
"""

from faust.web.base import BLUEPRINT_FLAGS

from streams import probes, views  # noqa: F401 - register their pages on the app
from streams.app import app

DOCUMENTED = {
    "/v1/orgs/{uId}/asset-counts",
    "/v1/orgs/{uId}/assignments",
    "/v1/orgs/{uId}/users/{clientUserId}",
    "/v1/orgs/{uId}/users",
    "/v1/orgs/{uId}/last-test",
    "/v1/tenants/{tenantId}",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
}
SERVICE = {"/healthz", "/readyz", "/metrics", "/openapi.json"}


def served() -> set[tuple[str, str]]:
    """(method, path) of every route of the aiohttp app, as the worker builds it."""
    web = app.web
    web.init_server()  # what the worker does when its web server starts: blueprints applied
    routes = set()
    for route in web.web_app.router.routes():  # type: ignore[attr-defined]  # aiohttp driver
        info = route.resource.get_info() if route.resource is not None else {}
        routes.add((route.method, info.get("formatter") or info.get("path") or str(info)))
    return routes


def test_only_the_documented_routes_are_served() -> None:
    assert served() == {(m, p) for p in DOCUMENTED for m in ("GET", "HEAD")}


def test_every_setting_of_a_faust_page_is_off() -> None:
    """Also off by its setting, should the driver without built-in pages ever be bypassed."""
    assert {flag: getattr(app.conf, flag) for flag in BLUEPRINT_FLAGS.values()} == {
        flag: False for flag in BLUEPRINT_FLAGS.values()
    }


def test_the_openapi_document_describes_every_query_route_served() -> None:
    from streams import openapi

    documented = set(openapi.document(views.QUERY_VIEWS)["paths"])
    assert documented == {path for _, path in served()} - SERVICE
