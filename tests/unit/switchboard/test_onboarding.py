"""switchboard tenants check / add and token rotate: the gateway's rules, atomic edits."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schemas.tenantregistry import TenantRegistry
from schemas.tenants import TenantDirectory, token_sha256
from switchboard import onboarding
from switchboard.cli import app

ACME_HASH = token_sha256("acme-token")
START = f"""\
# Tenants of the staging gateway. Keep this comment.
tenants:
  - id: acme
    token_sha256: ["{ACME_HASH}"]
    uids: ["2049025000431439"]   # the Cupertino location
    rate_limit_per_s: 50
"""


@pytest.fixture
def tenants(tmp_path: Path) -> Path:
    path = tmp_path / "tenants.yaml"
    path.write_text(START, encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_check_summarises_a_valid_file(tenants: Path) -> None:
    code, out = run("tenants", "check", str(tenants))
    assert code == 0
    assert "1 tenants, 1 organizations" in out
    assert "acme: 1 uIds, 0 tenantIds, 1 token(s), rate 50/s" in out


def test_check_refuses_what_the_gateway_refuses_in_one_line(tenants: Path) -> None:
    tenants.write_text(START + '  - id: globex\n    uids: ["2049025000431439"]\n')
    code, out = run("tenants", "check", str(tenants))
    assert code == 1
    assert out.strip().count("\n") == 0 and "listed under two tenants" in out


def test_add_prints_a_token_once_that_the_gateway_then_accepts(tenants: Path) -> None:
    code, out = run(
        "tenants", "add", "--id", "globex", "--uid", "777", "--uid", "778", "--file", str(tenants)
    )
    assert code == 0, out
    token = out.split("shown once, give it to the sender): ")[1].strip()
    directory = TenantDirectory.from_yaml(tenants.read_text())
    tenant = directory.tenant_for_token(token)
    assert tenant is not None and tenant.id == "globex"
    assert directory.owns_uid(tenant, "778")
    assert token not in tenants.read_text()  # only its hash is stored
    assert "# Tenants of the staging gateway. Keep this comment." in tenants.read_text()
    assert "# the Cupertino location" in tenants.read_text()


def test_add_refuses_an_organization_another_tenant_owns_and_leaves_the_file(
    tenants: Path,
) -> None:
    before = tenants.read_text()
    code, out = run("tenants", "add", "--id", "globex", "--uid", "2049025000431439",
                    "--file", str(tenants))  # fmt: skip
    assert code == 1 and "listed under two tenants" in out
    assert tenants.read_text() == before
    assert [p.name for p in tenants.parent.iterdir()] == ["tenants.yaml"]  # no temp left


def test_a_rotation_accepts_both_tokens_until_it_is_finished(tenants: Path) -> None:
    code, out = run("token", "rotate", "--tenant", "acme", "--file", str(tenants),
                    "--url", "https://mdm.example/v1/notifications")  # fmt: skip
    assert code == 0, out
    configuration = json.loads(out[out.index("{") :])
    new = configuration["notificationAuthToken"]
    assert configuration["notificationUrl"] == "https://mdm.example/v1/notifications"
    assert "ASSET_MANAGEMENT" in configuration["notificationTypes"]
    directory = TenantDirectory.from_yaml(tenants.read_text())
    assert directory.tenant_for_token("acme-token") is not None
    assert directory.tenant_for_token(new) is not None

    code, out = run("token", "rotate", "--tenant", "acme", "--file", str(tenants), "--finish")
    assert code == 0 and "1 old token(s) removed" in out
    directory = TenantDirectory.from_yaml(tenants.read_text())
    assert directory.tenant_for_token("acme-token") is None
    assert directory.tenant_for_token(new) is not None
    code, out = run("token", "rotate", "--tenant", "acme", "--file", str(tenants), "--finish")
    assert code == 1 and "no rotation under way" in out


def test_an_edit_is_picked_up_by_a_running_registry(tenants: Path) -> None:
    registry = TenantRegistry(tenants)
    token = onboarding.rotate_token(tenants, "acme")
    assert registry.reload_if_changed()
    assert registry.current.tenant_for_token(token) is not None


def test_an_unknown_tenant_is_one_line(tenants: Path) -> None:
    code, out = run("token", "rotate", "--tenant", "nobody", "--file", str(tenants))
    assert code == 1 and out.strip() == "switchboard: no tenant 'nobody' in the tenants file"
