"""The gateway's shared state on Kubernetes: a Redis only the gateway pods reach, the
gateway of every overlay pointed at it with the same password, keys that survive a
restart and are evicted the way the gateway's own memory evicts."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.deploy.manifests import SHARED_STATE, Rendered, container, pod_spec


def args_of(store: dict[str, Any]) -> dict[str, str]:
    args = container(store)["args"]
    return {args[i].removeprefix("--"): args[i + 1] for i in range(0, len(args), 2)}


def env_of(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(workload).get("env", [])}


def test_only_gateway_pods_reach_the_store(overlay: Rendered) -> None:
    store = overlay.named(*SHARED_STATE)
    labels = store["spec"]["template"]["metadata"]["labels"]
    (policy,) = [
        p
        for p in overlay.of_kind("NetworkPolicy")
        if p["spec"]["podSelector"].get("matchLabels", {}).items() <= labels.items()
        and p["spec"]["podSelector"].get("matchLabels")
    ]
    gateway = overlay.named("Deployment", "switchboard-gateway")
    gateway_labels = gateway["spec"]["template"]["metadata"]["labels"]
    (rule,) = policy["spec"]["ingress"]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}, "pods of this namespace only: no namespace, no ipBlock"
    assert peer["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "switchboard",
        "app.kubernetes.io/component": gateway_labels["app.kubernetes.io/component"],
    }
    worker = overlay.named("StatefulSet", "switchboard-worker")
    worker_labels = worker["spec"]["template"]["metadata"]["labels"]
    assert not peer["podSelector"]["matchLabels"].items() <= worker_labels.items()
    assert [p["port"] for p in rule["ports"]] == [container(store)["ports"][0]["containerPort"]]


def test_the_gateway_is_pointed_at_the_store_with_its_password(overlay: Rendered) -> None:
    gateway = overlay.named("Deployment", "switchboard-gateway")
    env = env_of(gateway)
    url = urlsplit(env["SWITCHBOARD_SHARED_STATE_URL"]["value"])
    service = overlay.named("Service", "switchboard-redis")
    assert url.scheme == "redis" and url.password is None  # the password is a file
    assert url.hostname == service["metadata"]["name"]
    assert url.port == service["spec"]["ports"][0]["port"]
    # The gateway's password file is the key the store's requirepass reads.
    password_file = env["SWITCHBOARD_SHARED_STATE_PASSWORD_FILE"]["value"]
    directory, _, key = password_file.rpartition("/")
    (mount,) = [m for m in container(gateway)["volumeMounts"] if m["mountPath"] == directory]
    (volume,) = [v for v in pod_spec(gateway)["volumes"] if v["name"] == mount["name"]]
    store = overlay.named(*SHARED_STATE)
    assert args_of(store)["requirepass"] == "$(REDIS_PASSWORD)"
    ref = env_of(store)["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert (volume["secret"]["secretName"], key) == (ref["name"], ref["key"])


def test_the_store_keeps_used_tokens_across_a_restart_and_evicts_the_soonest_first(
    overlay: Rendered,
) -> None:
    store = overlay.named(*SHARED_STATE)
    args = args_of(store)
    assert args["appendonly"] == "yes" and args["appendfsync"] == "everysec"
    assert args["maxmemory-policy"] == "volatile-ttl"
    (claim,) = store["spec"]["volumeClaimTemplates"]
    assert {m["name"]: m["mountPath"] for m in container(store)["volumeMounts"]} == {
        claim["metadata"]["name"]: args["dir"]
    }
    assert store["spec"]["replicas"] == 1  # one primary: the admission script is atomic
    image = container(store)["image"]
    assert ":" in image and not image.endswith(":latest")
