"""The tenants file: who may send and read for which organizations.

One YAML file (path in SWITCHBOARD_TENANTS_FILE) is the contract between the gateway,
which checks who may *write* for an organization, and the stream workers' query views,
which check who may *read* it. Both use `TenantRegistry`, so the rules are written once.

Bearer tokens are never stored: the file lists the hex sha256 of each token (several
during a rotation) and a presented token is hashed and compared in constant time.

The file's schema and the rules a whole file must meet are in schemas.tenantsfile.
"""

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
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
    "TenantRegistry",
    "TenantsFile",
    "TenantsFileError",
    "bearer_token",
    "token_sha256",
]

log = logging.getLogger(__name__)


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
        final compare_digest keeps the match itself constant-time. With thousands of
        tenants a scan of every hash would cost a quarter of a millisecond per request.
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


class TenantRegistry:
    """Holds the current TenantDirectory and swaps it when the file changes.

    A reload that fails (unreadable, bad YAML, bad schema) is logged and the previous
    directory stays in force, so a broken edit never locks every sender out.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._current = self._read()

    @property
    def current(self) -> TenantDirectory:
        return self._current

    def _file_stamp(self) -> tuple[int, int, int]:
        st = self.path.stat()
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _read(self) -> TenantDirectory:
        try:
            stamp = self._file_stamp()
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TenantsFileError(f"cannot read tenants file {self.path}: {exc}") from exc
        # Remember this version even if it is refused, so a broken file is reported once,
        # not on every request, and is read again only when it changes again.
        self._stamp = stamp
        directory = TenantDirectory.from_yaml(text)
        for warning in directory.warnings:
            log.warning("tenants file %s: %s", self.path, warning)
        return directory

    def reload(self) -> bool:
        """Re-read the file now (e.g. on SIGHUP). True if a new version took effect."""
        try:
            self._current = self._read()
        except TenantsFileError as exc:
            log.error("tenants file %s refused, keeping the previous one: %s", self.path, exc)
            return False
        log.info("tenants file %s loaded", self.path)
        return True

    def reload_if_changed(self) -> bool:
        """Reload when the file's mtime, size or inode changed since it was last read.

        A refused version counts as read: it is not parsed (nor reported) again until the
        file changes again.
        """
        try:
            stamp = self._file_stamp()
        except OSError as exc:
            log.error("tenants file %s unreadable, keeping the previous one: %s", self.path, exc)
            return False
        if stamp == self._stamp:
            return False
        return self.reload()
