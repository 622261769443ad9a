"""The tenants file's schema, and the rules a whole file must meet to be loaded.

A file is refused whole (at start the process stops; on reload the previous file stays,
see schemas.tenantregistry) when it could hand one organization to two tenants,
lock every sender out, or accept weak credentials: a uId or tenantId listed for two
tenants, no tenant at all, an HMAC secret shorter than RFC 7518 section 3.2 allows, a
max_lifetime_s above 48 hours. Refusal messages never repeat a value that could be a
secret (a secret's position, not its text; a YAML error's line and column, not the line).

The YAML parse is here too, so schemas needs PyYAML besides pydantic: the file's format is
part of the contract, and every reader of the file must parse it the same way.
"""

import re
from collections.abc import Iterable
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# RFC 7518 section 3.2: an HMAC key must be at least as long as the hash (HS256: 32 bytes).
MIN_HMAC_SECRET_BYTES = 32
# The sender's own sample token lives 30 hours; anything beyond two days is a mistake.
MAX_LIFETIME_S = 48 * 3600
# Above this a stolen token stays usable for long: worth a warning when the file loads.
LONG_LIFETIME_S = 300


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
    max_lifetime_s: float = Field(default=60, gt=0, le=MAX_LIFETIME_S)
    tenant_ids: list[str] = Field(default_factory=list)

    @property
    def uses_hmac(self) -> bool:
        return any(a.upper().startswith("HS") for a in self.algorithms)

    @field_validator("algorithms")
    @classmethod
    def _no_none(cls, algorithms: list[str]) -> list[str]:
        if any(a.lower() == "none" for a in algorithms):
            raise ValueError("algorithm 'none' is never accepted")
        return algorithms


class TenantsFile(TenantModel):
    tenants: list[Tenant] = Field(default_factory=list)
    app_issuers: list[AppIssuer] = Field(default_factory=list)


def parse_mapping(data: Any) -> TenantsFile:
    """The validated file, or TenantsFileError saying what is wrong (and where)."""
    try:
        config = TenantsFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise TenantsFileError(_describe(exc)) from None
    if not config.tenants:
        raise TenantsFileError("the tenants file lists no tenants: every sender would get 401")
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
        _check_secrets(issuer)
    _check_one_owner(config)
    return config


def load_yaml(text: str) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # `from None`: PyYAML's own message quotes the line, which may hold a secret.
        raise TenantsFileError(f"not valid YAML: {_yaml_problem(exc)}") from None
    if data is None:
        # Most likely a file caught half-written; loading it would lock every sender out.
        raise TenantsFileError("the tenants file is empty")
    return data


def load_warnings(config: TenantsFile) -> list[str]:
    """What is allowed but worth telling the operator when the file loads."""
    return [
        f"app issuer {i.iss!r} accepts tokens living up to {i.max_lifetime_s:.0f} s "
        f"(max_lifetime_s above {LONG_LIFETIME_S} s): a captured token stays usable "
        "that long"
        for i in config.app_issuers
        if i.max_lifetime_s > LONG_LIFETIME_S
    ]


def _describe(exc: ValidationError) -> str:
    """The errors without their input values: those could be secrets, and this is logged."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or '(file)'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    )


def _check_secrets(issuer: AppIssuer) -> None:
    """Short HMAC secrets can be brute-forced from one captured token. The message names
    the position of the secret, never the secret."""
    if not issuer.uses_hmac:
        return
    for index, secret in enumerate(issuer.secrets):
        if len(secret.encode()) < MIN_HMAC_SECRET_BYTES:
            raise TenantsFileError(
                f"app issuer {issuer.iss!r}: secrets[{index}] is shorter than "
                f"{MIN_HMAC_SECRET_BYTES} bytes (RFC 7518 section 3.2); make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )


def _check_one_owner(config: TenantsFile) -> None:
    """Each uId and tenantId belongs to one tenant: the gateway lets a tenant write for
    its organizations and the workers let it read them, so a second owner could do both.
    A tenant's tenantIds are its own list plus those of its app issuers."""
    _one_owner_each("uId", ((t.id, f"tenant {t.id!r}", t.uids) for t in config.tenants))
    _one_owner_each(
        "tenantId",
        [(t.id, f"tenant {t.id!r}", t.tenant_ids) for t in config.tenants]
        + [
            (i.tenant, f"tenant {i.tenant!r} (app issuer {i.iss!r})", i.tenant_ids)
            for i in config.app_issuers
        ],
    )


def _one_owner_each(kind: str, listings: Iterable[tuple[str, str, list[str]]]) -> None:
    owners: dict[str, tuple[str, str]] = {}
    for tenant, where, orgs in listings:
        for org in orgs:
            owner, first_where = owners.setdefault(org, (tenant, where))
            if owner != tenant:
                raise TenantsFileError(
                    f"{kind} {org!r} is listed under two tenants: {first_where} and {where}"
                )


# PyYAML names some tokens by their text (tags, anchors, aliases): a secret written
# unquoted could be one. Token kinds ('<scalar>') and single characters stay readable.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_READABLE = re.compile(r"<[a-z ]+>|.|\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|.)")


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what, without PyYAML's snippet of the offending line."""
    if isinstance(exc, yaml.reader.ReaderError):  # not text: no line to speak of
        return f"character {exc.position + 1}: {exc.reason}"
    problem = getattr(exc, "problem", None) or "syntax error"
    mark = exc.problem_mark if isinstance(exc, yaml.MarkedYAMLError) else None
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + _QUOTED.sub(_redact, problem)


def _redact(quoted: re.Match[str]) -> str:
    text = quoted.group()
    return text if _READABLE.fullmatch(text[1:-1]) else "'…'"
