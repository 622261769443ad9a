"""The KafkaUsers of k8s/base grant exactly the ACLs the local secure broker grants
(switchboard.securekafka.acls, whose refusals tests/integration/test_kafka_security.py
proves against a real broker), and in prod each pod logs in as its own user over SASL_SSL."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard import securekafka
from tests.deploy.manifests import WORKLOADS, Rendered, container, env, pod_spec

# Local user -> KafkaUser; the subscriber's group is named after its user here.
USERS = {
    "gateway": "switchboard-gateway",
    "workers": "switchboard-workers",
    "consumer": "switchboard-subscriber",
}
POD_USERS = {
    "switchboard-gateway": "switchboard-gateway",
    "switchboard-worker": "switchboard-workers",
}
KIND = {"TOPIC": "topic", "GROUP": "group", "BROKER": "cluster"}
PATTERN = {"LITERAL": "literal", "PREFIXED": "prefix"}

Grant = tuple[str, str, str, str, str]  # user, resource type, name, pattern, operation


def local_grants() -> set[Grant]:
    found = set()
    for b in securekafka.acls(consumer_group="switchboard-subscriber"):
        user = USERS[b.principal.removeprefix("User:")]
        kind = KIND[b.restype.name]
        name = "" if kind == "cluster" else b.name
        pattern = "literal" if kind == "cluster" else PATTERN[b.resource_pattern_type.name]
        found.add((user, kind, name, pattern, b.operation.name.replace("_", "").lower()))
    return found


def k8s_grants(overlay: Rendered) -> set[Grant]:
    found = set()
    for user in overlay.of_kind("KafkaUser"):
        for acl in user["spec"]["authorization"]["acls"]:
            resource: dict[str, Any] = acl["resource"]
            kind = resource["type"]
            name = resource.get("name", "")
            pattern = resource.get("patternType", "literal")
            for op in acl["operations"]:
                found.add((user["metadata"]["name"], kind, name, pattern, op.lower()))
    return found


def test_the_kafka_users_grant_what_the_tested_local_broker_grants(prod: Rendered) -> None:
    assert k8s_grants(prod) == local_grants()
    for user in prod.of_kind("KafkaUser"):
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        assert all(a.get("type", "allow") == "allow" for a in user["spec"]["authorization"]["acls"])


def test_the_kafka_users_name_the_app_id_and_the_cluster(prod: Rendered) -> None:
    app_id = prod.config()["SWITCHBOARD_APP_ID"]
    assert ("switchboard-workers", "group", app_id, "prefix", "read") in k8s_grants(prod)
    clusters = {u["metadata"]["labels"]["strimzi.io/cluster"] for u in prod.of_kind("KafkaUser")}
    topics = {t["metadata"]["labels"]["strimzi.io/cluster"] for t in prod.of_kind("KafkaTopic")}
    assert clusters == topics
    assert prod.config()["SWITCHBOARD_KAFKA_BOOTSTRAP"].startswith(f"{clusters.pop()}-kafka-")


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_each_prod_pod_logs_in_as_its_user_over_sasl_ssl(
    prod: Rendered, kind: str, name: str
) -> None:
    workload = prod.named(kind, name)
    settings = env(workload, prod)
    user = POD_USERS[name]
    assert settings["SWITCHBOARD_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert settings["SWITCHBOARD_KAFKA_BOOTSTRAP"].endswith(":9093")  # Strimzi's tls listener
    assert settings["SWITCHBOARD_KAFKA_SASL_USERNAME"] == user
    assert "SWITCHBOARD_KAFKA_SASL_PASSWORD" not in settings  # from the Secret's file only
    mounts = {m["mountPath"]: m["name"] for m in container(workload)["volumeMounts"]}
    secrets = {
        v["name"]: v["secret"]["secretName"] for v in pod_spec(workload)["volumes"] if "secret" in v
    }
    for setting, key in (
        ("SWITCHBOARD_KAFKA_SASL_PASSWORD_FILE", "password"),
        ("SWITCHBOARD_KAFKA_SSL_CA_FILE", "ca.crt"),
    ):
        directory, _, file = settings[setting].rpartition("/")
        assert file == key, f"{setting} is not the {key} key of a mounted Secret"
        assert directory in mounts
    password_dir = settings["SWITCHBOARD_KAFKA_SASL_PASSWORD_FILE"].rpartition("/")[0]
    assert secrets[mounts[password_dir]] == user  # the Secret Strimzi made for the KafkaUser


def test_dev_stays_plaintext_without_users(dev: Rendered) -> None:
    assert dev.of_kind("KafkaUser") == []
    assert "SWITCHBOARD_KAFKA_SECURITY_PROTOCOL" not in dev.config()


def test_keda_reads_the_lag_as_the_workers_user_over_sasl_ssl(prod: Rendered) -> None:
    (scaled,) = prod.of_kind("ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["metadata"]["bootstrapServers"] == prod.config()["SWITCHBOARD_KAFKA_BOOTSTRAP"]
    assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == ("scram_sha512", "enable")
    auth = prod.named("TriggerAuthentication", trigger["authenticationRef"]["name"])
    worker = prod.named("StatefulSet", "switchboard-worker")
    (username,) = [e for e in auth["spec"]["env"] if e["parameter"] == "username"]
    assert env(worker, prod)[username["name"]] == "switchboard-workers"
    assert username["containerName"] == container(worker)["name"]
    refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    volumes = {v["secret"]["secretName"] for v in pod_spec(worker)["volumes"] if "secret" in v}
    assert refs["password"] == ("switchboard-workers", "password")
    assert refs["ca"][1] == "ca.crt" and refs["ca"][0] in volumes  # the CA the worker trusts
