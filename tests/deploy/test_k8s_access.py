"""Who reaches what: Services, disruption budgets and the ServiceMonitor select the pods
they are meant for, every ConfigMap and Secret a pod names exists, the Ingress exposes only
the notification endpoints, and the NetworkPolicies keep the worker port inside the
namespace and the gateway behind the ingress controller."""

from __future__ import annotations

import base64
from typing import Any

from schemas.tenants import TenantDirectory
from tests.deploy.manifests import (
    REPO_ROOT,
    SHARED_STATE,
    WORKLOADS,
    Rendered,
    container,
    pod_spec,
)

# Secrets the operator creates (or syncs from a secret store) outside these files.
# In prod also the Kafka cluster CA, copied from the Kafka cluster's namespace.
EXTERNAL_SECRETS = {
    "prod": {
        "switchboard-tenants",
        "switchboard-gateway-tls",
        "my-cluster-cluster-ca-cert",
        "switchboard-shared-state",
    },
    "dev": set(),
}
NOTIFICATION_PATHS = {"/v1/notifications", "/v1/app-notifications", "/v1/asset-baselines"}


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= labels.items()


def pods(overlay: Rendered) -> list[dict[str, Any]]:
    return [overlay.named(kind, name) for kind, name in [*WORKLOADS, SHARED_STATE]]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def test_each_service_selects_a_workload_and_its_port(overlay: Rendered) -> None:
    for service in overlay.of_kind("Service"):
        targets = [w for w in pods(overlay) if selects(service["spec"]["selector"], pod_labels(w))]
        assert len(targets) == 1, f"Service {service['metadata']['name']} selects {targets}"
        names = {p["name"] for p in container(targets[0])["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in names, f"{service['metadata']['name']}: {port}"


def test_each_disruption_budget_covers_one_workload(overlay: Rendered) -> None:
    budgets = overlay.of_kind("PodDisruptionBudget")
    for workload in pods(overlay):
        covering = [
            b
            for b in budgets
            if selects(b["spec"]["selector"]["matchLabels"], pod_labels(workload))
        ]
        assert len(covering) == 1, workload["metadata"]["name"]
        assert covering[0]["spec"]["maxUnavailable"] == 1


def test_every_referenced_config_and_secret_exists(overlay: Rendered) -> None:
    present = {(o["kind"], o["metadata"]["name"]) for o in overlay.objects}
    # Strimzi's User Operator makes a Secret named like each KafkaUser, in its namespace.
    present |= {
        ("Secret", u["metadata"]["name"])
        for u in overlay.of_kind("KafkaUser")
        if u["metadata"].get("namespace") == overlay.named(*WORKLOADS[0])["metadata"]["namespace"]
    }
    wanted = set()
    for workload in pods(overlay):
        wanted |= {
            ("ConfigMap", s["configMapRef"]["name"]) for s in container(workload).get("envFrom", [])
        }
        wanted |= {
            ("Secret", v["secret"]["secretName"])
            for v in pod_spec(workload).get("volumes", [])
            if "secret" in v
        }
        wanted |= {
            ("Secret", e["valueFrom"]["secretKeyRef"]["name"])
            for e in container(workload).get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        }
    for ingress in overlay.of_kind("Ingress"):
        wanted |= {("Secret", t["secretName"]) for t in ingress["spec"].get("tls", [])}
    missing = {ref for ref in wanted - present if ref[1] not in EXTERNAL_SECRETS[overlay.name]}
    assert not missing


def test_dev_tenants_secret_is_the_demo_file(dev: Rendered) -> None:
    text = base64.b64decode(dev.named("Secret", "switchboard-tenants")["data"]["tenants.yaml"])
    demo = REPO_ROOT / "deploy" / "compose" / "tenants.demo.yaml"
    assert text.decode() == demo.read_text(), "k8s/overlays/dev has a stale copy of the demo"
    assert TenantDirectory.from_yaml(text.decode()).config.tenants


def test_ingress_exposes_only_the_notification_endpoints(overlay: Rendered) -> None:
    (ingress,) = overlay.of_kind("Ingress")
    gateway = overlay.named("Service", "switchboard-gateway")
    port_names = {p["name"] for p in gateway["spec"]["ports"]}
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert {p["path"] for p in paths} == NOTIFICATION_PATHS
    for path in paths:
        assert path["pathType"] == "Exact"
        assert path["backend"]["service"]["name"] == "switchboard-gateway"
        assert path["backend"]["service"]["port"]["name"] in port_names


def _policies_for(overlay: Rendered, workload: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p
        for p in overlay.of_kind("NetworkPolicy")
        if selects(p["spec"]["podSelector"].get("matchLabels", {}), pod_labels(workload))
    ]


def test_namespace_denies_ingress_by_default(overlay: Rendered) -> None:
    deny = [p for p in overlay.of_kind("NetworkPolicy") if p["spec"]["podSelector"] == {}]
    assert deny and deny[0]["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in deny[0]["spec"]


def _peers_and_ports(policy: dict[str, Any]) -> tuple[list[dict[str, Any]], set[int]]:
    rules = policy["spec"]["ingress"]
    return [peer for r in rules for peer in r["from"]], {
        p["port"] for r in rules for p in r["ports"]
    }


def _is_prometheus(peer: dict[str, Any]) -> bool:
    return (
        "namespaceSelector" in peer
        and peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
        == "prometheus"
    )


def test_worker_port_is_reachable_only_inside_the_namespace(overlay: Rendered) -> None:
    worker = overlay.named("StatefulSet", "switchboard-worker")
    (policy,) = _policies_for(overlay, worker)
    peers, ports = _peers_and_ports(policy)
    assert ports == {p["containerPort"] for p in container(worker)["ports"]}
    for peer in peers:
        assert "ipBlock" not in peer, peer
        # A peer without namespaceSelector is a pod of this namespace.
        assert "namespaceSelector" not in peer or _is_prometheus(peer), peer


def test_gateway_is_reachable_only_through_the_ingress(overlay: Rendered) -> None:
    gateway = overlay.named("Deployment", "switchboard-gateway")
    (policy,) = _policies_for(overlay, gateway)
    peers, ports = _peers_and_ports(policy)
    assert ports == {p["containerPort"] for p in container(gateway)["ports"]}
    controllers = [p for p in peers if not _is_prometheus(p)]
    assert len(controllers) == 1, "one ingress controller, plus Prometheus"
    controller = controllers[0]
    assert (
        controller["namespaceSelector"]["matchLabels"] and controller["podSelector"]["matchLabels"]
    ), "the controller's namespace and pods, not every pod of the cluster"


def test_service_monitor_scrapes_gateway_and_every_worker(prod: Rendered) -> None:
    (monitor,) = prod.of_kind("ServiceMonitor")
    selector = monitor["spec"]["selector"]["matchLabels"]
    scraped = [s for s in prod.of_kind("Service") if selects(selector, s["metadata"]["labels"])]
    worker = prod.named("StatefulSet", "switchboard-worker")
    assert {s["metadata"]["name"] for s in scraped} == {
        "switchboard-gateway",
        worker["spec"]["serviceName"],
    }
    endpoint_ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    for service in scraped:
        assert endpoint_ports & {p["name"] for p in service["spec"]["ports"]}, service
    assert {e["path"] for e in monitor["spec"]["endpoints"]} == {"/metrics"}


def test_overlay_has_its_namespace(overlay: Rendered) -> None:
    (namespace,) = overlay.of_kind("Namespace")
    app = [o for o in overlay.objects if o["kind"] not in {"Namespace", "KafkaTopic"}]
    assert {o["metadata"]["namespace"] for o in app} == {namespace["metadata"]["name"]}
