"""Envelope encryption, the key ring and blind indexes, without a database."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from infra.crypto.blind_index import HmacBlindIndexer
from infra.crypto.envelope import EnvelopeCipher, envelope_header, plaintext_value
from infra.crypto.keyring import (
    DEVELOPMENT_KEY_ID,
    KeyRingError,
    development_key_ring,
    parse_key_ring,
)
from infra.db.sealing import Place, Sealer, UnreadableValue
from server.config import AppEnv, Settings
from server.encryption import (
    EncryptionNotConfigured,
    build_sealer,
    encryption_settings_problems,
    key_ring,
)

PLACE = Place("payments", "metadata", "3f2a0c1e-0000-4000-8000-000000000001")
SECRET = b'{"email":"alice@example.com"}'


def key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


K1, K2, INDEX_KEY = key(), key(), key()


def cipher(ring: str) -> EnvelopeCipher:
    return EnvelopeCipher(parse_key_ring(ring))


@pytest.fixture(autouse=True)
def no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ENCRYPTION_KEY",
        "ENCRYPTION_KEY_FILE",
        "BLIND_INDEX_KEY",
        "BLIND_INDEX_KEY_FILE",
    ):
        monkeypatch.delenv(name, raising=False)


def settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


def test_a_sealed_value_carries_the_format_version_and_key_id_and_never_the_plaintext() -> None:
    sealed = cipher(f"k1:{K1}").seal(SECRET, PLACE)
    assert sealed.startswith(envelope_header("k1")) and sealed[0] == 1
    assert b"alice" not in sealed and SECRET not in sealed
    assert cipher(f"k1:{K1}").key_id(sealed) == "k1"
    assert cipher(f"k1:{K1}").open(sealed, PLACE) == SECRET


def test_sealing_twice_gives_two_different_ciphertexts() -> None:
    ring = cipher(f"k1:{K1}")
    assert ring.seal(SECRET, PLACE) != ring.seal(SECRET, PLACE)


@pytest.mark.parametrize(
    "elsewhere",
    [
        Place("payments", "metadata", "3f2a0c1e-0000-4000-8000-000000000002"),
        Place("payments", "description", PLACE.row_id),
        Place("refunds", "metadata", PLACE.row_id),
    ],
    ids=["other row", "other column", "other table"],
)
def test_a_value_copied_to_another_place_does_not_decrypt(elsewhere: Place) -> None:
    ring = cipher(f"k1:{K1}")
    sealed = ring.seal(SECRET, PLACE)
    with pytest.raises(UnreadableValue, match="authentication failed") as error:
        ring.open(sealed, elsewhere)
    assert str(elsewhere) in str(error.value)
    assert "alice" not in str(error.value)


def test_places_whose_parts_run_together_are_not_confused() -> None:
    ring = cipher(f"k1:{K1}")
    sealed = ring.seal(SECRET, Place("ab", "c", "1"))
    with pytest.raises(UnreadableValue):
        ring.open(sealed, Place("a", "bc", "1"))


@pytest.mark.parametrize("position", [1, 3, 10, 60, -1], ids=lambda p: f"byte {p}")
def test_any_altered_byte_is_detected(position: int) -> None:
    ring = cipher(f"k1:{K1}")
    sealed = bytearray(ring.seal(SECRET, PLACE))
    sealed[position] ^= 0x01
    with pytest.raises(UnreadableValue):
        ring.open(bytes(sealed), PLACE)


def test_a_value_sealed_with_a_key_not_in_the_ring_fails_clearly() -> None:
    sealed = cipher(f"k9:{K1}").seal(SECRET, PLACE)
    with pytest.raises(UnreadableValue, match="sealed with key 'k9', which is not in the key ring"):
        cipher(f"k1:{K1}").open(sealed, PLACE)


def test_the_same_id_with_other_key_material_fails_authentication() -> None:
    sealed = cipher(f"k1:{K1}").seal(SECRET, PLACE)
    with pytest.raises(UnreadableValue, match="authentication failed"):
        cipher(f"k1:{K2}").open(sealed, PLACE)


@pytest.mark.parametrize(
    ("sealed", "reason"),
    [(b"", "empty"), (b"\x07abc", "unknown format version 7"), (b"\x01\x02k1", "truncated")],
)
def test_malformed_values_fail_clearly(sealed: bytes, reason: str) -> None:
    with pytest.raises(UnreadableValue, match=reason):
        cipher(f"k1:{K1}").open(sealed, PLACE)


def test_any_key_of_the_ring_decrypts_and_the_first_one_encrypts() -> None:
    old = cipher(f"k1:{K1}").seal(SECRET, PLACE)
    ring = cipher(f"k2:{K2}\nk1:{K1}")
    assert ring.open(old, PLACE) == SECRET
    assert ring.key_id(ring.seal(SECRET, PLACE)) == "k2"


def test_rewrapping_moves_the_value_to_the_active_key_without_touching_its_ciphertext() -> None:
    old = cipher(f"k1:{K1}").seal(SECRET, PLACE)
    rotated = cipher(f"k2:{K2},k1:{K1}").rewrap(old, PLACE)
    assert cipher(f"k2:{K2}").open(rotated, PLACE) == SECRET  # k1 no longer needed
    value_part = len(SECRET) + 16
    assert rotated[-value_part:] == old[-value_part:]  # only the wrapped data key changed
    with pytest.raises(UnreadableValue):
        cipher(f"k2:{K2}").rewrap(cipher(f"k1:{K1}").seal(SECRET, PLACE), PLACE)


def test_plaintext_left_by_the_migration_is_read_and_sealed_by_a_rewrap() -> None:
    ring = cipher(f"k1:{K1}")
    legacy = plaintext_value(SECRET)
    assert ring.open(legacy, PLACE) == SECRET
    assert ring.key_id(legacy) is None
    with pytest.raises(UnreadableValue, match="a plaintext value where only sealed ones go"):
        ring.open(legacy, PLACE, accept_plaintext=False)
    sealed = ring.rewrap(legacy, PLACE)
    assert ring.key_id(sealed) == "k1" and SECRET not in sealed
    assert ring.open(sealed, PLACE) == SECRET


def test_sealer_stores_empty_values_as_null_and_round_trips_text_and_json() -> None:
    sealer = Sealer(cipher(f"k1:{K1}"), HmacBlindIndexer(base64.b64decode(INDEX_KEY)))
    assert sealer.seal_text("", PLACE) is None and sealer.seal_text(None, PLACE) is None
    assert sealer.seal_json({}, PLACE) is None and sealer.open_json(None, PLACE) is None
    assert sealer.open_text(sealer.seal_text("élan", PLACE), PLACE) == "élan"
    assert sealer.open_json(sealer.seal_json({"a": [1, "é"]}, PLACE), PLACE) == {"a": [1, "é"]}


def test_the_key_ring_format() -> None:
    ring = parse_key_ring(f"# rotated 2026-11\nk2:{K2}\n\nk1:{K1}\n")
    assert ring.active_id == "k2" and set(ring.keys) == {"k1", "k2"}
    assert ring.keys["k1"] == base64.b64decode(K1)
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(K1)).decode()
    assert parse_key_ring(f"a.b_c-1:{urlsafe}").keys["a.b_c-1"] == base64.b64decode(K1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "holds no key"),
        (K1, "must be `id:base64key`"),
        (f"bad id:{K1}", "must be `id:base64key`"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "must decode to 32 bytes, not 5"),
        (f"k1:{K1},k1:{K2}", "appears twice"),
    ],
)
def test_a_malformed_key_ring_is_refused_without_echoing_key_material(
    text: str, message: str
) -> None:
    with pytest.raises(KeyRingError, match=message) as error:
        parse_key_ring(text)
    assert K1 not in str(error.value) and K2 not in str(error.value)


def test_blind_indexes_are_deterministic_and_separate_purposes_and_keys() -> None:
    index = HmacBlindIndexer(base64.b64decode(INDEX_KEY))
    assert index.digest("email", "a@b.c") == index.digest("email", "a@b.c")
    assert index.digest("email", "a@b.c") != index.digest("customer", "a@b.c")
    assert index.digest("email", "a@b.c") != index.digest("email", "a@b.d")
    other = HmacBlindIndexer(base64.b64decode(K1))
    assert other.digest("email", "a@b.c") != index.digest("email", "a@b.c")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        HmacBlindIndexer(b"short")


def test_development_without_keys_runs_on_a_flagged_development_ring() -> None:
    dev = settings(app_env=AppEnv.DEVELOPMENT)
    assert key_ring(dev).development and key_ring(dev).active_id == DEVELOPMENT_KEY_ID
    problems = encryption_settings_problems(dev)
    assert any("ENCRYPTION_KEY" in p for p in problems)
    assert any("BLIND_INDEX_KEY" in p for p in problems)
    # Derived, so data sealed by one development process is readable by the next one.
    assert development_key_ring().keys == key_ring(dev).keys


def test_configured_keys_have_no_problem() -> None:
    good = settings(encryption_key=SecretStr(f"k1:{K1}"), blind_index_key=SecretStr(INDEX_KEY))
    assert encryption_settings_problems(good) == []
    assert build_sealer(good).cipher.seal(SECRET, PLACE).startswith(envelope_header("k1"))


def test_the_development_key_given_explicitly_is_still_a_problem() -> None:
    dev_key = base64.b64encode(development_key_ring().active_key).decode()
    explicit = settings(encryption_key=SecretStr(f"k1:{dev_key}"), blind_index_key=INDEX_KEY)
    assert encryption_settings_problems(explicit) == ["ENCRYPTION_KEY holds the development key"]


@pytest.mark.parametrize("env", [AppEnv.STAGING, AppEnv.PRODUCTION])
def test_staging_and_production_refuse_to_run_without_keys(env: AppEnv) -> None:
    with pytest.raises(EncryptionNotConfigured, match=rf"ENCRYPTION_KEY .* APP_ENV={env.value}"):
        build_sealer(settings(app_env=env))
    with pytest.raises(EncryptionNotConfigured, match="BLIND_INDEX_KEY"):
        build_sealer(settings(app_env=env, encryption_key=SecretStr(f"k1:{K1}")))


def test_bad_encryption_settings_are_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match="ENCRYPTION_KEY: entry 1 must be") as error:
        settings(encryption_key=SecretStr(K1))
    assert K1 not in str(error.value)
    with pytest.raises(ValidationError, match=r"BLIND_INDEX_KEY: .* must decode to 32 bytes"):
        settings(blind_index_key=SecretStr("c2hvcnQ="))
    with pytest.raises(ValidationError, match="BLIND_INDEX_KEY must differ"):
        settings(encryption_key=SecretStr(f"k1:{K1}"), blind_index_key=SecretStr(K1))
    with pytest.raises(ValidationError, match="ENCRYPTION_KEY or ENCRYPTION_KEY_FILE, not both"):
        settings(encryption_key=SecretStr(f"k1:{K1}"), encryption_key_file=Path("/nonexistent"))


def test_the_key_ring_may_come_from_a_file(tmp_path: Path) -> None:
    ring_file = tmp_path / "keys"
    ring_file.write_text(f"# active first\nk2:{K2}\nk1:{K1}\n")
    loaded = settings(encryption_key_file=ring_file).encryption_key_ring()
    assert loaded is not None and loaded.active_id == "k2" and set(loaded.keys) == {"k1", "k2"}
    with pytest.raises(ValidationError, match="ENCRYPTION_KEY: No such file"):
        settings(encryption_key_file=tmp_path / "missing")


def test_audit_retention_is_at_least_a_year() -> None:
    assert settings().audit_retention_days == 365
    with pytest.raises(ValidationError, match="audit_retention_days"):
        settings(audit_retention_days=364)
