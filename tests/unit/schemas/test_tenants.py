"""The tenants file: parsing, token lookup, ownership, and hot reload that never locks out."""

import logging
import os
from pathlib import Path

import pytest

from schemas.tenantregistry import TenantRegistry
from schemas.tenants import TenantDirectory, TenantsFileError, bearer_token, token_sha256

OLD_TOKEN, NEW_TOKEN, OTHER_TOKEN = "mdm-old-token", "mdm-new-token", "other-token"
SECRET = "hmac-secret-value-0123456789abcdef"  # 34 bytes: RFC 7518 wants 32 for HS256
VALID = f"""
tenants:
  - id: acme
    token_sha256: [{token_sha256(OLD_TOKEN)}, {token_sha256(NEW_TOKEN).upper()}]
    uids: ["2049025000431439"]
    tenant_ids: ["312022"]
    rate_limit_per_s: 50
  - id: globex
    token_sha256: [{token_sha256(OTHER_TOKEN)}]
    uids: ["1111"]
app_issuers:
  - iss: ams
    aud: 03a22eb2-537b-471c-bf2b-2055e2f71618
    tenant: acme
    secrets: [{SECRET}]
    tenant_ids: ["400400"]
"""


def test_from_yaml_reads_a_valid_file() -> None:
    directory = TenantDirectory.from_yaml(VALID)
    acme = directory.tenant("acme")
    assert acme is not None and acme.rate_limit_per_s == 50
    issuer = directory.issuer("ams")
    assert issuer is not None and issuer.tenant == "acme" and issuer.algorithms == ["HS256"]
    assert directory.tenant("nobody") is None and directory.issuer("nobody") is None


def test_token_lookup_finds_the_owner_and_accepts_both_hashes_during_rotation() -> None:
    directory = TenantDirectory.from_yaml(VALID)
    for token in (OLD_TOKEN, NEW_TOKEN):  # the new hash is written in upper case
        tenant = directory.tenant_for_token(token)
        assert tenant is not None and tenant.id == "acme"
    other = directory.tenant_for_token(OTHER_TOKEN)
    assert other is not None and other.id == "globex"
    assert directory.tenant_for_token("unknown") is None
    assert directory.tenant_for_token("") is None


def test_ownership_of_uids_and_tenant_ids() -> None:
    directory = TenantDirectory.from_yaml(VALID)
    acme, globex = directory.tenant("acme"), directory.tenant("globex")
    assert acme is not None and globex is not None
    assert directory.owns_uid(acme, "2049025000431439")
    assert not directory.owns_uid(globex, "2049025000431439")
    assert directory.owns_tenant_id(acme, "312022")  # the tenant's own list
    assert directory.owns_tenant_id(acme, "400400")  # through its app issuer
    assert not directory.owns_tenant_id(globex, "400400")
    assert not directory.owns_tenant_id(acme, "999")


def test_secrets_stay_out_of_the_repr() -> None:
    assert SECRET not in repr(TenantDirectory.from_yaml(VALID))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tenants: [unclosed", "not valid YAML"),
        ("", "empty"),
        ("- just\n- a list\n", "valid dictionary"),
        ("tenants:\n  - id: a\n    token_sha256: [abc123]\n", "64 hex characters"),
        ("tenants:\n  - id: a\n    token_sha256: ['" + "g" * 64 + "']\n", "64 hex characters"),
        ("tenants:\n  - id: a\n  - id: a\n", "tenant ids must be unique"),
        ("tenants:\n  - id: a\n    uids: [2049025000431439]\n", "tenants.0.uids.0"),
        ("tenants:\n  - id: a\n    colour: blue\n", "tenants.0.colour"),
        (
            f"tenants:\n  - id: a\n    token_sha256: ['{'a' * 64}']\n"
            f"  - id: b\n    token_sha256: ['{'A' * 64}']\n",
            "two tenants",
        ),
        ("tenants: [{id: a}]\napp_issuers: [{iss: i, aud: x, tenant: a}]\n", "no secrets"),
        (
            "tenants: [{id: a}]\napp_issuers: [{iss: i, aud: x, tenant: zz, secrets: [s]}]\n",
            "unknown tenant",
        ),
        (
            "tenants: [{id: a}]\napp_issuers:\n"
            "  - {iss: i, aud: x, tenant: a, secrets: [s]}\n"
            "  - {iss: i, aud: y, tenant: a, secrets: [t]}\n",
            "iss values must be unique",
        ),
        (
            "tenants: [{id: a}]\n"
            "app_issuers: [{iss: i, aud: x, tenant: a, secrets: [s], algorithms: [None]}]\n",
            "algorithm 'none'",
        ),
    ],
    ids=[
        "bad-yaml",
        "empty",
        "not-a-mapping",
        "short-hash",
        "non-hex-hash",
        "duplicate-tenant",
        "unquoted-uid",
        "unknown-key",
        "hash-in-two-tenants",
        "issuer-without-secrets",
        "issuer-unknown-tenant",
        "duplicate-issuer",
        "alg-none",
    ],
)
def test_refused_files(text: str, message: str) -> None:
    with pytest.raises(TenantsFileError, match=message):
        TenantDirectory.from_yaml(text)


