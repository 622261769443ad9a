"""The OpenAPI document (/openapi.json, /docs): FastAPI's routes as FastAPI describes them,
and the notification endpoints from their table (gateway.endpoints), which FastAPI does
not know because they are served ahead of it.
"""

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, TypeAdapter

from gateway.endpoints import Endpoint

COMPONENT = "#/components/schemas/{model}"


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    requestId: str | None = None
    errors: list[FieldError] | None = None


SECURITY_SCHEMES = {
    "tenantToken": {"type": "http", "scheme": "bearer", "description": "A tenant's token."},
    "appJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Signed by an app issuer of the tenants file (HS256, RS256, ES256).",
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENT.format(model=name)}


def operation(endpoint: Endpoint) -> dict[str, Any]:
    """The OpenAPI operation of one table entry."""
    examples = {name: {"value": value} for name, value in endpoint.examples.items()}
    body = {"schema": _ref(endpoint.body_name), "examples": examples}
    accepted = {"application/json": {"schema": _ref(endpoint.accepted.__name__)}}
    problem = {"application/problem+json": {"schema": _ref("Problem")}}
    problems = {
        str(status): {"description": text, "content": problem}
        for status, text in endpoint.problems.items()
    }
    return {
        "summary": endpoint.summary,
        "description": endpoint.description,
        "security": [{endpoint.security: []}],
        "requestBody": {"required": True, "content": {"application/json": body}},
        "responses": {"202": {"description": "Stored in Kafka.", "content": accepted}, **problems},
    }


def _components(endpoints: Iterable[Endpoint]) -> dict[str, Any]:
    adapters: dict[str, TypeAdapter[Any]] = {}
    for endpoint in endpoints:
        adapters[endpoint.body_name] = TypeAdapter[Any](endpoint.body_model)
    adapters["Problem"] = TypeAdapter[Any](Problem)
    for endpoint in endpoints:
        adapters[endpoint.accepted.__name__] = TypeAdapter[Any](endpoint.accepted)
    found: dict[str, Any] = {}
    for name, adapter in adapters.items():
        schema = adapter.json_schema(ref_template=COMPONENT)
        found.update(schema.pop("$defs", {}))
        found.setdefault(name, schema)
    return found


def install_openapi(app: FastAPI, endpoints: tuple[Endpoint, ...]) -> None:
    """/openapi.json: FastAPI's own routes and the table's `endpoints`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            served: dict[str, Any] = {}
            for endpoint in endpoints:
                served.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation(endpoint)
            document["paths"] = {**served, **document.get("paths", {})}
            components = document.setdefault("components", {})
            components.setdefault("schemas", {}).update(_components(endpoints))
            components["securitySchemes"] = SECURITY_SCHEMES
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
