"""Settings of encryption in transit (PCI DSS 4.2): the listeners' certificates, and TLS or
SASL towards PostgreSQL, Redis and Kafka. `Settings` (server/config.py) inherits them; the
objects built from them are in server/tls.py (listeners) and server/transport.py (clients)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# libpq's sslmode values (asyncpg takes the same).
DbSslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class TransportSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # The gRPC server and the REST shim serve TLS with this certificate (chain) and key when
    # both are set. With TLS_CLIENT_CA_FILE, client certificates are verified against it;
    # TLS_REQUIRE_CLIENT_CERT makes one mandatory (mutual TLS).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = None
    tls_require_client_cert: bool = False

    # PostgreSQL: unset is the driver's default ("prefer": TLS if the server offers it, no
    # verification). Production: verify-full with DB_SSLROOTCERT (else the system's CAs).
    db_sslmode: DbSslMode | None = None
    db_sslrootcert: Path | None = None
    db_sslcert: Path | None = None
    db_sslkey: Path | None = None

    # Redis over TLS: a rediss:// REDIS_URL, or REDIS_SSL with REDIS_HOST; the server's
    # certificate is verified against REDIS_SSL_CA_FILE (else the system's CAs).
    redis_ssl: bool = False
    redis_ssl_ca_file: Path | None = None

    # Kafka: SSL or SASL_SSL in production; SASL needs a mechanism, a user and a password.
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_sasl_mechanism: KafkaSaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert_file is not None

    @model_validator(mode="after")
    def _transport_consistent(self) -> TransportSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("TLS_CERT_FILE and TLS_KEY_FILE go together")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE")
        if self.tls_require_client_cert and self.tls_client_ca_file is None:
            raise ValueError("TLS_REQUIRE_CLIENT_CERT needs TLS_CLIENT_CA_FILE")
        if (self.db_sslcert is None) != (self.db_sslkey is None):
            raise ValueError("DB_SSLCERT and DB_SSLKEY go together")
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                "KAFKA_SECURITY_PROTOCOL=SASL_* needs KAFKA_SASL_MECHANISM, "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        for name, path in self._transport_files().items():
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file: {path}")
        return self

    def _transport_files(self) -> dict[str, Path | None]:
        return {
            "TLS_CERT_FILE": self.tls_cert_file,
            "TLS_KEY_FILE": self.tls_key_file,
            "TLS_CLIENT_CA_FILE": self.tls_client_ca_file,
            "DB_SSLROOTCERT": self.db_sslrootcert,
            "DB_SSLCERT": self.db_sslcert,
            "DB_SSLKEY": self.db_sslkey,
            "REDIS_SSL_CA_FILE": self.redis_ssl_ca_file,
            "KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
            "KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
            "KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
        }
