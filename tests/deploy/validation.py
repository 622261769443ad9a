"""Offline schema validation of rendered Kubernetes objects.

Built-in kinds are checked with kubernetes-validate's bundled OpenAPI schemas in strict
mode (an unknown field is an error), for the oldest Kubernetes the README supports and the
newest the installed kubernetes-validate ships. Custom resources are checked with the JSON
Schemas in crd_schemas/. A kind with no schema at all is reported, never passed silently,
and an API version the operator no longer serves is refused by name.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
from kubernetes_validate import utils as kv

CRD_SCHEMAS = Path(__file__).parent / "crd_schemas"
OLDEST_SUPPORTED = "1.27"
KUBERNETES_VERSIONS = (OLDEST_SUPPORTED, kv.latest_version())

# The one version each operator's API group is served in. Strimzi 1.0 removed v1beta2 (and
# v1beta1, v1alpha1): the API server answers "no matches for kind" and the whole apply
# fails. From 0.49 on the Topic and User Operators already require v1.
ONLY_SERVED_VERSION = {"kafka.strimzi.io": "v1"}


def crd_schema_file(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return CRD_SCHEMAS / f"{kind.lower()}-{group}-{version}.json"


@cache
def _crd_validator(path: Path) -> jsonschema.Draft202012Validator:
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<root>"


def problems(obj: dict[str, Any], kubernetes_version: str) -> list[str]:
    """Every schema violation of one object; empty when it is valid."""
    label = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    served = ONLY_SERVED_VERSION.get(group)
    if served is not None and version != served:
        return [f"{label}: apiVersion {group}/{version} is not served, use {group}/{served}"]
    crd = crd_schema_file(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    if crd.exists():
        errors = _crd_validator(crd).iter_errors(obj)
        return [f"{label}: {_where(e)}: {e.message}" for e in errors]
    try:
        kubernetes_validate.validate(obj, kubernetes_version, strict=True)
    except kv.SchemaNotFoundError as exc:
        return [
            f"{label}: no schema for {obj.get('apiVersion')} {obj.get('kind')} "
            f"(add one to {CRD_SCHEMAS.name}/): {exc.message}"
        ]
    except kv.ValidationError as exc:
        return [f"{label}: {_where(exc)} (Kubernetes {exc.version}): {exc.message}"]
    return []
