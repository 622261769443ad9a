"""The gateway Deployment and the worker StatefulSet: the commands exist, the probes hit
the right endpoints, shutdown outlasts a request, every container is bounded and runs
as the image's non-root user, and the workers keep their tables on a volume."""

from __future__ import annotations

import pytest

from gateway.config import GatewaySettings
from tests.deploy import dockerfile
from tests.deploy.commands import command_problems
from tests.deploy.manifests import REPO_ROOT, WORKLOADS, Rendered, container, env, pod_spec
from tests.deploy.settings import settings_problems

# After SIGTERM the gateway drains requests in flight for publish_timeout_s + 5 s
# (gateway/server.py); each request waits at most publish_timeout_s for the brokers' ack.
DRAIN_MARGIN_S = 5


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_command_is_a_real_cli_command(overlay: Rendered, kind: str, name: str) -> None:
    args = container(overlay.named(kind, name))["args"]
    assert args[0] == name.removeprefix("switchboard-")
    assert command_problems(args) == []


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_settings_are_read_and_valid(overlay: Rendered, kind: str, name: str) -> None:
    workload = overlay.named(kind, name)
    assert settings_problems(name.removeprefix("switchboard-"), env(workload, overlay)) == []


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_probes(overlay: Rendered, kind: str, name: str) -> None:
    main = container(overlay.named(kind, name))
    ports = {p["name"] for p in main["ports"]} | {p["containerPort"] for p in main["ports"]}
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        if probe in main:
            assert main[probe]["httpGet"]["port"] in ports, f"{probe} targets no port"


def test_worker_liveness_never_waits_on_recovery(overlay: Rendered) -> None:
    # Recovery can take minutes; only readiness may depend on it.
    main = container(overlay.named("StatefulSet", "switchboard-worker"))
    assert main["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_gateway_shutdown_outlasts_a_request(overlay: Rendered) -> None:
    gateway = overlay.named("Deployment", "switchboard-gateway")
    pre_stop = container(gateway)["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    settings = {k.removeprefix("SWITCHBOARD_").lower(): v for k, v in env(gateway, overlay).items()}
    publish_timeout = GatewaySettings.model_validate(settings).publish_timeout_s
    drain = int(publish_timeout) + DRAIN_MARGIN_S
    grace = pod_spec(gateway)["terminationGracePeriodSeconds"]
    assert grace > int(pre_stop[1]) + drain


def test_gateway_replicas_belong_to_the_autoscaler(overlay: Rendered) -> None:
    gateway = overlay.named("Deployment", "switchboard-gateway")
    assert "replicas" not in gateway["spec"]
    (hpa,) = overlay.of_kind("HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "switchboard-gateway")
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_resources_are_requested_and_limited(overlay: Rendered, kind: str, name: str) -> None:
    resources = container(overlay.named(kind, name))["resources"]
    for bound in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[bound]), bound


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_runs_as_the_images_non_root_user(overlay: Rendered, kind: str, name: str) -> None:
    final = dockerfile.stages((REPO_ROOT / "Dockerfile").read_text())[-1]
    uid = int((dockerfile.final_user(final) or "0").split(":")[0])
    workload = overlay.named(kind, name)
    pod, main = pod_spec(workload), container(workload)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    assert pod["automountServiceAccountToken"] is False
    assert main["securityContext"]["allowPrivilegeEscalation"] is False
    assert main["securityContext"]["readOnlyRootFilesystem"] is True
    assert main["securityContext"]["capabilities"]["drop"] == ["ALL"]


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_one_pinned_image(overlay: Rendered, kind: str, name: str) -> None:
    images = {container(overlay.named(k, n))["image"] for k, n in WORKLOADS}
    assert len(images) == 1, "gateway and workers run the same image"
    image = container(overlay.named(kind, name))["image"]
    _, _, tag = image.rpartition(":")
    assert tag and "/" not in tag and tag != "latest", f"{image} is not pinned to a tag"


def test_workers_keep_tables_on_a_volume_claim(overlay: Rendered) -> None:
    worker = overlay.named("StatefulSet", "switchboard-worker")
    claims = {c["metadata"]["name"] for c in worker["spec"]["volumeClaimTemplates"]}
    data_dir = env(worker, overlay)["SWITCHBOARD_DATA_DIR"]
    mounts = {m["mountPath"]: m["name"] for m in container(worker)["volumeMounts"]}
    assert mounts.get(data_dir) in claims, f"{data_dir} is not on a PersistentVolumeClaim"


def test_workers_advertise_their_stable_name(overlay: Rendered) -> None:
    worker = overlay.named("StatefulSet", "switchboard-worker")
    headless = overlay.named("Service", worker["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    (web,) = container(worker)["ports"]
    settings = env(worker, overlay)
    assert settings["SWITCHBOARD_WEB_PORT"] == str(web["containerPort"])
    host = f"$(POD_NAME).{headless['metadata']['name']}.$(NAMESPACE).svc"
    assert settings["SWITCHBOARD_WEB_HOST"] == host
    # $(VAR) is expanded only from variables defined earlier in `env`.
    names = [v["name"] for v in container(worker)["env"]]
    assert names.index("POD_NAME") < names.index("SWITCHBOARD_WEB_HOST")
    assert names.index("NAMESPACE") < names.index("SWITCHBOARD_WEB_HOST")


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_tenants_file_comes_from_the_secret(overlay: Rendered, kind: str, name: str) -> None:
    workload = overlay.named(kind, name)
    path = env(workload, overlay)["SWITCHBOARD_TENANTS_FILE"]
    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
    mounts = [
        m
        for m in container(workload)["volumeMounts"]
        if path.startswith(m["mountPath"].rstrip("/") + "/")
    ]
    assert len(mounts) == 1 and "subPath" not in mounts[0], "mount the directory, not subPath"
    secret = volumes[mounts[0]["name"]]["secret"]["secretName"]
    assert secret.startswith("switchboard-tenants")
    assert path.rsplit("/", 1)[1] == "tenants.yaml"


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_prometheus_annotations_name_a_container_port(
    overlay: Rendered, kind: str, name: str
) -> None:
    workload = overlay.named(kind, name)
    annotations = workload["spec"]["template"]["metadata"]["annotations"]
    ports = {str(p["containerPort"]) for p in container(workload)["ports"]}
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] in ports
    assert annotations["prometheus.io/path"] == "/metrics"
