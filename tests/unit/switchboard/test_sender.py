"""The sender simulator against a fake gateway: retries until 2xx, repeats, credentials."""

import json
from pathlib import Path

import httpx
import jwt
import pytest
import yaml

from schemas.tenants import TenantDirectory
from switchboard.sender import Sender, write_tenants_file
from switchboard.workload import APP_PATH, Workload


@pytest.fixture
def workload() -> Workload:
    return Workload.generate(tenants=2, orgs_per_tenant=5, notifications=60, seed=3)


def test_tenants_file_owns_every_org_and_signs_app_jwts(tmp_path: Path, workload: Workload) -> None:
    credentials = write_tenants_file(tmp_path / "t.yaml", [workload], aud="aud-1")
    directory = TenantDirectory.from_mapping(yaml.safe_load((tmp_path / "t.yaml").read_text()))
    for org in workload.orgs:
        header = credentials.header(org.tenant, APP_PATH if org.app else "/v1/notifications")
        token = header.removeprefix("Bearer ")
        if org.app:
            iss, secret = credentials.app_issuers[org.tenant]
            claims = jwt.decode(
                token, secret, ["HS256"], audience="aud-1", options={"verify_sub": False}
            )  # sub is null, as the app sender sends it
            issuer = directory.issuer(claims["iss"])
            assert issuer is not None and issuer.tenant == org.tenant and iss == claims["iss"]
            tenant = directory.tenant(org.tenant)
            assert tenant is not None and directory.owns_tenant_id(tenant, org.key)
        else:
            tenant = directory.tenant_for_token(token)
            assert tenant is not None and directory.owns_uid(tenant, org.key)


async def test_retries_until_accepted_in_order_and_repeats(
    tmp_path: Path, workload: Workload, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = write_tenants_file(tmp_path / "t.yaml", [workload], aud="aud-1")
    seen: list[str] = []
    attempts: dict[str, int] = {}

    def gateway(request: httpx.Request) -> httpx.Response:
        doc = json.loads(request.content)
        nid = doc.get("notificationId") or doc["eventId"]
        attempts[nid] = attempts.get(nid, 0) + 1
        if attempts[nid] == 1 and len(attempts) % 3 == 0:
            return httpx.Response(503)  # every third notification is refused once
        seen.append(nid)
        return httpx.Response(202)

    real_client = httpx.AsyncClient

    def fake_client(**kwargs: object) -> httpx.AsyncClient:
        return real_client(transport=httpx.MockTransport(gateway), **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx, "AsyncClient", fake_client)
    tenant_of = {o.key: o.tenant for o in workload.orgs}
    sender = Sender("http://gw", credentials, tenant_of.__getitem__, gap_s=0.01, retry_s=0.01)
    report = await sender.run(workload)

    assert report.offered == len(report.accepted) == len(workload)
    assert report.statuses["503"] == len(workload) // 3
    assert report.rejected == len(report.refusals) == len(workload) // 3
    for key, script in workload.scripts.items():
        mine = [n.id for n in report.accepted if n.key == key]
        assert mine == [n.id for n in script]  # accepted in script order, per org
    assert report.deliveries == len(seen) + report.rejected
    assert len(seen) == len(workload) + report.repeats_accepted
