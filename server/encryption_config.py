"""Settings of encryption at rest (README "Encryption at rest"): the key ring - `id:base64key`
entries separated by commas or newlines, the first one active - inline or in a file; and the
blind index key (32 bytes, base64), which must differ from every encryption key. Neither set:
a development key ring when APP_ENV is development or test; staging and production refuse to
start (server/encryption.py builds the cipher from these)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from infra.crypto.keyring import (
    KeyRing,
    KeyRingError,
    decode_key,
    development_blind_index_key,
    development_key_ring,
    parse_key_ring,
)
from server.secret_settings import secret_from
from server.settings_part import SettingsPart


class EncryptionSettings(SettingsPart):
    encryption_key: SecretStr | None = None
    encryption_key_file: Path | None = None
    blind_index_key: SecretStr | None = None
    blind_index_key_file: Path | None = None

    def problems(self) -> list[str]:
        problems, ring, index_key = [], None, None
        try:
            ring = self.encryption_key_ring()
        except (KeyRingError, OSError, ValueError) as exc:
            problems.append(f"ENCRYPTION_KEY: {_reason(exc)}")
        try:
            index_key = self.blind_index_secret()
        except (KeyRingError, OSError, ValueError) as exc:
            problems.append(f"BLIND_INDEX_KEY: {_reason(exc)}")
        if ring is not None and index_key is not None and index_key in ring.keys.values():
            problems.append("BLIND_INDEX_KEY must differ from every encryption key")
        return problems

    def pci_problems(self) -> list[str]:
        """What keeps these keys from being fit for production, one sentence per problem
        naming the setting."""
        problems = []
        ring = self.encryption_key_ring()
        if ring is None:
            problems.append(
                "ENCRYPTION_KEY / ENCRYPTION_KEY_FILE is not set: sensitive columns are "
                "encrypted with the public development key"
            )
        elif ring.development or ring.active_key in development_key_ring().keys.values():
            problems.append("ENCRYPTION_KEY holds the development key")
        index_key = self.blind_index_secret()
        if index_key is None:
            problems.append(
                "BLIND_INDEX_KEY / BLIND_INDEX_KEY_FILE is not set: blind indexes use the "
                "public development key"
            )
        elif index_key == development_blind_index_key():
            problems.append("BLIND_INDEX_KEY is the development key")
        return problems

    def encryption_key_ring(self) -> KeyRing | None:
        """The configured key ring; None when neither ENCRYPTION_KEY nor _FILE is set."""
        text = secret_from(self.encryption_key, self.encryption_key_file, "ENCRYPTION_KEY")
        return None if text is None else parse_key_ring(text.get_secret_value())

    def blind_index_secret(self) -> bytes | None:
        text = secret_from(self.blind_index_key, self.blind_index_key_file, "BLIND_INDEX_KEY")
        return None if text is None else decode_key(text.get_secret_value(), "BLIND_INDEX_KEY")


def _reason(exc: Exception) -> str:
    # An OSError's str() names the file; its key material is never part of a message.
    return (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)
