"""`payment-service mint-token`: a token signed by the development key, on stdout (and
nothing else there, so that `TOKEN=$(payment-service mint-token ...)` works)."""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from server.auth_config import development_key
from server.config import Settings

MAX_TTL_SECONDS = 30 * 24 * 3600


def _ttl(value: str) -> int:
    seconds = int(value)
    if not 0 < seconds <= MAX_TTL_SECONDS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_TTL_SECONDS} seconds")
    return seconds


def add_mint_token_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "mint-token",
        help="print a token signed by the development key (APP_ENV=development only)",
    )
    parser.add_argument("--sub", required=True, help="the subject: a user id or a service name")
    parser.add_argument(
        "--scopes", default="", help="comma-separated, e.g. payments:read,payments:write"
    )
    parser.add_argument("--ttl", type=_ttl, default=3600, help="seconds (default 3600)")
    parser.add_argument(
        "--kind",
        choices=("user", "service"),
        help="user: acts for the subject only; default: user when --sub is a UUID, else service",
    )


def default_kind(subject: str) -> str:
    try:
        return "user" if str(uuid.UUID(subject)) == subject else "service"
    except ValueError:
        return "service"


def mint_token(settings: Settings, args: argparse.Namespace) -> None:
    try:
        key = development_key(settings)
    except ValueError as exc:
        print(f"mint-token refused: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    kind = args.kind or default_kind(args.sub)
    if kind == "user" and default_kind(args.sub) != "user":
        print("mint-token refused: a user token's --sub must be a user id (UUID)", file=sys.stderr)
        raise SystemExit(2)
    scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()]
    token = key.mint(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        subject=args.sub,
        scopes=scopes,
        ttl_seconds=args.ttl,
        kind=kind,
    )
    print(token)
