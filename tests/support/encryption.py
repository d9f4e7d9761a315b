"""Encryption keys of this test session: random, the same for in-process servers, subprocess
servers and the tests that read the database directly."""

from __future__ import annotations

import base64
import os

from infra.crypto.blind_index import HmacBlindIndexer
from infra.crypto.envelope import EnvelopeCipher
from infra.crypto.keyring import parse_key_ring
from infra.db.sealing import Sealer


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


# One ring per test process: a subprocess server gets it through its environment.
TEST_KEY_RING = f"test-1:{new_key()}"
TEST_BLIND_INDEX_KEY = new_key()


def sealer_for(ring_text: str = TEST_KEY_RING, index_key: str = TEST_BLIND_INDEX_KEY) -> Sealer:
    return Sealer(
        EnvelopeCipher(parse_key_ring(ring_text)),
        HmacBlindIndexer(base64.b64decode(index_key)),
    )


def encryption_env() -> dict[str, str]:
    return {"ENCRYPTION_KEY": TEST_KEY_RING, "BLIND_INDEX_KEY": TEST_BLIND_INDEX_KEY}
