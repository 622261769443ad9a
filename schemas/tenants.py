"""The tenants file: who may send and read for which organizations.

One YAML file (path in SWITCHBOARD_TENANTS_FILE) is the contract between the gateway,
which checks who may *write* for an organization, and the stream workers' query views,
which check who may *read* it. Both ask a `TenantDirectory`, so the rules are written
once; schemas.tenantregistry reads the file and swaps the directory when it changes.

Bearer tokens are never stored: the file lists the hex sha256 of each token (several
during a rotation) and a presented token is hashed and compared in constant time.

The file's schema and the rules a whole file must meet are in schemas.tenantsfile.
"""

import hashlib
import hmac
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from schemas.tenantsfile import (
    AppIssuer,
    Tenant,
    TenantsFile,
    TenantsFileError,
    load_warnings,
    load_yaml,
    parse_mapping,
)

__all__ = [
    "AppIssuer",
    "Tenant",
    "TenantDirectory",
    "TenantsFile",
    "TenantsFileError",
    "bearer_token",
    "token_sha256",
]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None if it has no such form.
    The gateway and the query views read credentials through this one parser."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip(" \t")
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TenantDirectory:
    """An immutable, validated view of one version of the tenants file."""

    config: TenantsFile

    @classmethod
    def from_mapping(cls, data: Any) -> "TenantDirectory":
        return cls(parse_mapping(data))

    @classmethod
    def from_yaml(cls, text: str) -> "TenantDirectory":
        return cls.from_mapping(load_yaml(text))

    @cached_property
    def warnings(self) -> list[str]:
        return load_warnings(self.config)

    @cached_property
    def _tenant_by_hash(self) -> dict[str, Tenant]:
        return {h: t for t in self.config.tenants for h in t.token_sha256}

    @cached_property
    def _uids(self) -> dict[str, frozenset[str]]:
        return {t.id: frozenset(t.uids) for t in self.config.tenants}

    @cached_property
    def _tenant_ids(self) -> dict[str, frozenset[str]]:
        """App tenantIds by tenant: its own list and its issuers' lists."""
        ids: dict[str, set[str]] = {t.id: set(t.tenant_ids) for t in self.config.tenants}
        for issuer in self.config.app_issuers:
            ids.setdefault(issuer.tenant, set()).update(issuer.tenant_ids)
        return {tenant: frozenset(found) for tenant, found in ids.items()}

    @cached_property
    def _tenants(self) -> dict[str, Tenant]:
        return {t.id: t for t in self.config.tenants}

    @cached_property
    def _issuers(self) -> dict[str, AppIssuer]:
        return {i.iss: i for i in self.config.app_issuers}

    def tenant_for_token(self, token: str) -> Tenant | None:
        """The tenant owning this bearer token, or None.

        The lookup is by the token's sha256, so its timing can only tell something about
        a hash, never about a token (finding a token from its hash is preimage-hard); the
        final compare_digest keeps the match itself constant-time. A scan of every hash
        instead would cost each request more with every tenant added.
        """
        digest = token_sha256(token)
        tenant = self._tenant_by_hash.get(digest)
        if tenant is None:
            return None
        for listed in tenant.token_sha256:
            if hmac.compare_digest(digest, listed):
                return tenant
        return None

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self._tenants.get(tenant_id)

    def issuer(self, iss: str) -> AppIssuer | None:
        return self._issuers.get(iss)

    def owns_uid(self, tenant: Tenant, uid: str) -> bool:
        return uid in self._uids.get(tenant.id, frozenset())

    def owns_tenant_id(self, tenant: Tenant, tenant_id: str) -> bool:
        """App tenantIds come from the tenant's own list and from its issuers' lists."""
        return tenant_id in self._tenant_ids.get(tenant.id, frozenset())
