"""The shared Kafka security settings (schemas.kafkasecurity): one block, read the same way by
both processes, mapped to librdkafka's options (gateway) and aiokafka's and Faust's (workers).
Here, not in tests/unit/schemas: importing streams.app needs the streams conftest first."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest
from pydantic import ValidationError

from gateway.config import GatewaySettings
from schemas.kafkasecurity import KafkaSecurity
from streams.app import broker_credentials
from streams.config import WorkerSettings
from switchboard import securekafka

SASL_SSL = {
    "SWITCHBOARD_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "SWITCHBOARD_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
    "SWITCHBOARD_KAFKA_SASL_USERNAME": "switchboard-gateway",
}


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return securekafka.generate(tmp_path_factory.mktemp("tls")).ca_file


def set_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_both_processes_read_the_same_block() -> None:
    fields = set(KafkaSecurity.model_fields)
    assert fields <= set(GatewaySettings.model_fields)
    assert fields <= set(WorkerSettings.model_fields)
    assert issubclass(GatewaySettings, KafkaSecurity) and issubclass(WorkerSettings, KafkaSecurity)


def test_plaintext_by_default_maps_to_no_credentials() -> None:
    assert GatewaySettings().librdkafka_options() == {"security.protocol": "PLAINTEXT"}
    worker = WorkerSettings()
    assert worker.aiokafka_security() == {"security_protocol": "PLAINTEXT"}
    assert broker_credentials(worker) is None


def test_sasl_ssl_with_a_password_file_maps_to_each_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ca_file: Path
) -> None:
    password = tmp_path / "password"
    password.write_text("s3cret\n")  # a mounted Secret may end in a newline
    set_env(
        monkeypatch,
        {
            **SASL_SSL,
            "SWITCHBOARD_KAFKA_SASL_PASSWORD_FILE": str(password),
            "SWITCHBOARD_KAFKA_SSL_CA_FILE": str(ca_file),
        },
    )
    assert GatewaySettings().librdkafka_options() == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": "switchboard-gateway",
        "sasl.password": "s3cret",
        "ssl.ca.location": str(ca_file),
    }
    worker = WorkerSettings()
    options = worker.aiokafka_security()
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "switchboard-gateway",
        "sasl_plain_password": "s3cret",
    }
    assert isinstance(context, ssl.SSLContext) and context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1  # our CA, not the system's
    credentials = broker_credentials(worker)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"  # a TLS context makes Faust use SASL_SSL
    assert (credentials.username, credentials.password) == ("switchboard-gateway", "s3cret")
    assert credentials.mechanism.value == "SCRAM-SHA-256"


def test_mtls_presents_the_client_certificate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tls = securekafka.generate(tmp_path / "tls")  # broker.pem holds a key and its chain
    set_env(
        monkeypatch,
        {
            "SWITCHBOARD_KAFKA_SECURITY_PROTOCOL": "SSL",
            "SWITCHBOARD_KAFKA_SSL_CA_FILE": str(tls.ca_file),
            "SWITCHBOARD_KAFKA_SSL_CERT_FILE": str(tls.broker_pem),
            "SWITCHBOARD_KAFKA_SSL_KEY_FILE": str(tls.broker_pem),
        },
    )
    options = GatewaySettings().librdkafka_options()
    assert options["ssl.certificate.location"] == options["ssl.key.location"] == str(tls.broker_pem)
    assert "sasl.username" not in options
    credentials = broker_credentials(WorkerSettings())
    assert isinstance(credentials, faust.SSLCredentials)


@pytest.mark.parametrize(
    ("env", "names"),
    [
        (SASL_SSL, "SWITCHBOARD_KAFKA_SASL_PASSWORD"),  # no password
        (
            {**SASL_SSL, "SWITCHBOARD_KAFKA_SASL_USERNAME": ""},
            "SWITCHBOARD_KAFKA_SASL_USERNAME",
        ),
        (
            {
                **SASL_SSL,
                "SWITCHBOARD_KAFKA_SASL_PASSWORD": "x",
                "SWITCHBOARD_KAFKA_SASL_PASSWORD_FILE": "/p",
            },
            "not both",
        ),
        (
            {"SWITCHBOARD_KAFKA_SECURITY_PROTOCOL": "SSL", "SWITCHBOARD_KAFKA_SSL_CERT_FILE": "/c"},
            "SWITCHBOARD_KAFKA_SSL_KEY_FILE",
        ),
        ({"SWITCHBOARD_KAFKA_SSL_CA_FILE": "/ca.pem"}, "does not use TLS"),
        ({"SWITCHBOARD_KAFKA_SECURITY_PROTOCOL": "SASL_SCRAM"}, "kafka_security_protocol"),
        ({**SASL_SSL, "SWITCHBOARD_KAFKA_SASL_MECHANISM": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_incomplete_or_contradictory_settings_are_refused_by_both(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], names: str
) -> None:
    set_env(monkeypatch, env)
    for settings in (GatewaySettings, WorkerSettings):
        with pytest.raises(ValidationError, match=names):
            settings()


def test_the_hint_names_the_settings_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**SASL_SSL, "SWITCHBOARD_KAFKA_SASL_PASSWORD_FILE": "/p"})
    hint = GatewaySettings().kafka_check_hint()
    assert (
        "SWITCHBOARD_KAFKA_SASL_PASSWORD_FILE" in hint and "SWITCHBOARD_KAFKA_SSL_CA_FILE" in hint
    )
    assert "SWITCHBOARD_KAFKA_SASL_PASSWORD," not in hint + ","


def test_the_password_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**SASL_SSL, "SWITCHBOARD_KAFKA_SASL_PASSWORD": "hunter2"})
    settings = WorkerSettings()
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
    assert settings.kafka_sasl_secret() == "hunter2"
