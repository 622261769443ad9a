"""The tenants file: who may send and read for which organizations.

One YAML file (path in SWITCHBOARD_TENANTS_FILE) is the contract between the gateway,
which checks who may *write* for an organization, and the stream workers' query views,
which check who may *read* it. Both use `TenantRegistry`, so the rules are written once.

Bearer tokens are never stored: the file lists the hex sha256 of each token (several
during a rotation) and a presented token is hashed and compared in constant time.
"""

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

log = logging.getLogger(__name__)


class TenantsFileError(ValueError):
    """The tenants file is missing, not YAML, or does not match the schema."""


class TenantModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tenant(TenantModel):
    id: str = Field(min_length=1)
    token_sha256: list[str] = Field(default_factory=list)
    uids: list[str] = Field(default_factory=list)
    tenant_ids: list[str] = Field(default_factory=list)
    rate_limit_per_s: float | None = Field(default=None, gt=0)

    @field_validator("token_sha256")
    @classmethod
    def _hex_sha256(cls, hashes: list[str]) -> list[str]:
        for value in hashes:
            if len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value):
                raise ValueError("token_sha256 entries must be 64 hex characters")
        return [value.lower() for value in hashes]


class AppIssuer(TenantModel):
    iss: str = Field(min_length=1)
    aud: str = Field(min_length=1)
    tenant: str = Field(min_length=1)
    algorithms: list[str] = Field(default_factory=lambda: ["HS256"], min_length=1)
    # repr=False: a logged TenantDirectory or issuer must not print the HMAC secrets.
    secrets: list[str] = Field(default_factory=list, repr=False)
    public_keys: list[str] = Field(default_factory=list)
    max_lifetime_s: float = Field(default=60, gt=0)
    tenant_ids: list[str] = Field(default_factory=list)

    @field_validator("algorithms")
    @classmethod
    def _no_none(cls, algorithms: list[str]) -> list[str]:
        if any(a.lower() == "none" for a in algorithms):
            raise ValueError("algorithm 'none' is never accepted")
        return algorithms


class TenantsFile(TenantModel):
    tenants: list[Tenant] = Field(default_factory=list)
    app_issuers: list[AppIssuer] = Field(default_factory=list)


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
        try:
            config = TenantsFile.model_validate(data if data is not None else {})
        except ValidationError as exc:
            raise TenantsFileError(_describe(exc)) from None
        ids = [t.id for t in config.tenants]
        if len(ids) != len(set(ids)):
            raise TenantsFileError("tenant ids must be unique")
        hashes = [h for t in config.tenants for h in set(t.token_sha256)]
        if len(hashes) != len(set(hashes)):
            raise TenantsFileError("a token_sha256 is listed for two tenants")
        issuers = [i.iss for i in config.app_issuers]
        if len(issuers) != len(set(issuers)):
            raise TenantsFileError("app issuer iss values must be unique")
        known = set(ids)
        for issuer in config.app_issuers:
            if not issuer.secrets and not issuer.public_keys:
                raise TenantsFileError(f"app issuer {issuer.iss!r} has no secrets or public_keys")
            if issuer.tenant not in known:
                raise TenantsFileError(f"app issuer {issuer.iss!r} names unknown tenant")
        return cls(config)

    @classmethod
    def from_yaml(cls, text: str) -> "TenantDirectory":
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise TenantsFileError(f"not valid YAML: {exc}") from exc
        if data is None:
            # Most likely a file caught half-written; loading it would lock every sender out.
            raise TenantsFileError("the tenants file is empty")
        return cls.from_mapping(data)

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


def _describe(exc: ValidationError) -> str:
    """The errors without their input values: those could be secrets, and this is logged."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '(file)'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )


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
        return TenantDirectory.from_yaml(text)

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
