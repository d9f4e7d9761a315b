"""Encryption in transit towards PostgreSQL, Redis and Kafka (PCI DSS 4.2), from the
settings, and the list of what in the settings leaves a connection in plaintext (the
PCI_COMPLIANCE_MODE start-up check calls `transport_settings_problems`)."""

from __future__ import annotations

import ssl

from infra.messaging.clients import KafkaSecurity
from server.config import Settings
from server.kafka_config import KafkaSettings
from server.redis_config import RedisSettings
from server.tls import MINIMUM_TLS_VERSION
from server.transport_config import TransportSettings

# asyncpg takes these modes by name; the others get a context built here (verification as
# libpq defines it, TLS 1.2+, the client certificate when one is configured).
_DRIVER_MODES = ("disable", "allow", "prefer")


def database_ssl(settings: Settings) -> ssl.SSLContext | str | None:
    """asyncpg's `ssl` argument for DB_SSLMODE: None (unset, the driver's default), a mode
    name, or a context: require (encrypted, unverified), verify-ca (the server's certificate
    is signed by DB_SSLROOTCERT, else a system CA), verify-full (and names the host)."""
    mode = settings.db_sslmode
    if mode is None or mode in _DRIVER_MODES:
        return mode
    if mode == "require":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        root = settings.db_sslrootcert
        context = ssl.create_default_context(cafile=str(root) if root is not None else None)
        context.check_hostname = mode == "verify-full"
    context.minimum_version = MINIMUM_TLS_VERSION
    if settings.db_sslcert is not None and settings.db_sslkey is not None:
        context.load_cert_chain(settings.db_sslcert, settings.db_sslkey)
    return context


def redis_ssl_ca_file(settings: Settings) -> str | None:
    """The CA bundle a rediss:// connection verifies the server against (None: the system's)."""
    return str(settings.redis_ssl_ca_file) if settings.redis_ssl_ca_file is not None else None


def kafka_security(settings: Settings) -> KafkaSecurity:
    password = settings.kafka_sasl_password
    return KafkaSecurity(
        protocol=settings.kafka_security_protocol,
        ssl_cafile=_path(settings.kafka_ssl_cafile),
        ssl_certfile=_path(settings.kafka_ssl_certfile),
        ssl_keyfile=_path(settings.kafka_ssl_keyfile),
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=password.get_secret_value() if password is not None else None,
    )


def _path(value: object) -> str | None:
    return None if value is None else str(value)


def transport_settings_problems(settings: Settings) -> list[str]:
    """One line per connection the settings leave in plaintext (or unverified), naming the
    setting to change; empty when everything in transit is encrypted."""
    return [
        *TransportSettings.pci_problems(settings),
        *RedisSettings.pci_problems(settings),
        *KafkaSettings.pci_problems(settings),
    ]
