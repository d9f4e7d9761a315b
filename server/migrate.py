"""Applies the alembic migrations shipped in the `migrations` package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["url"] = url
    return config


def upgrade_to_head(url: str) -> None:
    """Synchronous: call it before the event loop starts (alembic's env runs its own loop)."""
    command.upgrade(alembic_config(url), "head")
