"""The secure variant of the local broker (`switchboard kafka start --secure`).

Clients reach the broker on a SASL_SSL listener: TLS with a certificate for 127.0.0.1
signed by a CA made for this cluster alone, SCRAM-SHA-512 logins. The CA, the broker's
key and the users' passwords are generated when the cluster is created, into
<home>/secure/ (never committed: .kafka/ is ignored, tests use temporary homes). The
SCRAM credentials are written into the KRaft metadata at format time
(`kafka-storage format --add-scram`), so they exist before the broker first starts.

ACLs are enforced (StandardAuthorizer, no ACL means refused). `admin` is the super user
the broker itself logs in as on the same listener (inter-broker); the controller
listener stays PLAINTEXT on 127.0.0.1, so its anonymous principal is a super user too:
only processes on this machine reach it. `gateway`, `workers` and `consumer` get only
what `acls` grants them (least privilege, see `acls`).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas import topics as names

ADMIN = "admin"
USERS = (ADMIN, "gateway", "workers", "consumer")
MECHANISM = "SCRAM-SHA-512"
LISTENER = "SASL_SSL"


@dataclass(frozen=True)
class Secrets:
    """Where one secure cluster keeps its CA, its broker key and its users' passwords."""

    directory: Path

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def broker_pem(self) -> Path:  # key and certificate chain, Kafka's PEM keystore
        return self.directory / "broker.pem"

    @property
    def users_file(self) -> Path:
        return self.directory / "users.json"

    def password(self, user: str) -> str:
        return str(json.loads(self.users_file.read_text())[user])

    def env(self, user: str) -> dict[str, str]:
        """The SWITCHBOARD_KAFKA_* settings (schemas.kafkasecurity) to log in as `user`."""
        return {
            "SWITCHBOARD_KAFKA_SECURITY_PROTOCOL": LISTENER,
            "SWITCHBOARD_KAFKA_SASL_MECHANISM": MECHANISM,
            "SWITCHBOARD_KAFKA_SASL_USERNAME": user,
            "SWITCHBOARD_KAFKA_SASL_PASSWORD": self.password(user),
            "SWITCHBOARD_KAFKA_SSL_CA_FILE": str(self.ca_file),
        }

    def librdkafka(self, user: str) -> dict[str, str]:
        return {
            "security.protocol": LISTENER,
            "sasl.mechanism": MECHANISM,
            "sasl.username": user,
            "sasl.password": self.password(user),
            "ssl.ca.location": str(self.ca_file),
        }

    def aiokafka(self, user: str) -> dict[str, Any]:
        import ssl

        return {
            "security_protocol": LISTENER,
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": user,
            "sasl_plain_password": self.password(user),
            "ssl_context": ssl.create_default_context(cafile=str(self.ca_file)),
        }


def generate(directory: Path) -> Secrets:
    """A CA, a broker certificate for 127.0.0.1 signed by it, and a password per user."""
    directory.mkdir(parents=True, exist_ok=True)
    found = Secrets(directory)
    ca_key, ca_cert = _ca()
    key, cert = _broker_certificate(ca_key, ca_cert)
    found.ca_file.write_bytes(_pem(ca_cert))
    found.broker_pem.write_bytes(_key_pem(key) + _pem(cert) + _pem(ca_cert))
    found.broker_pem.chmod(0o600)
    passwords = {user: secrets.token_urlsafe(24) for user in USERS}
    found.users_file.write_text(json.dumps(passwords, indent=2))
    found.users_file.chmod(0o600)
    return found


def format_arguments(found: Secrets) -> list[str]:
    """`kafka-storage format` arguments creating every user's SCRAM credential."""
    args: list[str] = []
    for user in USERS:
        args += ["--add-scram", f"{MECHANISM}=[name={user},password={found.password(user)}]"]
    return args


