"""Every object of every overlay is valid against its schema, and the validator rejects
broken objects (so a pass means something)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import REPO_ROOT, WORKLOADS, Rendered
from tests.deploy.validation import KUBERNETES_VERSIONS, ONLY_SERVED_VERSION, problems

CUSTOM_KINDS_PER_OVERLAY = {
    "dev": {"KafkaTopic"},
    "prod": {"KafkaTopic", "KafkaUser", "ScaledObject", "ServiceMonitor", "PrometheusRule"},
}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid(overlay: Rendered, version: str) -> None:
    found = [p for obj in overlay.objects for p in problems(obj, version)]
    assert not found, "\n".join(found)


def test_overlay_has_the_custom_resources_it_needs(overlay: Rendered) -> None:
    kinds = {o["kind"] for o in overlay.objects}
    assert CUSTOM_KINDS_PER_OVERLAY[overlay.name] <= kinds


def _first(overlay: Rendered, kind: str) -> dict[str, Any]:
    """The first object of `kind`, Switchboard's own workload when there is one."""
    ours = [overlay.named(k, n) for k, n in WORKLOADS if k == kind]
    return copy.deepcopy((ours or overlay.of_kind(kind))[0])


def _broken_deployment(d: dict[str, Any]) -> None:
    d["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"


def _deployment_without_selector(d: dict[str, Any]) -> None:
    del d["spec"]["selector"]


def _probe_port_as_list(d: dict[str, Any]) -> None:
    d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = [8080]


def _topic_partitions_as_string(t: dict[str, Any]) -> None:
    t["spec"]["partitions"] = "8"


def _topic_without_cluster_label(t: dict[str, Any]) -> None:
    del t["metadata"]["labels"]["strimzi.io/cluster"]


def _topic_misspelt_field(t: dict[str, Any]) -> None:
    t["spec"]["partition"] = t["spec"].pop("partitions")


def _user_single_operation(u: dict[str, Any]) -> None:
    acl = u["spec"]["authorization"]["acls"][0]
    acl["operation"] = acl.pop("operations")[0]


def _user_unknown_authentication(u: dict[str, Any]) -> None:
    u["spec"]["authentication"]["type"] = "scram-sha-256"


def _trigger_metadata_not_string(s: dict[str, Any]) -> None:
    s["spec"]["triggers"][0]["metadata"]["lagThreshold"] = 5000


def _scaled_object_without_target(s: dict[str, Any]) -> None:
    del s["spec"]["scaleTargetRef"]


def _service_monitor_without_endpoints(m: dict[str, Any]) -> None:
    del m["spec"]["endpoints"]


def _service_monitor_bad_interval(m: dict[str, Any]) -> None:
    m["spec"]["endpoints"][0]["interval"] = "30 seconds"


def _rule_misspelt_field(r: dict[str, Any]) -> None:
    rule = r["spec"]["groups"][0]["rules"][0]
    rule["fro"] = rule.pop("for")


def _rule_both_alert_and_record(r: dict[str, Any]) -> None:
    r["spec"]["groups"][0]["rules"][0]["record"] = "switchboard:ready"


def _rule_bad_duration(r: dict[str, Any]) -> None:
    r["spec"]["groups"][0]["rules"][0]["for"] = "1 minute"


BREAKAGES = [
    ("Deployment", _broken_deployment, "imagePullPolcy"),
    ("Deployment", _deployment_without_selector, "selector"),
    ("StatefulSet", _probe_port_as_list, "port"),
    ("KafkaTopic", _topic_partitions_as_string, "partitions"),
    ("KafkaTopic", _topic_without_cluster_label, "strimzi.io/cluster"),
    ("KafkaTopic", _topic_misspelt_field, "partition"),
    ("KafkaUser", _user_single_operation, "operation"),
    ("KafkaUser", _user_unknown_authentication, "scram-sha-256"),
    ("ScaledObject", _trigger_metadata_not_string, "lagThreshold"),
    ("ScaledObject", _scaled_object_without_target, "scaleTargetRef"),
    ("ServiceMonitor", _service_monitor_without_endpoints, "endpoints"),
    ("ServiceMonitor", _service_monitor_bad_interval, "interval"),
    ("PrometheusRule", _rule_misspelt_field, "fro"),
    ("PrometheusRule", _rule_both_alert_and_record, "rules.0"),
    ("PrometheusRule", _rule_bad_duration, "for"),
]


@pytest.mark.parametrize(
    ("kind", "breakage", "mentions"), BREAKAGES, ids=[b[1].__name__.strip("_") for b in BREAKAGES]
)
def test_validator_rejects_a_broken_object(
    prod: Rendered, kind: str, breakage: Any, mentions: str
) -> None:
    obj = _first(prod, kind)
    assert problems(obj, KUBERNETES_VERSIONS[0]) == []
    breakage(obj)
    found = problems(obj, KUBERNETES_VERSIONS[0])
    assert found, f"the validator accepted a broken {kind}"
    assert mentions in "\n".join(found)


def test_validator_reports_a_kind_without_schema() -> None:
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert "no schema" in "\n".join(problems(obj, KUBERNETES_VERSIONS[0]))


@pytest.mark.parametrize("kind", ["KafkaTopic", "KafkaUser"])
@pytest.mark.parametrize("api_version", ["kafka.strimzi.io/v1beta2", "kafka.strimzi.io/v1beta1"])
def test_validator_refuses_an_api_version_strimzi_no_longer_serves(
    prod: Rendered, kind: str, api_version: str
) -> None:
    # A v1beta2 KafkaTopic or KafkaUser has the fields of a v1 one: only the version tells
    # them apart, and the API server of a Strimzi 1.x has no such version to apply it to.
    obj = _first(prod, kind)
    obj["apiVersion"] = api_version
    found = "\n".join(problems(obj, KUBERNETES_VERSIONS[0]))
    assert f"{api_version} is not served" in found


def _api_versions_named(path: Path) -> set[str]:
    """Every group/version a file of k8s/ names: in its text (objects, patch bodies) and in
    a Kustomization's patch targets, where a stale version silently selects nothing."""
    text = path.read_text()
    found = set(re.findall(r"\b([a-z0-9.-]+\.[a-z]+/v[0-9a-z]+)\b", text))
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and doc.get("kind") == "Kustomization":
            for patch in doc.get("patches", []):
                target = patch.get("target", {})
                if "group" in target and "version" in target:
                    found.add(f"{target['group']}/{target['version']}")
    return found


def _not_served(api_version: str) -> bool:
    group, _, version = api_version.rpartition("/")
    return ONLY_SERVED_VERSION.get(group, version) != version


def test_no_file_in_k8s_names_a_version_the_operators_no_longer_serve() -> None:
    stale = [
        f"{path.relative_to(REPO_ROOT)}: {named}"
        for path in sorted((REPO_ROOT / "k8s").rglob("*.yaml"))
        for named in sorted(_api_versions_named(path))
        if _not_served(named)
    ]
    assert not stale, "\n".join(stale)
