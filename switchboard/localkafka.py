"""A real Apache Kafka (KRaft) on this machine, for development and tests. No Docker.

The broker jars are pinned in scripts/kafka/pom.xml and fetched from Maven Central by Maven
once (cached in ~/.m2 and scripts/kafka/target/lib). Each node runs broker+controller in one
JVM on 127.0.0.1 with its own ports and data dir; `brokers=3` makes a 3-voter quorum for
fault tests. State (pids, ports) lives in <home>/cluster.json so `stop` and `status` work
from another process. `secure=True` gives clients a SASL_SSL listener with ACLs instead
of PLAINTEXT (switchboard.securekafka).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from switchboard import securekafka
from switchboard.progress import Phases

REPO_ROOT = Path(__file__).resolve().parent.parent
POM = REPO_ROOT / "scripts" / "kafka" / "pom.xml"
LIB = POM.parent / "target" / "lib"
DEFAULT_HOME = REPO_ROOT / ".kafka"
JVM_HEAP = ["-Xms256m", "-Xmx512m"]

LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = warn
logger.auth.name = kafka.authorizer.logger
logger.auth.level = warn
"""


class KafkaRunnerError(RuntimeError):
    """The broker could not be fetched, formatted, started or stopped."""


@dataclass
class Node:
    node_id: int
    port: int
    controller_port: int
    data_dir: str
    log_file: str
    pid: int | None = None


@dataclass
class Cluster:
    home: str
    cluster_id: str
    nodes: list[Node] = field(default_factory=list)
    secure: bool = False

    @property
    def secrets(self) -> securekafka.Secrets:
        """The CA, broker key and users' passwords of a secure cluster."""
        return securekafka.Secrets(Path(self.home, "secure"))

    def client_options(self, user: str = securekafka.ADMIN) -> dict[str, Any]:
        """aiokafka keyword arguments to reach this cluster (as `user` if it is secure)."""
        return self.secrets.aiokafka(user) if self.secure else {}

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def node(self, node_id: int) -> Node:
        return next(n for n in self.nodes if n.node_id == node_id)

    def save(self) -> None:
        Path(self.home, "cluster.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, home: str | os.PathLike[str]) -> Cluster | None:
        path = Path(home, "cluster.json")
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        nodes = [Node(**n) for n in data["nodes"]]
        return cls(data["home"], data["cluster_id"], nodes, data.get("secure", False))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


JARS_EXPECT = "first run only: about 55 MB from Maven Central, a minute or so; then cached"


def ensure_jars(lib: Path = LIB, pom: Path = POM, phases: Phases | None = None) -> Path:
    """Fetch the pinned broker jars with Maven unless they are already in place; the
    fetch, silent otherwise (mvn -q), is announced on stderr with its duration."""
    if not any(lib.glob("kafka_2.13-*.jar")):
        if shutil.which("mvn") is None:
            raise KafkaRunnerError("Maven (mvn) is needed to fetch the Kafka jars")
        with (phases or Phases()).phase(f"fetching the Kafka jars into {lib}", JARS_EXPECT):
            result = subprocess.run(
                ["mvn", "-B", "-q", "-f", str(pom), "dependency:copy-dependencies"],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise KafkaRunnerError(f"mvn failed:\n{result.stdout}\n{result.stderr}")
    return lib


def java_bin() -> str:
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home, "bin", "java") if java_home else None
    if candidate and candidate.exists():
        return str(candidate)
    found = shutil.which("java")
    if not found:
        raise KafkaRunnerError("Java 17+ is needed to run Kafka")
    return found


def _properties(cluster: Cluster, node: Node, overrides: dict[str, str] | None = None) -> str:
    n = len(cluster.nodes)
    replicas = min(3, n)
    min_isr = 2 if n >= 3 else 1
    voters = ",".join(f"{x.node_id}@127.0.0.1:{x.controller_port}" for x in cluster.nodes)
    settings = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": node.data_dir,
        # Test-friendly: no wait before the first rebalance, internal topics sized to the cluster.
        "group.initial.rebalance.delay.ms": 0,
        "offsets.topic.replication.factor": replicas,
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "transaction.state.log.num.partitions": 10,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        "num.partitions": 1,
        # As on production clusters: a topic exists only once created with its partition
        # count (the workers do it); a client asking for a missing one gets an error
        # instead of a 1-partition topic that the workers would then refuse forever.
        "auto.create.topics.enable": "false",
        "log.segment.bytes": 64 * 1024 * 1024,
        "num.network.threads": 2,
        "num.io.threads": 4,
        "unclean.leader.election.enable": "false",
        **(
            securekafka.properties(cluster.secrets, node.port, node.controller_port)
            if cluster.secure
            else {}
        ),
        **(overrides or {}),
    }
    return "".join(f"{k}={v}\n" for k, v in settings.items())


