"""Onboarding a provider without hand-editing hashes: check, add a tenant, rotate its token.

Every edit is validated with the gateway's own rules (schemas.tenants) before it replaces
the file, and replaces it atomically (a temporary file in the same directory, then
os.replace): a running gateway or worker reloads it on the change, and never reads half
a file. Comments and key order are kept (ruamel.yaml round trip).

A token is printed once and never stored: the file keeps its sha256. A rotation adds the
new token's hash after the old ones, so both are accepted while the sender switches;
`--finish` then keeps only the newest.
"""

import io
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from schemas.tenants import TenantDirectory, TenantsFileError, token_sha256

# What an Apple client configuration subscribes to (Apps and Books "notificationTypes").
APPLE_NOTIFICATION_TYPES = (
    "ASSET_COUNT",
    "ASSET_MANAGEMENT",
    "USER_ASSOCIATED",
    "USER_MANAGEMENT",
)


class OnboardingError(ValueError):
    """A request this command refuses (unknown tenant, a tenant that exists already...)."""


@dataclass(frozen=True)
class Summary:
    tenants: int
    organizations: int
    tenant_ids: int
    issuers: int
    lines: list[str]


def _yaml() -> YAML:
    handler = YAML()
    handler.preserve_quotes = True
    handler.indent(mapping=2, sequence=4, offset=2)
    return handler


def check(path: Path) -> Summary:
    """The file as the gateway reads it; TenantsFileError if the gateway would refuse it."""
    directory = TenantDirectory.from_yaml(_read(path))
    config = directory.config
    lines = [
        f"{t.id}: {len(t.uids)} uIds, {len(t.tenant_ids)} tenantIds, "
        f"{len(t.token_sha256)} token(s), rate "
        + (f"{t.rate_limit_per_s:g}/s" if t.rate_limit_per_s else "default")
        for t in config.tenants
    ]
    lines += [
        f"issuer {i.iss} -> {i.tenant}: {', '.join(i.algorithms)}, "
        f"tokens up to {i.max_lifetime_s:g} s"
        for i in config.app_issuers
    ]
    return Summary(
        tenants=len(config.tenants),
        organizations=sum(len(t.uids) for t in config.tenants),
        tenant_ids=sum(len(t.tenant_ids) for t in config.tenants),
        issuers=len(config.app_issuers),
        lines=lines,
    )


def add_tenant(
    path: Path,
    tenant_id: str,
    uids: Iterable[str],
    tenant_ids: Iterable[str] = (),
    rate_limit_per_s: float | None = None,
) -> str:
    """Add a tenant with a new token; the token (shown once)."""
    document = _load(path)
    tenants = document.setdefault("tenants", CommentedSeq())
    if any(t.get("id") == tenant_id for t in tenants):
        raise OnboardingError(f"tenant {tenant_id!r} exists already in {path}")
    token = secrets.token_urlsafe(32)
    entry = CommentedMap(id=tenant_id, token_sha256=[token_sha256(token)], uids=list(uids))
    if tenant_ids:
        entry["tenant_ids"] = list(tenant_ids)
    if rate_limit_per_s is not None:
        entry["rate_limit_per_s"] = rate_limit_per_s
    tenants.append(entry)
    _replace(path, document)
    return token


def rotate_token(path: Path, tenant_id: str) -> str:
    """Add a new token next to the tenant's current ones; the new token (shown once)."""
    document = _load(path)
    hashes = _tenant(document, tenant_id).setdefault("token_sha256", CommentedSeq())
    token = secrets.token_urlsafe(32)
    hashes.append(token_sha256(token))
    _replace(path, document)
    return token


def finish_rotation(path: Path, tenant_id: str) -> int:
    """Keep only the tenant's newest token; how many old ones were removed."""
    document = _load(path)
    hashes = _tenant(document, tenant_id).get("token_sha256") or []
    if len(hashes) < 2:
        raise OnboardingError(f"tenant {tenant_id!r} has no rotation under way")
    removed = len(hashes) - 1
    del hashes[:-1]
    _replace(path, document)
    return removed


def apple_client_configuration(url: str, token: str) -> dict[str, Any]:
    """The body that registers this endpoint and token with Apple (client configuration)."""
    return {
        "notificationUrl": url,
        "notificationAuthToken": token,
        "notificationTypes": list(APPLE_NOTIFICATION_TYPES),
    }


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TenantsFileError(f"cannot read tenants file {path}: {exc.strerror}") from None


def _load(path: Path) -> Any:
    TenantDirectory.from_yaml(_read(path))  # refuse to edit a file the gateway refuses
    return _yaml().load(_read(path))


def _tenant(document: Any, tenant_id: str) -> Any:
    for tenant in document.get("tenants") or []:
        if tenant.get("id") == tenant_id:
            return tenant
    raise OnboardingError(f"no tenant {tenant_id!r} in the tenants file")


def _replace(path: Path, document: Any) -> None:
    """Validate the new text as the gateway would, then swap it in atomically."""
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    text = buffer.getvalue()
    TenantDirectory.from_yaml(text)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
