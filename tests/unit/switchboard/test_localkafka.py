"""The local broker's settings, without starting it."""

from ipaddress import ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import IPAddress
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from switchboard import localkafka, securekafka


def cluster() -> localkafka.Cluster:
    node = localkafka.Node(1, 9092, 9192, "/tmp/data", "/tmp/kafka.log")
    return localkafka.Cluster("/tmp", "id", [node])


def properties(overrides: dict[str, str] | None = None) -> dict[str, str]:
    c = cluster()
    text = localkafka._properties(c, c.nodes[0], overrides)
    return dict(line.split("=", 1) for line in text.splitlines())


def test_the_local_broker_creates_no_topic_by_itself() -> None:
    """As production clusters: a client asking for a missing topic must not get one with
    the default partition count (the workers then refused it forever)."""
    assert properties()["auto.create.topics.enable"] == "false"


def test_overrides_replace_a_setting() -> None:
    assert properties({"auto.create.topics.enable": "true"})["auto.create.topics.enable"] == "true"


def test_a_secure_broker_has_no_plaintext_client_listener_and_enforces_acls(
    tmp_path: Path,
) -> None:
    node = localkafka.Node(1, 9092, 9192, str(tmp_path / "data"), str(tmp_path / "kafka.log"))
    secure = localkafka.Cluster(str(tmp_path), "id", [node], secure=True)
    securekafka.generate(secure.secrets.directory)
    text = localkafka._properties(secure, node)
    found = dict(line.split("=", 1) for line in text.splitlines())
    assert found["listeners"] == "SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9192"
    assert found["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT"
    assert found["authorizer.class.name"].endswith("StandardAuthorizer")
    assert found["allow.everyone.if.no.acl.found"] == "false"
    assert "PLAINTEXT://" not in found["advertised.listeners"]
    for user in securekafka.USERS:  # every user's SCRAM credential is written at format time
        assert any(f"name={user}," in arg for arg in securekafka.format_arguments(secure.secrets))


def test_the_generated_ca_verifies_the_broker_for_127_0_0_1(tmp_path: Path) -> None:
    found = securekafka.generate(tmp_path)
    ca = x509.load_pem_x509_certificates(found.ca_file.read_bytes())
    chain = x509.load_pem_x509_certificates(found.broker_pem.read_bytes())
    verifier = (
        PolicyBuilder().store(Store(ca)).build_server_verifier(IPAddress(ip_address("127.0.0.1")))
    )
    verifier.verify(chain[0], chain[1:])
    other = x509.load_pem_x509_certificates(
        securekafka.generate(tmp_path / "o").ca_file.read_bytes()
    )
    with pytest.raises(VerificationError):
        PolicyBuilder().store(Store(other)).build_server_verifier(
            IPAddress(ip_address("127.0.0.1"))
        ).verify(chain[0], chain[1:])
    assert oct(found.users_file.stat().st_mode & 0o777) == "0o600"


def test_the_gateway_may_write_raw_notifications_only() -> None:
    grants = {
        (b.name, b.operation.name)
        for b in securekafka.acls(prefix="p.")
        if b.principal == "User:gateway"
    }
    assert grants == {("p.raw-notifications", "WRITE"), ("p.raw-notifications", "DESCRIBE")}


def fake_mvn(bin_dir: Path, lib: Path) -> None:
    """An `mvn` that "fetches" one jar into `lib`, as dependency:copy-dependencies does."""
    bin_dir.mkdir()
    script = bin_dir / "mvn"
    script.write_text(f"#!/bin/sh\nmkdir -p {lib} && touch {lib}/kafka_2.13-4.4.0.jar\n")
    script.chmod(0o755)


def test_the_first_maven_fetch_says_what_it_does_and_how_long_it_took(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from switchboard.progress import Phases

    lib = tmp_path / "lib"
    fake_mvn(tmp_path / "bin", lib)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    out = io.StringIO()
    assert localkafka.ensure_jars(lib, tmp_path / "pom.xml", Phases(out)) == lib
    first, done = out.getvalue().splitlines()
    assert first == f"fetching the Kafka jars into {lib} ... ({localkafka.JARS_EXPECT})"
    assert done.startswith(f"fetching the Kafka jars into {lib}: done in ")
    # Once the jars are there: no fetch, nothing said.
    again = io.StringIO()
    localkafka.ensure_jars(lib, tmp_path / "pom.xml", Phases(again))
    assert again.getvalue() == ""
