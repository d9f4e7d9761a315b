"""Encryption in transit towards PostgreSQL, Redis and Kafka, and the settings behind it:
real TLS servers with test certificates for PostgreSQL (sslmode verify-full / verify-ca) and
Redis (rediss://); aiokafka's clients built with SSL and SASL; the start-up check that names
every plaintext connection."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError
from sqlalchemy import text

from infra.cache import make_redis
from infra.db.engine import make_engine
from infra.messaging.clients import KafkaSecurity, producer_settings
from server.cli import banner
from server.config import Settings
from server.tls import rest_ssl_context
from server.transport import database_ssl, kafka_security, transport_settings_problems
from tests.support.certificates import Pki, make_pki
from tests.support.tls_servers import TlsPostgres, TlsRedis


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def localhost_only(pki: Pki) -> Any:
    """A server certificate naming localhost but not 127.0.0.1: reached as 127.0.0.1, the
    chain verifies (verify-ca) but the name does not (verify-full)."""
    return pki.ca.issue("localhost-only", server=True, hosts=("localhost",), ips=())


def settings(**values: Any) -> Settings:
    return Settings(**values)


# --- PostgreSQL ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
async def tls_postgres(localhost_only: Any) -> AsyncIterator[TlsPostgres]:
    server = TlsPostgres(localhost_only)
    try:
        await server.start()
        yield server
    finally:
        server.close()


async def _ssl_in_use(url: str, option: ssl.SSLContext | str | None) -> bool:
    engine = make_engine(url, pool_size=1, ssl=option)
    try:
        async with engine.connect() as conn:
            query = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            return bool(await conn.scalar(text(query)))
    finally:
        await engine.dispose()


async def test_postgres_verify_full_connects_over_tls(tls_postgres: TlsPostgres, pki: Pki) -> None:
    option = database_ssl(settings(db_sslmode="verify-full", db_sslrootcert=pki.ca.cert))
    assert await _ssl_in_use(tls_postgres.url("localhost"), option)


async def test_postgres_verify_full_checks_the_host_name(
    tls_postgres: TlsPostgres, pki: Pki
) -> None:
    full = database_ssl(settings(db_sslmode="verify-full", db_sslrootcert=pki.ca.cert))
    with pytest.raises(ssl.SSLCertVerificationError):
        await _ssl_in_use(tls_postgres.url("127.0.0.1"), full)  # not a name in the cert
    chain_only = database_ssl(settings(db_sslmode="verify-ca", db_sslrootcert=pki.ca.cert))
    assert await _ssl_in_use(tls_postgres.url("127.0.0.1"), chain_only)


async def test_postgres_verify_full_refuses_a_server_of_another_ca(
    tls_postgres: TlsPostgres, pki: Pki
) -> None:
    option = database_ssl(settings(db_sslmode="verify-full", db_sslrootcert=pki.other_ca.cert))
    with pytest.raises(ssl.SSLCertVerificationError):
        await _ssl_in_use(tls_postgres.url("localhost"), option)


def test_postgres_modes_map_onto_asyncpg(pki: Pki) -> None:
    assert database_ssl(settings()) is None  # the driver's default
    assert database_ssl(settings(db_sslmode="prefer")) == "prefer"
    required = database_ssl(settings(db_sslmode="require"))
    assert isinstance(required, ssl.SSLContext)
    assert (required.verify_mode, required.check_hostname) == (ssl.CERT_NONE, False)
    full = database_ssl(
        settings(
            db_sslmode="verify-full",
            db_sslrootcert=pki.ca.cert,
            db_sslcert=pki.client.cert,
            db_sslkey=pki.client.key,
        )
    )
    assert isinstance(full, ssl.SSLContext)
    assert (full.verify_mode, full.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert full.minimum_version == ssl.TLSVersion.TLSv1_2
    assert [c["subject"] for c in full.get_ca_certs()] == [((("commonName", "test-ca"),),)]


# --- Redis -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
async def tls_redis(localhost_only: Any, pki: Pki) -> AsyncIterator[TlsRedis]:
    server = TlsRedis(localhost_only, pki.ca.cert)
    try:
        await server.start()
        yield server
    finally:
        server.close()


async def _pings(url: str, ca: Path) -> bool:
    client = make_redis(url, ssl_ca_file=str(ca), timeout=5, retries=0)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


async def test_rediss_verifies_the_server(tls_redis: TlsRedis, pki: Pki) -> None:
    assert await _pings(f"rediss://localhost:{tls_redis.port}/0", pki.ca.cert)
    with pytest.raises(Exception, match="certificate verify failed"):
        await _pings(f"rediss://localhost:{tls_redis.port}/0", pki.other_ca.cert)
    with pytest.raises(Exception, match="certificate verify failed"):
        await _pings(f"rediss://127.0.0.1:{tls_redis.port}/0", pki.ca.cert)  # wrong name


def test_redis_host_with_redis_ssl_builds_a_rediss_url() -> None:
    url = settings(redis_host="cache.internal", redis_ssl=True).redis_url_value()
    assert url == "rediss://cache.internal:6379/0"


# --- Kafka -----------------------------------------------------------------------------------
def test_kafka_sasl_ssl_options(pki: Pki) -> None:
    security = kafka_security(
        settings(
            kafka_brokers="broker:9093",
            kafka_security_protocol="SASL_SSL",
            kafka_ssl_cafile=pki.ca.cert,
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="payments",
            kafka_sasl_password="s3cret",
        )
    )
    assert "s3cret" not in repr(security)
    options = producer_settings(["broker:9093"], "payments", True, 10_000, security)
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "test-ca"),),)]
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == (
        "SCRAM-SHA-512",
        "payments",
    )
    assert options["sasl_plain_password"] == "s3cret"


async def test_aiokafka_accepts_the_options(pki: Pki) -> None:
    """aiokafka checks its security arguments when a client is built (no broker needed)."""
    security = KafkaSecurity(
        protocol="SSL",
        ssl_cafile=str(pki.ca.cert),
        ssl_certfile=str(pki.client.cert),
        ssl_keyfile=str(pki.client.key),
    )
    producer = AIOKafkaProducer(**producer_settings(["b:9093"], "p", False, 1000, security))
    consumer = AIOKafkaConsumer("t", bootstrap_servers="b:9093", **security.client_options())
    try:
        assert producer.client._security_protocol == "SSL"
        assert consumer._client._security_protocol == "SSL"
    finally:
        await producer.stop()
        await consumer.stop()
    with pytest.raises(ValueError, match="ssl_context"):  # proof that it checks them
        AIOKafkaProducer(bootstrap_servers="b:9093", security_protocol="SSL")


# --- listeners and settings ------------------------------------------------------------------
def test_the_rest_context_refuses_old_versions_and_checks_client_certificates(pki: Pki) -> None:
    tls = {"tls_cert_file": pki.server.cert, "tls_key_file": pki.server.key}
    assert rest_ssl_context(settings()) is None
    plain = rest_ssl_context(settings(**tls))
    assert plain is not None
    assert plain.minimum_version == ssl.TLSVersion.TLSv1_2
    assert plain.verify_mode == ssl.CERT_NONE
    optional = rest_ssl_context(settings(**tls, tls_client_ca_file=pki.ca.cert))
    assert optional is not None and optional.verify_mode == ssl.CERT_OPTIONAL
    required = rest_ssl_context(
        settings(**tls, tls_client_ca_file=pki.ca.cert, tls_require_client_cert=True)
    )
    assert required is not None and required.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"tls_cert_file": "CERT"}, "TLS_CERT_FILE and TLS_KEY_FILE go together"),
        ({"tls_client_ca_file": "CERT"}, "TLS_CLIENT_CA_FILE needs TLS_CERT_FILE"),
        (
            {"tls_cert_file": "CERT", "tls_key_file": "CERT", "tls_require_client_cert": True},
            "TLS_REQUIRE_CLIENT_CERT needs TLS_CLIENT_CA_FILE",
        ),
        ({"tls_cert_file": "/nonexistent", "tls_key_file": "CERT"}, "TLS_CERT_FILE: no such"),
        ({"db_sslmode": "verify-everything"}, "db_sslmode"),
        ({"db_sslcert": "CERT"}, "DB_SSLCERT and DB_SSLKEY go together"),
        ({"kafka_security_protocol": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
    ],
)
def test_inconsistent_transport_settings_are_refused(
    pki: Pki, values: dict[str, Any], message: str
) -> None:
    given = {k: (str(pki.server.cert) if v == "CERT" else v) for k, v in values.items()}
    with pytest.raises(ValidationError, match=message):
        settings(**given)


def test_tls_parameters_in_database_url_are_refused() -> None:
    configured = settings(database_url="postgresql://u@db/p?sslmode=verify-full")
    with pytest.raises(ValueError, match="DB_SSLMODE"):
        configured.database_url()


def test_transport_problems_name_every_plaintext_connection() -> None:
    problems = transport_settings_problems(
        settings(
            database_url="postgresql://u@db/p",
            redis_url="redis://cache:6379/0",
            kafka_brokers="broker:9092",
        )
    )
    text_of = "\n".join(problems)
    assert len(problems) == 5
    for setting in ("GRPC_PORT", "APP_PORT", "DB_SSLMODE", "REDIS_URL", "KAFKA_SECURITY_PROTOCOL"):
        assert setting in text_of


def test_transport_problems_are_none_when_everything_is_encrypted(pki: Pki) -> None:
    secure = settings(
        tls_cert_file=pki.server.cert,
        tls_key_file=pki.server.key,
        database_url="postgresql://u@db/p",
        db_sslmode="verify-full",
        db_sslrootcert=pki.ca.cert,
        redis_url="rediss://cache:6380/0",
        redis_ssl_ca_file=pki.ca.cert,
        kafka_brokers="broker:9093",
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=pki.ca.cert,
    )
    assert transport_settings_problems(secure) == []
    without_redis = secure.model_copy(update={"redis_url_": None})
    assert transport_settings_problems(without_redis) == []  # no Redis: nothing to encrypt


def test_the_start_banner_shows_how_to_reach_a_tls_server(pki: Pki) -> None:
    tls = settings(
        tls_cert_file=pki.server.cert,
        tls_key_file=pki.server.key,
        tls_client_ca_file=pki.ca.cert,
        tls_require_client_cert=True,
    )
    shown = banner(tls, 9090, "db", rest_port=8443)
    assert "grpcurl -cacert ca.pem -cert client.pem -key client.key" in shown
    assert "-plaintext" not in shown
    assert "https://127.0.0.1:8443/api/v1/" in shown
    assert "grpcurl -plaintext" in banner(settings(), 9090, "db")
