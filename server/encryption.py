"""Encryption at rest from the settings: the key ring and blind index key the service runs
with, and what is wrong with them for production (for the PCI mode start-up check)."""

from __future__ import annotations

import logging

from infra.crypto.blind_index import HmacBlindIndexer
from infra.crypto.envelope import EnvelopeCipher
from infra.crypto.keyring import KeyRing, development_blind_index_key, development_key_ring
from infra.db.sealing import Sealer
from server.config import AppEnv, Settings
from server.encryption_config import EncryptionSettings

log = logging.getLogger("payments.encryption")

# Where a key ring derived from a public label is acceptable.
DEVELOPMENT_ENVS = (AppEnv.DEVELOPMENT, AppEnv.TEST)


class EncryptionNotConfigured(Exception):
    """Staging or production without keys: the service must not start."""


def _require(settings: Settings, setting: str) -> None:
    if settings.app_env not in DEVELOPMENT_ENVS:
        raise EncryptionNotConfigured(
            f"{setting} is required when APP_ENV={settings.app_env.value}"
        )


def key_ring(settings: Settings) -> KeyRing:
    ring = settings.encryption_key_ring()
    if ring is None:
        _require(settings, "ENCRYPTION_KEY or ENCRYPTION_KEY_FILE")
        return development_key_ring()
    return ring


def blind_index_key(settings: Settings) -> bytes:
    key = settings.blind_index_secret()
    if key is None:
        _require(settings, "BLIND_INDEX_KEY or BLIND_INDEX_KEY_FILE")
        return development_blind_index_key()
    return key


def build_cipher(settings: Settings) -> EnvelopeCipher:
    return EnvelopeCipher(key_ring(settings))


def build_sealer(settings: Settings) -> Sealer:
    """Raises EncryptionNotConfigured in staging/production without keys; in development and
    test, missing keys are replaced by development ones, with a warning."""
    cipher = build_cipher(settings)
    sealer = Sealer(cipher, HmacBlindIndexer(blind_index_key(settings)))
    for problem in encryption_settings_problems(settings):
        log.warning("encryption at rest: %s", problem)
    return sealer


def encryption_settings_problems(settings: Settings) -> list[str]:
    """What keeps the encryption settings from being fit for production, one sentence per
    problem naming the setting; empty when there is none."""
    return EncryptionSettings.pci_problems(settings)


def uses_development_keys(settings: Settings) -> bool:
    return bool(encryption_settings_problems(settings))
