"""The OpenAPI 3.1 document of the worker's query views, built from their answer models.

Each view is declared with its path, answer model (streams.answers) and query parameters
(streams.views.query_view), and the document is made from exactly those: what
/openapi.json says is what the views answer. Every view needs a bearer token of
the tenant owning the organization in its path.
"""

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from streams.answers import Problem

REFUSALS = {
    "400": "A query parameter is missing or not valid.",
    "401": "No valid bearer token (WWW-Authenticate says how to send one).",
    "403": "The organization is not one of the token's tenant's.",
    "404": "Nothing is known of it.",
    "503": "This worker's tables are recovering; retry after Retry-After seconds.",
}


@dataclass(frozen=True)
class Page:
    default: int
    maximum: int


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    required: bool = False
    page: Page | None = None  # an integer page size with this default and maximum


@dataclass(frozen=True)
class Described:
    path: str
    answer: type[BaseModel]
    query: tuple[Param, ...]


def document(described: list[tuple[type, Described]]) -> dict[str, Any]:
    """The document of these (view class, description) pairs, in this order."""
    models = [d.answer for _, d in described] + [Problem]
    refs, defs = models_json_schema(
        [(model, "serialization") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    paths: dict[str, Any] = {}
    for view, d in described:
        paths[d.path] = {"get": _operation(view, d, refs[(d.answer, "serialization")])}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard stream worker: query views", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _operation(view: type, d: Described, schema: dict[str, Any]) -> dict[str, Any]:
    doc = (view.__doc__ or "").strip()
    summary, _, description = doc.partition("\n")
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {
        "operationId": view.__name__.removesuffix("View"),  # UserView answers the operation "User"
        "summary": summary,
        "description": description.strip(),
        "parameters": [_path_param(name) for name in re.findall(r"{(\w+)}", d.path)]
        + [_query_param(p) for p in d.query],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
            **{code: {"description": text, "content": problem} for code, text in REFUSALS.items()},
        },
    }


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query_param(p: Param) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if p.page is not None:
        schema = {"type": "integer", "minimum": 1, "maximum": p.page.maximum}
        schema["default"] = p.page.default
    return {
        "name": p.name,
        "in": "query",
        "required": p.required,
        "description": p.description,
        "schema": schema,
    }
