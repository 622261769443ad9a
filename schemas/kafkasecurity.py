"""How a Switchboard process authenticates to Kafka: one settings block for both.

The gateway (librdkafka) and the stream workers (aiokafka through Faust) inherit these
fields into their own settings classes, so both read the same SWITCHBOARD_KAFKA_*
variables; each maps them to its client's options (gateway.publisher, streams.config).

PLAINTEXT is the local default. Production Strimzi clusters listen with TLS and SCRAM:
SASL_SSL with SCRAM-SHA-512, the cluster CA as `kafka_ssl_ca_file` and the KafkaUser's
password (its Secret's `password` key) as `kafka_sasl_password_file`. A client
certificate and key (mTLS, Strimzi's `tls` authentication) go in the cert and key files.
"""

from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, Field, SecretStr, model_validator


class SecurityProtocol(StrEnum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(StrEnum):
    SCRAM_SHA_512 = "SCRAM-SHA-512"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    PLAIN = "PLAIN"


SETTING = {  # field -> the environment variable an operator sets
    name: f"SWITCHBOARD_{name.upper()}"
    for name in (
        "kafka_security_protocol",
        "kafka_sasl_mechanism",
        "kafka_sasl_username",
        "kafka_sasl_password",
        "kafka_sasl_password_file",
        "kafka_ssl_ca_file",
        "kafka_ssl_cert_file",
        "kafka_ssl_key_file",
    )
}


class KafkaSecurity(BaseModel):
    """The fields shared by GatewaySettings and WorkerSettings (a mixin, no prefix of its own)."""

    kafka_security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    kafka_sasl_mechanism: SaslMechanism = SaslMechanism.SCRAM_SHA_512
    kafka_sasl_username: str | None = None
    # The password itself, or a file holding it (a mounted Secret; one trailing newline
    # is dropped). Never both.
    kafka_sasl_password: SecretStr | None = None
    kafka_sasl_password_file: Path | None = None
    # PEM files. Without a CA file the system's trust store verifies the broker.
    kafka_ssl_ca_file: Path | None = None
    kafka_ssl_cert_file: Path | None = Field(default=None, description="mTLS client certificate.")
    kafka_ssl_key_file: Path | None = Field(default=None, description="Its key, unencrypted PEM.")

    @property
    def kafka_uses_sasl(self) -> bool:
        return self.kafka_security_protocol.startswith("SASL_")

    @property
    def kafka_uses_tls(self) -> bool:
        return self.kafka_security_protocol.endswith("SSL")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        env = SETTING
        if self.kafka_sasl_password is not None and self.kafka_sasl_password_file is not None:
            raise ValueError(
                f"set {env['kafka_sasl_password']} or {env['kafka_sasl_password_file']}, not both"
            )
        if self.kafka_uses_sasl:
            has_password = self.kafka_sasl_password or self.kafka_sasl_password_file
            if not self.kafka_sasl_username or not has_password:
                raise ValueError(
                    f"{env['kafka_security_protocol']}={self.kafka_security_protocol} needs "
                    f"{env['kafka_sasl_username']} and {env['kafka_sasl_password']} "
                    f"(or {env['kafka_sasl_password_file']})"
                )
        if (self.kafka_ssl_cert_file is None) != (self.kafka_ssl_key_file is None):
            raise ValueError(
                f"{env['kafka_ssl_cert_file']} and {env['kafka_ssl_key_file']} go together"
            )
        if not self.kafka_uses_tls and (self.kafka_ssl_ca_file or self.kafka_ssl_cert_file):
            raise ValueError(
                f"TLS files are set but {env['kafka_security_protocol']}="
                f"{self.kafka_security_protocol} does not use TLS (SSL or SASL_SSL)"
            )
        return self

    def kafka_sasl_secret(self) -> str | None:
        """The SASL password, read from its file when one is set (at each call: a
        rotated Secret is picked up by the next client created)."""
        if self.kafka_sasl_password_file is not None:
            text = self.kafka_sasl_password_file.read_text(encoding="utf-8")
            return text[:-1] if text.endswith("\n") else text
        return self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None

    def librdkafka_options(self) -> dict[str, Any]:
        """These settings as librdkafka options (the gateway's producer, and the admin
        clients of the worker and the CLI)."""
        options: dict[str, Any] = {"security.protocol": self.kafka_security_protocol.value}
        if self.kafka_uses_sasl:
            options["sasl.mechanism"] = self.kafka_sasl_mechanism.value
            options["sasl.username"] = self.kafka_sasl_username
            options["sasl.password"] = self.kafka_sasl_secret()
        files = {
            "ssl.ca.location": self.kafka_ssl_ca_file,
            "ssl.certificate.location": self.kafka_ssl_cert_file,
            "ssl.key.location": self.kafka_ssl_key_file,
        }
        options.update({name: str(path) for name, path in files.items() if path is not None})
        return options

    def kafka_check_hint(self) -> str:
        """Which settings to check when the broker refuses this process's credentials."""
        names = [SETTING["kafka_security_protocol"]]
        if self.kafka_uses_sasl:
            password = "kafka_sasl_password_file" if self.kafka_sasl_password_file else None
            names += [
                SETTING["kafka_sasl_mechanism"],
                SETTING["kafka_sasl_username"],
                SETTING[password or "kafka_sasl_password"],
            ]
        if self.kafka_uses_tls:
            names.append(SETTING["kafka_ssl_ca_file"])
        return ", ".join(names)