def test_refusal_messages_do_not_repeat_secrets() -> None:
    text = "tenants: [{id: a}]\napp_issuers: [{iss: i, aud: x, tenant: a, secrets: s3cr3t}]\n"
    with pytest.raises(TenantsFileError) as caught:
        TenantDirectory.from_yaml(text)
    assert "app_issuers.0.secrets" in str(caught.value)
    assert "s3cr3t" not in str(caught.value) and caught.value.__cause__ is None


def write(path: Path, text: str, mtime: int) -> None:
    """Write and set the mtime explicitly: a coarse clock must not hide the change."""
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))


def test_registry_refuses_to_start_on_a_broken_file(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    write(path, "tenants: [unclosed", 1_000)
    with pytest.raises(TenantsFileError):
        TenantRegistry(path)
    with pytest.raises(TenantsFileError, match="cannot read"):
        TenantRegistry(tmp_path / "missing.yaml")


def test_reload_if_changed_picks_up_a_change(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    write(path, VALID, 1_000)
    registry = TenantRegistry(path)
    assert registry.reload_if_changed() is False  # nothing changed
    write(path, VALID.replace("id: globex", "id: initech"), 2_000)
    assert registry.reload_if_changed() is True
    assert registry.current.tenant("initech") is not None
    assert registry.current.tenant("globex") is None


def test_a_broken_file_is_refused_once_and_the_old_directory_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tenants.yaml"
    write(path, VALID, 1_000)
    registry = TenantRegistry(path)
    before = registry.current
    write(path, "tenants: [unclosed", 2_000)
    with caplog.at_level(logging.ERROR, logger="schemas.tenantregistry"):
        assert registry.reload_if_changed() is False
        assert registry.reload_if_changed() is False  # same broken version: not read again
    assert len(caplog.records) == 1 and "refused" in caplog.records[0].getMessage()
    assert registry.current is before
    assert registry.current.tenant_for_token(OLD_TOKEN) is not None
    write(path, VALID.replace("id: globex", "id: initech"), 3_000)
    assert registry.reload_if_changed() is True
    assert registry.current.tenant("initech") is not None


def test_reload_returns_false_on_a_broken_file_and_true_on_a_good_one(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    write(path, VALID, 1_000)
    registry = TenantRegistry(path)
    before = registry.current
    write(path, "tenants:\n  - id: a\n  - id: a\n", 2_000)
    assert registry.reload() is False
    assert registry.current is before
    write(path, VALID, 3_000)
    assert registry.reload() is True


def test_a_deleted_file_keeps_the_old_directory(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    write(path, VALID, 1_000)
    registry = TenantRegistry(path)
    before = registry.current
    path.unlink()
    assert registry.reload_if_changed() is False
    assert registry.current is before


def test_token_lookup_finds_the_right_tenant_among_thousands() -> None:
    tenants = [
        {"id": f"t{i}", "token_sha256": [token_sha256(f"tok-{i}")], "uids": [f"{i}"]}
        for i in range(3000)
    ]
    directory = TenantDirectory.from_mapping({"tenants": tenants})
    found = directory.tenant_for_token("tok-2718")
    assert found is not None and found.id == "t2718"
    assert directory.owns_uid(found, "2718") and not directory.owns_uid(found, "2719")
    assert directory.tenant_for_token("tok-3000") is None


def test_issuers_tenants_and_tenant_ids_among_thousands() -> None:
    """The lookups a JWT request makes, with thousands of tenants (indexed, not scanned)."""
    n = 3000
    tenants = [{"id": f"t{i}", "tenant_ids": [f"own-{i}"]} for i in range(n)]
    issuers = [
        {"iss": f"iss-{i}", "aud": "a", "tenant": f"t{i}", "secrets": [SECRET],
         "tenant_ids": [f"app-{i}"]}
        for i in range(n)
    ]  # fmt: skip
    directory = TenantDirectory.from_mapping({"tenants": tenants, "app_issuers": issuers})
    issuer = directory.issuer("iss-2718")
    assert issuer is not None and issuer.tenant == "t2718"
    assert directory.issuer("iss-3000") is None
    tenant = directory.tenant("t2718")
    assert tenant is not None and tenant.id == "t2718" and directory.tenant("t3000") is None
    assert directory.owns_tenant_id(tenant, "own-2718")
    assert directory.owns_tenant_id(tenant, "app-2718")
    assert not directory.owns_tenant_id(tenant, "own-2719")
    assert not directory.owns_tenant_id(tenant, "app-2719")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("Bearer  abc\t", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_parses_only_the_bearer_scheme(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
