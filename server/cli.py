"""The `payment-service` command.

payment-service serve [--migrate] [--workers N]
                                    run the gRPC server (embedded PostgreSQL, Redis and Kafka
                                    when none is configured, outside production) in N worker
                                    processes sharing its ports (default: one per CPU)
payment-service migrate             apply database migrations and exit
payment-service check-config        validate the environment and exit
payment-service rotate-keys         re-encrypt every encrypted value with the active key
                                    (online; --reindex also recomputes the blind indexes)
payment-service retention run       apply the retention policies once
payment-service mint-token --sub S [--scopes a,b] [--ttl SECONDS] [--kind user|service]
                                    print a token signed by the development key
payment-service audit verify        check the audit trail's hash chain (exit 1: tampered)
payment-service audit tail | show   read the audit trail
payment-service reconcile-report --gateway stripe|paypal|simulator --from DATE --to DATE
                [--format table|json|csv]
                                    our payments of a period against the gateway's records
                                    (exit 1 when anything differs)
payment-service export payments --from DATE --to DATE --format csv [--output FILE]
                                    the period's payments for finance, streamed as CSV
payment-service dlq list | replay   the order events' dead-letter topic (docs/operations.md)
payment-service operations list-open | resolve
                                    gateway operations with an unknown outcome
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from server import logs
from server.audit_cli import add_audit_commands, run_audit
from server.cli_tokens import add_mint_token_parser, mint_token
from server.config import AppEnv, Settings
from server.config_show import show as show_config
from server.config_show import version_text
from server.dlq_cli import add_dlq_commands, run_dlq
from server.export_cli import add_export_commands, run_export
from server.operations_cli import add_operations_commands, run_operations
from server.reconcile_cli import add_reconcile_report_parser, run_reconcile_report
from server.unknown_settings import warn_unknown_variables

log = logging.getLogger("payments.cli")


SECRET_HINTS = ("password", "secret", "key", "token", "url")


def describe_config_error(error: Mapping[str, Any]) -> str:
    """One line per bad setting, naming the variable; values are shown only when they cannot
    be secrets (a URL may carry a password)."""
    if not error["loc"]:
        return str(error["msg"]).removeprefix("Value error, ")
    name = str(error["loc"][0]).upper().rstrip("_")
    shown = "" if any(h in name.lower() for h in SECRET_HINTS) else f" (got {error['input']!r})"
    return f"{name}: {error['msg']}{shown}"


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        print("invalid configuration:", file=sys.stderr)
        for error in exc.errors():
            print(f"  {describe_config_error(error)}", file=sys.stderr)
        raise SystemExit(2) from None


def check_keys(settings: Settings, *, auth: bool) -> None:
    """Staging and production refuse to start without their keys: the encryption keys always,
    the token issuer's keys when the command serves calls (`auth`). Every missing one is named
    at once."""
    from server.encryption import EncryptionNotConfigured, blind_index_key, key_ring

    missing = [settings.missing_auth_keys()] if auth else []
    for load in (key_ring, blind_index_key):
        try:
            load(settings)
        except EncryptionNotConfigured as exc:
            missing.append(str(exc))
    problems = [problem for problem in missing if problem]
    if problems:
        print("invalid configuration:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        raise SystemExit(2)


def check_pci_compliance(settings: Settings) -> None:
    """PCI_COMPLIANCE_MODE=true: refuse to start, naming every setting at fault."""
    from server.pci import PciComplianceError, require_pci_compliance

    try:
        require_pci_compliance(settings)
    except PciComplianceError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None


def resolve_database(settings: Settings) -> tuple[str, str]:
    """(SQLAlchemy URL, human description). Embedded PostgreSQL only outside production."""
    if settings.database_configured:
        try:
            return settings.database_url(), "configured PostgreSQL"
        except ValueError as exc:
            print(f"invalid configuration: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    if settings.app_env in (AppEnv.PRODUCTION, AppEnv.STAGING):
        print(
            "invalid configuration: DATABASE_URL or DB_HOST is required when "
            f"APP_ENV={settings.app_env.value}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    from server.embedded import start_embedded_postgres

    url = start_embedded_postgres(settings.embedded_data_dir)
    return url, f"embedded PostgreSQL in {settings.embedded_data_dir / 'postgres'}"


def resolve_redis(settings: Settings) -> tuple[str | None, str]:
    """(redis-py URL or None, human description). Redis is only a cache: in production or
    staging without one the service runs without it (correct, only slower)."""
    if settings.redis_configured:
        try:
            url = settings.redis_url_value()
        except ValueError as exc:
            print(f"invalid configuration: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        return url, f"configured Redis at {describe_redis_url(url)}"
    if settings.app_env in (AppEnv.PRODUCTION, AppEnv.STAGING):
        log.warning("REDIS_URL and REDIS_HOST are not set: running without the Redis cache")
        return None, "none (REDIS_URL / REDIS_HOST not set): running without the cache"
    from server.embedded import start_embedded_redis

    url = start_embedded_redis(settings.embedded_data_dir)
    return url, f"embedded Redis in {settings.embedded_data_dir / 'redis'}"


def resolve_kafka(settings: Settings) -> tuple[Settings, str]:
    """(settings with KAFKA_BROKERS, human description). Without Kafka the outbox keeps the
    events until a relay publishes them: in production or staging the service runs without."""
    if settings.kafka_configured:
        return settings, f"configured Kafka at {','.join(settings.kafka_broker_list())}"
    if settings.app_env in (AppEnv.PRODUCTION, AppEnv.STAGING):
        log.warning("KAFKA_BROKERS is not set: events wait in the outbox, unpublished")
        return settings, "none (KAFKA_BROKERS not set): events wait in the outbox"
    from server.embedded import start_embedded_kafka

    brokers = start_embedded_kafka()
    # Tansu has no idempotent producer (InitProducerId).
    embedded = settings.model_copy(
        update={"kafka_brokers": brokers, "kafka_enable_idempotence": False}
    )
    return embedded, f"embedded Kafka (Tansu, in memory) at {brokers}"


def describe_redis_url(url: str) -> str:
    """Where a Redis URL points, without its credentials."""
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return f"unix:{parsed.path}"
    host = f"[{parsed.hostname}]" if ":" in (parsed.hostname or "") else parsed.hostname
    return f"{parsed.scheme}://{host}:{parsed.port or 6379}{parsed.path or '/0'}"


def _auth_lines(settings: Settings, token: str | None) -> list[str]:
    if not settings.auth_enabled:
        return ["  auth      OFF (AUTH_ENABLED=false): every caller is anonymous"]
    if token is None:
        return [f"  auth      bearer JWTs issued by {settings.jwt_issuer} (JWKS configured)"]
    return [
        "  auth      development key; an admin token for the next 8 hours:",
        f"    export TOKEN={token}",
        "    (more: payment-service mint-token --sub SUBJECT --scopes payments:read --ttl 3600)",
    ]


def banner(
    settings: Settings,
    port: int,
    database: str,
    redis: str = "none",
    rest_port: int | None = None,
    *,
    kafka: str = "none",
    token: str | None = None,
    ops_port: int = 0,
) -> str:
    host = "127.0.0.1" if settings.grpc_host in ("0.0.0.0", "::", "[::]") else settings.grpc_host  # noqa: S104
    target = f"{host}:{port}"
    scheme = "https" if settings.tls_enabled else "http"
    rest = f"{scheme}://{host}:{settings.app_port if rest_port is None else rest_port}"
    # Over TLS grpcurl needs the CA that signed TLS_CERT_FILE (and a client certificate
    # when TLS_REQUIRE_CLIENT_CERT is set): ca.pem, client.pem and client.key stand for them.
    grpcurl = "grpcurl -plaintext"
    if settings.tls_enabled:
        grpcurl = "grpcurl -cacert ca.pem"
        if settings.tls_require_client_cert:
            grpcurl += " -cert client.pem -key client.key"
    bearer = '-H "authorization: Bearer $TOKEN" ' if settings.auth_enabled else ""
    example = (
        f"{grpcurl} {bearer}-d "
        '\'{"order_id": "6f1c2b1e-0d5e-4a53-9f55-3a1d4c9b7e01", '
        '"user_id": "2d7e4f8a-1b2c-4d3e-8f9a-0b1c2d3e4f50", "amount_minor": 1099, '
        '"currency": "EUR", "payment_method_type": "PAYMENT_METHOD_TYPE_CREDIT_CARD", '
        '"payment_method_token": "pm_card_visa", "request_id": "try-1"}\' '
        f"{target} payments.v1.PaymentService/CreatePayment"
    )
    return "\n".join(
        [
            "payment-service is ready",
            f"  gRPC      {target}  (reflection on: {grpcurl} {target} list)",
            f"  health    {grpcurl} {target} grpc.health.v1.Health/Check",
            f"  database  {database}",
            f"  redis     {redis}",
            f"  kafka     {kafka}  (topic {settings.kafka_topic_payment_events})",
            f"  REST      {rest}/api/v1/  (OpenAPI: {rest}/openapi.json)",
            _ops_line(settings, host, ops_port),
            *_auth_lines(settings, token),
            "  try:",
            f"    {example}",
        ]
    )


def _ops_line(settings: Settings, host: str, ops_port: int) -> str:
    if not settings.ops_enabled:
        return "  ops       off (OPS_ENABLED=false)"
    ops_host = "127.0.0.1" if settings.ops_host in ("0.0.0.0", "::", "[::]") else settings.ops_host  # noqa: S104
    ops = f"http://{ops_host}:{ops_port or settings.ops_port}"
    return f"  ops       {ops}/livez  {ops}/readyz  {ops}/metrics  (no token, plaintext)"


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="payment-service", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=version_text())
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="run the gRPC server")
    serve_cmd.add_argument("--migrate", action="store_true", help="apply migrations first")
    serve_cmd.add_argument(
        "--workers",
        type=_positive,
        help="worker processes sharing the ports (default: SERVER_WORKERS, else one per CPU)",
    )
    sub.add_parser("migrate", help="apply database migrations and exit")
    sub.add_parser("check-config", help="validate the environment and exit")
    config_cmd = sub.add_parser("config", help="the effective configuration")
    config_cmd.add_subparsers(dest="config_command", required=True).add_parser(
        "show", help="every setting under its variable, defaults included, secrets masked"
    )
    rotate = sub.add_parser("rotate-keys", help="re-encrypt every value with the active key")
    rotate.add_argument(
        "--reindex", action="store_true", help="also recompute blind indexes (new BLIND_INDEX_KEY)"
    )
    retention = sub.add_parser("retention", help="data retention")
    retention.add_subparsers(dest="retention_command", required=True).add_parser(
        "run", help="apply the retention policies once"
    )
    add_mint_token_parser(sub)
    add_audit_commands(sub)
    add_export_commands(sub)
    add_reconcile_report_parser(sub)
    add_dlq_commands(sub)
    add_operations_commands(sub)
    return parser


def run_operator_command(args: argparse.Namespace, settings: Settings, url: str) -> int | None:
    """The exit status of an operator's command on the database; None for serve/migrate."""
    if args.command == "rotate-keys":
        from server.ops import rotate_keys

        return asyncio.run(rotate_keys(settings, url, reindex=args.reindex))
    if args.command == "retention":
        from server.ops import run_retention

        return asyncio.run(run_retention(settings, url))
    if args.command == "audit":
        return asyncio.run(run_audit(args, url))
    if args.command == "export":
        return run_export(args, url)
    if args.command == "reconcile-report":
        return run_reconcile_report(args, settings, url)
    if args.command == "operations":
        return run_operations(args, settings, url)
    return None


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)

    settings = load_settings()
    if args.command == "config":  # before any check: showing a configuration is how one fixes it
        print(show_config(settings))
        return
    logs.configure(settings.log_level, trace_ids=settings.tracing_enabled)
    warn_unknown_variables(os.environ, Settings.variables())
    serving = args.command in ("serve", "check-config")
    if serving:
        check_pci_compliance(settings)
    # Migrations need no key (0011's values are format 0), nor do tokens, the audit trail or
    # the export (it reads no sealed column).
    if args.command not in ("migrate", "mint-token", "audit", "export", "reconcile-report", "dlq"):
        check_keys(settings, auth=serving)
    if args.command == "check-config":
        print("configuration is valid")
        return
    if args.command == "mint-token":
        mint_token(settings, args)
        return
    if args.command == "dlq":  # Kafka only: no database
        raise SystemExit(run_dlq(args, settings))
    url, database = resolve_database(settings)
    status = run_operator_command(args, settings, url)
    if status is not None:
        raise SystemExit(status)
    if args.command == "migrate" or args.migrate:
        from server.migrate import upgrade_to_head
        from server.transport import database_ssl

        upgrade_to_head(url, database_ssl(settings))
        log.info("database migrated to head")
    if args.command == "serve":
        from server.serving import run_serve

        run_serve(settings, url, database, args.workers)


if __name__ == "__main__":
    main()
