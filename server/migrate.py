"""Applies the alembic migrations shipped in the `migrations` package."""

from __future__ import annotations

import ssl
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

import migrations


def alembic_config(url: str, ssl_option: ssl.SSLContext | str | None = None) -> Config:
    """`ssl_option`: asyncpg's `ssl` (server/transport.database_ssl), None for the default."""
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["url"] = url
    config.attributes["connect_args"] = {} if ssl_option is None else {"ssl": ssl_option}
    return config


def upgrade_to_head(url: str, ssl_option: ssl.SSLContext | str | None = None) -> None:
    """Synchronous: call it before the event loop starts (alembic's env runs its own loop)."""
    command.upgrade(alembic_config(url, ssl_option), "head")


def head_revisions() -> frozenset[str]:
    """The revisions `upgrade_to_head` leads to (read from the shipped scripts, no database)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())
