"""Tenants files that must never load: one organization for two tenants, no tenant,
weak HMAC secrets, endless token lifetimes; and refusals that never repeat a secret."""

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from schemas.tenantregistry import TenantRegistry
from schemas.tenants import TenantDirectory, TenantsFileError, token_sha256
from switchboard.tenantsfile import write_tenants

SECRET = "a-shared-secret-of-thirty-two-b!"  # exactly 32 bytes
assert len(SECRET.encode()) == 32


def issuer(iss: str, tenant: str, **fields: Any) -> dict[str, Any]:
    return {"iss": iss, "aud": "aud", "tenant": tenant, "secrets": [SECRET], **fields}


def two_tenants(
    acme: dict[str, Any] | None = None,
    globex: dict[str, Any] | None = None,
    issuers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "tenants": [
            {"id": "acme", "token_sha256": [token_sha256("a")], **(acme or {})},
            {"id": "globex", "token_sha256": [token_sha256("g")], **(globex or {})},
        ],
        "app_issuers": issuers or [],
    }


def refusal(config: Any) -> str:
    with pytest.raises(TenantsFileError) as caught:
        TenantDirectory.from_mapping(config)
    return str(caught.value)


def test_a_uid_under_two_tenants_is_refused_naming_it_and_both_tenants() -> None:
    message = refusal(
        two_tenants({"uids": ["1", "2049025000431439"]}, {"uids": ["2049025000431439"]})
    )
    assert "uId '2049025000431439'" in message
    assert "tenant 'acme'" in message and "tenant 'globex'" in message


@pytest.mark.parametrize(
    "config",
    [
        two_tenants({"tenant_ids": ["312022"]}, {"tenant_ids": ["312022"]}),
        two_tenants(
            {"tenant_ids": ["312022"]}, issuers=[issuer("g", "globex", tenant_ids=["312022"])]
        ),
        two_tenants(
            issuers=[
                issuer("a", "acme", tenant_ids=["312022"]),
                issuer("g", "globex", tenant_ids=["312022"]),
            ]
        ),
    ],
    ids=["two-tenants", "tenant-and-other-tenants-issuer", "issuers-of-two-tenants"],
)
def test_a_tenant_id_owned_by_two_tenants_is_refused(config: dict[str, Any]) -> None:
    message = refusal(config)
    assert "tenantId '312022'" in message
    assert "tenant 'acme'" in message and "tenant 'globex'" in message


def test_the_same_organization_twice_for_one_tenant_is_allowed() -> None:
    """A tenant's own tenant_ids and its issuers' lists are one set: repeating an id in
    both (as the README's example does) gives it to nobody else."""
    config = two_tenants(
        {"uids": ["1", "1"], "tenant_ids": ["312022"]},
        {"uids": ["2"]},
        issuers=[
            issuer("a", "acme", tenant_ids=["312022"]),
            issuer("b", "acme", tenant_ids=["312022"]),
        ],
    )
    directory = TenantDirectory.from_mapping(config)
    acme = directory.tenant("acme")
    assert acme is not None and directory.owns_tenant_id(acme, "312022")


@pytest.mark.parametrize(
    "config", [{}, {"tenants": []}, {"tenants": [], "app_issuers": []}], ids=str
)
def test_no_tenant_at_all_is_refused(config: dict[str, Any]) -> None:
    assert "no tenants" in refusal(config)


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512", "hs256"])
def test_a_short_hmac_secret_is_refused_without_printing_it(alg: str) -> None:
    short = "sekrit-31-bytes-long-0123456789"
    assert len(short.encode()) == 31
    config = two_tenants(issuers=[issuer("ams", "acme", algorithms=[alg], secrets=[SECRET, short])])
    message = refusal(config)
    assert "'ams'" in message and "secrets[1]" in message and "32 bytes" in message
    assert short not in message and "sekrit" not in message


def test_secret_length_is_counted_in_bytes_and_32_is_enough() -> None:
    TenantDirectory.from_mapping(two_tenants(issuers=[issuer("ams", "acme")]))
    eleven_chars = "ééééééééééé"  # 11 characters, 22 bytes
    config = two_tenants(issuers=[issuer("ams", "acme", secrets=[eleven_chars * 2])])
    TenantDirectory.from_mapping(config)  # 44 bytes
    assert "secrets[0]" in refusal(
        two_tenants(issuers=[issuer("ams", "acme", secrets=[eleven_chars])])
    )


def test_secrets_of_an_issuer_without_hmac_algorithms_are_never_used_so_not_checked() -> None:
    config = two_tenants(
        issuers=[issuer("rsa", "acme", algorithms=["RS256"], secrets=["x"], public_keys=["pem"])]
    )
    TenantDirectory.from_mapping(config)


