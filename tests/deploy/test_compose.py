"""docker-compose.yml, read as YAML (there is no Docker engine here): the services the
README promises, a healthcheck on each long-running one, start order through healthy
dependencies, real CLI commands, the topics of schemas/topics.py, and one Kafka version
with the rest of the project."""

from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
import yaml

from schemas.tenants import TenantDirectory
from schemas.topics import ALL_TOPICS
from tests.deploy.commands import command_problems
from tests.deploy.compose import COMPOSE, SERVICES, SWITCHBOARD, WORKERS, listen_port
from tests.deploy.manifests import REPO_ROOT
from tests.deploy.settings import settings_problems

ONE_SHOT = {"topics"}
READY_CONDITIONS = {"service_healthy", "service_completed_successfully"}


def test_the_promised_services() -> None:
    monitoring = {"prometheus", "grafana"}  # tests/deploy/test_compose_monitoring.py
    assert (
        set(SERVICES)
        == {"kafka", "topics", "worker-1", "worker-2", "gateway", "redis"} | monitoring
    )
    assert len(WORKERS) == 2


def test_kafka_is_the_official_image_in_kraft_mode() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert str(kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == "false"


def test_kafka_version_matches_the_project_pin() -> None:
    pom = (REPO_ROOT / "scripts" / "kafka" / "pom.xml").read_text()
    pinned = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    assert pinned
    for name in ("kafka", "topics"):
        assert SERVICES[name]["image"] == f"apache/kafka:{pinned.group(1)}"


@pytest.mark.parametrize("name", sorted(set(SERVICES) - ONE_SHOT))
def test_long_running_services_have_a_healthcheck(name: str) -> None:
    check = SERVICES[name]["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"} and len(check["test"]) > 1
    assert {"interval", "timeout", "retries"} <= set(check)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_wait_for_health_or_completion(name: str) -> None:
    depends = SERVICES[name].get("depends_on", {})
    assert isinstance(depends, dict), "depends_on needs conditions, not a bare list"
    for dependency, spec in depends.items():
        assert dependency in SERVICES
        expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
        assert spec["condition"] == expected, f"{name} -> {dependency}"
    if name not in {"kafka", "redis"}:
        assert depends, f"{name} starts before Kafka is up"


@pytest.mark.parametrize("name", sorted(SWITCHBOARD))
def test_switchboard_services_wait_for_the_topics(name: str) -> None:
    # Without the topics job first, a producer could create raw-notifications with the
    # broker's default partition count.
    depends = SERVICES[name]["depends_on"]
    assert depends["topics"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", sorted(SWITCHBOARD))
def test_commands_are_real_cli_commands(name: str) -> None:
    assert command_problems(SERVICES[name]["command"]) == []


@pytest.mark.parametrize("name", sorted(SWITCHBOARD))
def test_healthcheck_asks_the_process_for_readiness(name: str) -> None:
    service = SERVICES[name]
    url = re.search(r"http://[^'\" ]+", " ".join(service["healthcheck"]["test"]))
    assert url, "the healthcheck does not call the process"
    parsed = urlparse(url.group(0))
    assert parsed.path == "/readyz"
    assert str(parsed.port) == listen_port(name)
    published = {p.split(":")[-1] for p in service.get("ports", [])}
    assert published <= {listen_port(name)}


def test_workers_form_one_group_and_advertise_themselves() -> None:
    app_ids = {SERVICES[w]["environment"]["SWITCHBOARD_APP_ID"] for w in WORKERS}
    assert len(app_ids) == 1
    for worker in WORKERS:
        # Peers forward queries to http://SWITCHBOARD_WEB_HOST:SWITCHBOARD_WEB_PORT.
        assert SERVICES[worker]["environment"]["SWITCHBOARD_WEB_HOST"] == worker


@pytest.mark.parametrize("name", sorted(SWITCHBOARD))
def test_settings_are_read_and_valid(name: str) -> None:
    service = SERVICES[name]
    environment = {k: str(v) for k, v in service["environment"].items()}
    assert settings_problems(service["command"][0], environment) == []


def test_workers_keep_tables_in_their_own_volume() -> None:
    volumes = []
    for worker in WORKERS:
        data_dir = SERVICES[worker]["environment"]["SWITCHBOARD_DATA_DIR"]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES[worker]["volumes"]}
        assert mounts[data_dir] in COMPOSE["volumes"]
        volumes.append(mounts[data_dir])
    assert len(set(volumes)) == len(WORKERS)


@pytest.mark.parametrize(
    ("ours", "topics_job"),
    [
        ("SWITCHBOARD_PARTITIONS", "SWITCHBOARD_PARTITIONS"),
        ("SWITCHBOARD_REPLICATION", "TOPIC_REPLICAS"),
    ],
)
def test_workers_and_topics_job_agree(ours: str, topics_job: str) -> None:
    # The workers refuse topics with another partition count, and create the changelogs
    # with their own count and replication.
    values = {SERVICES[n]["environment"][ours] for n in SWITCHBOARD}
    values.add(SERVICES["topics"]["environment"][topics_job])
    assert len(values) == 1, values


def _topics_job_script() -> str:
    mounts = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["topics"]["volumes"]}
    script = str(SERVICES["topics"]["entrypoint"][-1])
    return (REPO_ROOT / str(mounts[script])).read_text()


def test_topics_job_creates_every_topic_of_the_schemas() -> None:
    created = re.findall(r"^create\s+(\S+)", _topics_job_script(), flags=re.MULTILINE)
    assert sorted(created) == sorted(ALL_TOPICS)


@pytest.mark.parametrize("name", sorted(SWITCHBOARD))
def test_tenants_file_is_mounted_and_valid(name: str) -> None:
    service = SERVICES[name]
    path = service["environment"]["SWITCHBOARD_TENANTS_FILE"]
    mounts = {v.split(":")[1]: v.split(":") for v in service["volumes"]}
    source, _, mode = mounts[path]
    assert mode == "ro"
    TenantDirectory.from_yaml((REPO_ROOT / source).read_text())


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if s.get("ports")))
def test_ports_are_published_on_the_loopback_only(name: str) -> None:
    # The demo's Kafka listens PLAINTEXT without ACLs: on 0.0.0.0 anyone who reaches the
    # host could write raw-notifications for any organization, bypassing the gateway.
    for port in SERVICES[name]["ports"]:
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"


def test_the_gateway_shares_its_state_through_the_redis_service() -> None:
    gateway, redis = SERVICES["gateway"], SERVICES["redis"]
    url = urlparse(gateway["environment"]["SWITCHBOARD_SHARED_STATE_URL"])
    assert (url.scheme, url.hostname, url.port) == ("redis", "redis", 6379)
    assert gateway["depends_on"]["redis"]["condition"] == "service_healthy"
    assert redis["image"] == _k8s_store_image(), "one Redis version in compose and k8s/"
    assert "ports" not in redis, "only the gateway reaches the store"
    assert all(p.startswith("127.0.0.1:") for p in gateway["ports"])


def _k8s_store_image() -> str:
    documents = yaml.safe_load_all((REPO_ROOT / "k8s" / "base" / "sharedstate.yaml").read_text())
    (store,) = [d for d in documents if d["kind"] == "StatefulSet"]
    image: str = store["spec"]["template"]["spec"]["containers"][0]["image"]
    return image