def _java(classpath: Path, main: str, *args: str, log4j: Path) -> list[str]:
    return [
        java_bin(),
        *JVM_HEAP,
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        f"{classpath}/*",
        main,
        *args,
    ]


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def create(
    home: str | os.PathLike[str],
    ports: list[int],
    controller_ports: list[int],
    overrides: dict[str, str] | None = None,
    secure: bool = False,
) -> Cluster:
    """Lay out a fresh cluster (config + formatted KRaft storage), not started;
    `overrides` replace or add broker properties (tests: a broker that auto-creates);
    `secure`: a SASL_SSL listener, SCRAM users and ACLs (switchboard.securekafka)."""
    home_path = Path(home).resolve()
    if home_path.exists():
        shutil.rmtree(home_path)
    home_path.mkdir(parents=True)
    lib = ensure_jars()
    log4j = home_path / "log4j2.properties"
    log4j.write_text(LOG4J2)
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    cluster = Cluster(str(home_path), cluster_id, secure=secure)
    users = []  # SCRAM credentials, written into the metadata by `format`
    if secure:
        users = securekafka.format_arguments(securekafka.generate(cluster.secrets.directory))
    for i, (port, cport) in enumerate(zip(ports, controller_ports, strict=True), start=1):
        node_dir = home_path / f"node-{i}"
        node_dir.mkdir()
        cluster.nodes.append(
            Node(i, port, cport, str(node_dir / "data"), str(node_dir / "kafka.log"))
        )
    for node in cluster.nodes:
        props = Path(node.data_dir).parent / "server.properties"
        props.write_text(_properties(cluster, node, overrides))
        cmd = _java(
            lib,
            "kafka.tools.StorageTool",
            "format",
            # One argument, not two: an id may start with "-" (base64url), which argparse
            # would take for an option.
            f"--cluster-id={cluster_id}",
            "-c",
            str(props),
            *users,
            log4j=log4j,
        )
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise KafkaRunnerError(
                f"formatting node {node.node_id} failed:\n{result.stdout}\n{result.stderr}"
            )
    cluster.save()
    return cluster


def start_node(cluster: Cluster, node_id: int) -> None:
    """Start one node's JVM (used to restart a killed broker in fault tests)."""
    node = cluster.node(node_id)
    if pid_alive(node.pid):
        return
    home = Path(cluster.home)
    props = Path(node.data_dir).parent / "server.properties"
    cmd = _java(ensure_jars(), "kafka.Kafka", str(props), log4j=home / "log4j2.properties")
    with open(node.log_file, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    node.pid = proc.pid
    cluster.save()


def kill_node(cluster: Cluster, node_id: int, sig: int = signal.SIGKILL) -> None:
    node = cluster.node(node_id)
    if node.pid and pid_alive(node.pid):
        os.kill(node.pid, sig)
        _wait_gone(node.pid, 30)
    node.pid = None
    cluster.save()


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)


async def _brokers_answering(cluster: Cluster) -> int:
    from aiokafka import AIOKafkaClient

    # "connection refused" while the JVM starts is expected; keep it out of the output.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    client = AIOKafkaClient(
        bootstrap_servers=cluster.bootstrap, request_timeout_ms=3000, **cluster.client_options()
    )
    try:
        await client.bootstrap()
        await client.force_metadata_update()
        return len(client.cluster.brokers())
    finally:
        await client.close()


def wait_ready(cluster: Cluster, timeout: float = 120.0, brokers: int | None = None) -> None:
    """Block until the cluster answers a metadata request listing `brokers` brokers."""
    want = brokers if brokers is not None else len(cluster.nodes)
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        for node in cluster.nodes:
            if node.pid and not pid_alive(node.pid):
                raise KafkaRunnerError(f"node {node.node_id} exited:\n{tail(node.log_file)}")
        try:
            if asyncio.run(_brokers_answering(cluster)) >= want:
                return
        except Exception as exc:  # any failure means "not ready yet"
            last_error = exc
        time.sleep(0.5)
    logs = "\n".join(f"--- node {n.node_id} ---\n{tail(n.log_file)}" for n in cluster.nodes)
    raise KafkaRunnerError(f"Kafka not ready after {timeout:.0f}s ({last_error}):\n{logs}")


def tail(path: str, lines: int = 60) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(
    home: str | os.PathLike[str] = DEFAULT_HOME,
    brokers: int = 1,
    port: int = 9092,
    controller_port: int | None = None,
    timeout: float = 120.0,
    secure: bool = False,
) -> Cluster:
    """Create, start and wait for a cluster; a running one at `home` is stopped first.
    A secure one gets the ACLs of the default deployment (securekafka.acls())."""
    stop(home)
    ports = [port + i for i in range(brokers)]
    cbase = controller_port if controller_port is not None else port + 100
    cluster = create(home, ports, [cbase + i for i in range(brokers)], secure=secure)
    try:
        for node in cluster.nodes:
            start_node(cluster, node.node_id)
        wait_ready(cluster, timeout)
        if secure:
            securekafka.grant(cluster.bootstrap, cluster.secrets, securekafka.acls())
    except BaseException:
        stop(home)
        raise
    return cluster


def stop(home: str | os.PathLike[str] = DEFAULT_HOME, timeout: float = 30.0) -> bool:
    """SIGTERM every node (clean shutdown), SIGKILL any still alive after `timeout`."""
    cluster = Cluster.load(home)
    if cluster is None:
        return False
    alive = [n for n in cluster.nodes if pid_alive(n.pid)]
    for node in alive:
        os.kill(node.pid, signal.SIGTERM)  # type: ignore[arg-type]
    for node in alive:
        if not _wait_gone(node.pid, timeout):  # type: ignore[arg-type]
            os.kill(node.pid, signal.SIGKILL)  # type: ignore[arg-type]
            _wait_gone(node.pid, 10)  # type: ignore[arg-type]
    for node in cluster.nodes:
        node.pid = None
    cluster.save()
    return bool(alive)


def status(home: str | os.PathLike[str] = DEFAULT_HOME) -> list[tuple[Node, bool]]:
    cluster = Cluster.load(home)
    return [] if cluster is None else [(n, pid_alive(n.pid)) for n in cluster.nodes]