@pytest.mark.parametrize(("lifetime", "ok"), [(172_800, True), (172_801, False), (10**9, False)])
def test_max_lifetime_is_capped_at_48_hours(lifetime: int, ok: bool) -> None:
    config = two_tenants(issuers=[issuer("ams", "acme", max_lifetime_s=lifetime)])
    if ok:
        TenantDirectory.from_mapping(config)
    else:
        assert "app_issuers.0.max_lifetime_s" in refusal(config)


def write(path: Path, config: Any, mtime: int) -> None:
    """A tenants file (raw text, or a config through the one factory) with a given mtime."""
    if isinstance(config, str):
        path.write_text(config, encoding="utf-8")
    else:
        write_tenants(path, config)
    os.utime(path, (mtime, mtime))


def test_a_lifetime_above_300_s_is_loaded_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tenants.yaml"
    config = two_tenants(
        issuers=[
            issuer("short", "acme", max_lifetime_s=300),
            issuer("sample", "acme", max_lifetime_s=108_000),
        ]
    )
    write(path, config, 1_000)
    with caplog.at_level(logging.WARNING, logger="schemas.tenantregistry"):
        registry = TenantRegistry(path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "'sample'" in warnings[0] and "108000 s" in warnings[0]
    assert registry.current.issuer("sample") is not None


SECRET_ON_THE_LINE = "s3cr3t-on-the-broken-line-0123456789abcdef"


@pytest.mark.parametrize(
    ("broken", "line", "column"),
    [
        (f'    secrets: ["{SECRET_ON_THE_LINE}]\n', 5, 1),  # unclosed quote: found at the end
        (f"    secrets: [{SECRET_ON_THE_LINE}\n", 5, 1),  # unclosed flow sequence
        (f"    secrets: [{SECRET_ON_THE_LINE}]]\n", 4, 58),  # one bracket too many
        (f"    secrets:\t{SECRET_ON_THE_LINE}: [\n", 4, 13),
        (f"    secrets: [*{SECRET_ON_THE_LINE}]\n", 4, 15),  # an alias: named by its text
        (f"    secrets: [!{SECRET_ON_THE_LINE} x]\n", 4, 15),  # a tag: named by its text
    ],
    ids=["unclosed-quote", "unclosed-sequence", "extra-bracket", "tab", "alias", "tag"],
)
def test_yaml_errors_give_line_column_and_problem_but_never_the_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, broken: str, line: int, column: int
) -> None:
    text = "tenants: [{id: acme}]\napp_issuers:\n  - iss: ams\n" + broken
    with pytest.raises(TenantsFileError) as caught:
        TenantDirectory.from_yaml(text)
    message = str(caught.value)
    assert message.startswith(f"not valid YAML: line {line}, column {column}: "), message
    assert SECRET_ON_THE_LINE not in message and "s3cr3t" not in message
    assert caught.value.__cause__ is None and caught.value.__context__ is not None

    path = tmp_path / "tenants.yaml"
    write(path, two_tenants(), 1_000)
    registry = TenantRegistry(path)
    write(path, text, 2_000)
    with caplog.at_level(logging.ERROR, logger="schemas.tenantregistry"):
        assert registry.reload_if_changed() is False
    [record] = caplog.records
    assert f"line {line}, column {column}" in record.getMessage()
    assert "s3cr3t" not in record.getMessage() and record.exc_info is None


def test_a_reload_that_would_share_an_organization_keeps_the_previous_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tenants.yaml"
    write(path, two_tenants({"uids": ["1111"]}, {"uids": ["2222"]}), 1_000)
    registry = TenantRegistry(path)
    before = registry.current
    write(path, two_tenants({"uids": ["1111"]}, {"uids": ["2222", "1111"]}), 2_000)
    with caplog.at_level(logging.ERROR, logger="schemas.tenantregistry"):
        assert registry.reload_if_changed() is False
    assert registry.current is before
    globex = registry.current.tenant("globex")
    assert globex is not None and not registry.current.owns_uid(globex, "1111")
    [record] = caplog.records
    message = record.getMessage()
    assert "refused, keeping the previous one" in message
    assert "uId '1111'" in message and "'acme'" in message and "'globex'" in message


def test_a_file_sharing_an_organization_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "tenants.yaml"
    write(path, two_tenants({"tenant_ids": ["9"]}, {"tenant_ids": ["9"]}), 1_000)
    with pytest.raises(TenantsFileError, match="tenantId '9' is listed under two tenants"):
        TenantRegistry(path)


def test_a_control_character_is_reported_by_position_only() -> None:
    with pytest.raises(TenantsFileError) as caught:
        TenantDirectory.from_yaml(f'tenants: [{{id: "{SECRET_ON_THE_LINE}\x00"}}]\n')
    assert str(caught.value) == "not valid YAML: character 59: special characters are not allowed"