def properties(found: Secrets, port: int, controller_port: int) -> dict[str, str]:
    """The broker properties replacing the PLAINTEXT client listener."""
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{ADMIN}" password="{found.password(ADMIN)}";'
    )
    return {
        "listeners": f"{LISTENER}://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"{LISTENER}://127.0.0.1:{port}",
        "inter.broker.listener.name": LISTENER,
        "listener.security.protocol.map": f"{LISTENER}:{LISTENER},CONTROLLER:PLAINTEXT",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        f"listener.name.{LISTENER.lower()}.{MECHANISM.lower()}.sasl.jaas.config": jaas,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(found.broker_pem),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(found.ca_file),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN};User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "false",
    }


def acls(
    prefix: str = "",
    app_id: str = "switchboard",
    consumer_topic: str = names.ASSET_COUNT,
    consumer_group: str = "subscriber",
) -> list[Any]:
    """Least privilege for one deployment (its topic prefix and Faust app id):

    - gateway: write (and describe) raw-notifications, nothing else. Since Kafka 3.0 WRITE
      on a topic implies IDEMPOTENT_WRITE (KIP-679): the idempotent producer needs no
      cluster ACL.
    - workers: read and create raw-notifications; create, write and read (the watermarks
      read each output's last record) the per-type, conflict and dead-letter topics;
      everything under the app id's topic prefix (table changelogs, Faust's leader topic)
      and groups (its consumer group); describe the cluster (the data directory check).
    - consumer: read one per-type topic, with its own group.
    """
    # The public names of confluent_kafka.admin (its stubs do not re-export them).
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        AclBinding,
        AclPermissionType,
    )
    from confluent_kafka.admin import AclOperation as Op  # type: ignore[attr-defined]
    from confluent_kafka.admin import ResourcePatternType as Pattern  # type: ignore[attr-defined]
    from confluent_kafka.admin import ResourceType as Kind  # type: ignore[attr-defined]

    def allow(user: str, kind: Kind, name: str, pattern: Pattern, *ops: Op) -> list[Any]:
        return [
            AclBinding(kind, name, pattern, f"User:{user}", "*", op, AclPermissionType.ALLOW)
            for op in ops
        ]

    raw = f"{prefix}{names.RAW_NOTIFICATIONS}"
    outputs = [f"{prefix}{t}" for t in (*names.PER_TYPE_TOPICS, names.DEAD_LETTER, names.CONFLICTS)]
    bindings = allow("gateway", Kind.TOPIC, raw, Pattern.LITERAL, Op.WRITE, Op.DESCRIBE)
    bindings += allow("workers", Kind.TOPIC, raw, Pattern.LITERAL, Op.READ, Op.DESCRIBE, Op.CREATE)
    for topic in outputs:
        bindings += allow(
            "workers", Kind.TOPIC, topic, Pattern.LITERAL, Op.WRITE, Op.READ, Op.DESCRIBE, Op.CREATE
        )
    bindings += allow("workers", Kind.TOPIC, f"{app_id}-", Pattern.PREFIXED, Op.ALL)
    bindings += allow("workers", Kind.GROUP, app_id, Pattern.PREFIXED, Op.READ, Op.DESCRIBE)
    bindings += allow("workers", Kind.BROKER, "kafka-cluster", Pattern.LITERAL, Op.DESCRIBE)
    bindings += allow(
        "consumer", Kind.TOPIC, f"{prefix}{consumer_topic}", Pattern.LITERAL, Op.READ, Op.DESCRIBE
    )
    bindings += allow("consumer", Kind.GROUP, consumer_group, Pattern.LITERAL, Op.READ)
    return bindings


def grant(bootstrap: str, found: Secrets, bindings: list[Any], timeout_s: float = 30.0) -> None:
    """Create `bindings` as the admin user (idempotent: an existing ACL is kept)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, **found.librdkafka(ADMIN)})
    for future in admin.create_acls(bindings, request_timeout=timeout_s).values():
        future.result(timeout=timeout_s)


def _ca() -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "switchboard local Kafka CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _broker_certificate(ca_key: Any, ca_cert: Any) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        # RFC 5280 profile, which strict verifiers (cryptography's, Go's) insist on.
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return bytes(cert.public_bytes(Encoding.PEM))


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization as s

    return bytes(key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()))
