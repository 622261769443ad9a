"""The simulator's workload is valid input and its oracle applies the documented rules."""

import json
from pathlib import Path

import pytest

from schemas.app import parse_app
from schemas.apple import parse_apple
from switchboard.workload import APP_PATH, APPLE_PATH, Notification, Oracle, Workload

EXAMPLES = Path(__file__).parents[2] / "fixtures" / "examples"


def example(name: str) -> Notification:
    body = (EXAMPLES / name).read_bytes()
    doc = json.loads(body)
    if "eventId" in doc:
        return Notification(
            doc["eventId"],
            doc["eventType"],
            APP_PATH,
            doc["data"]["notificationData"]["tenantId"],
            body,
        )
    return Notification(
        doc["notificationId"], doc["notificationType"], APPLE_PATH, doc["uId"], body
    )


def test_every_generated_notification_is_valid_and_of_every_kind() -> None:
    workload = Workload.generate(tenants=4, orgs_per_tenant=25, notifications=2000)
    kinds = set()
    for script in workload.scripts.values():
        for n in script:
            parsed = parse_app(n.body) if n.path == APP_PATH else parse_apple(n.body)
            assert (parsed.eventId if n.path == APP_PATH else parsed.notificationId) == n.id  # type: ignore[union-attr]
            kinds.add(n.type)
    assert len(workload) == 2000
    assert kinds == {
        "ASSET_COUNT",
        "ASSET_MANAGEMENT",
        "USER_MANAGEMENT",
        "USER_ASSOCIATED",
        "TEST_NOTIFICATION",
        "SUBSCRIPTION_COUNT",
        "TENANT_REST_URL_CHANGE",
    }
    assert sum(len(workload.uids(t)) + len(workload.tenant_ids(t)) for t in workload.tenants) == 100


def test_generation_is_deterministic_per_seed() -> None:
    def bodies(seed: int) -> list[bytes]:
        w = Workload.generate(2, 3, 50, seed=seed)
        return [n.body for s in w.scripts.values() for n in s]

    assert len(bodies(1)) == 50
    assert bodies(1) == bodies(1)
    assert bodies(1) != bodies(2)


def test_oracle_applies_the_reference_examples() -> None:
    oracle = Oracle()
    for name in [
        "apple_asset_count.json",
        "apple_asset_count.json",
        "apple_asset_management_associate.json",
        "apple_asset_management_revoke.json",
        "apple_user_management_create.json",
        "apple_user_associated.json",
        "apple_user_management_retire.json",
        "apple_test_notification.json",
        "app_tenant_rest_url_change.json",
    ]:
        oracle.apply(example(name))
    uid = "2049025000431439"
    assert oracle.asset_counts[(uid, "408709785", "STDQ")] == -24
    assigned = oracle.assignments[(uid, "408709785", "STDQ")]
    assert len(assigned["serialNumbers"]) == 3
    assert assigned["clientUserIds"] == set()
    user = oracle.users[(uid, "client-100")]
    assert user["status"] == "Retired"
    assert user["idHash"] == "leSKk3IaE2vk2KLmv2k3/200D3="  # kept from USER_ASSOCIATED
    assert oracle.last_tests[uid] == "792e327f-63ea-4658-9aec-f16f4327e3a8"
    assert oracle.tenant_urls["312022"]["tenantRestUrl"] == "http://www.tru1.com/test"


@pytest.mark.parametrize("result", ["FAILURE"])
def test_oracle_keeps_failures_as_last_error_without_changing_holders(result: str) -> None:
    oracle = Oracle()
    oracle.apply(example("apple_asset_management_associate.json"))
    doc = json.loads((EXAMPLES / "apple_asset_management_revoke.json").read_bytes())
    doc["notification"].update(result=result, error={"errorMessage": "x", "errorNumber": 1})
    doc["notificationId"] = "failed-1"
    doc["notification"]["assignments"][0]["serialNumber"] = "97c42a74-c30e-4172-a65f-6e5a5ba3d477"
    oracle.apply(
        Notification(
            "failed-1", "ASSET_MANAGEMENT", APPLE_PATH, doc["uId"], json.dumps(doc).encode()
        )
    )
    state = oracle.assignments[("2049025000431439", "408709785", "STDQ")]
    assert len(state["serialNumbers"]) == 3
    assert state["lastError"] == "failed-1"
