"""Operators' commands on the data: `rotate-keys` and `retention run`."""

from __future__ import annotations

from datetime import timedelta

from domain.retention import enforce_retention
from infra.crypto.blind_index import HmacBlindIndexer
from infra.db.engine import make_engine
from infra.db.idempotency import SqlIdempotencyStore
from infra.db.retention import SqlRetentionStore
from infra.db.rotation import PLAINTEXT, KeyRotation, RotationReport
from infra.system import SystemClock
from server.background import retention_policy
from server.config import Settings
from server.encryption import blind_index_key, build_cipher, build_sealer
from server.progress import StderrProgress


def describe_rotation(report: RotationReport, ring_ids: list[str]) -> list[str]:
    lines = [f"active key: {report.active_key}"]
    for table in report.tables:
        lines.append(
            f"  {table.table:<18} rows rewritten {table.rows:>7}  re-wrapped {table.rewrapped:>7}"
            f"  sealed from plaintext {table.sealed:>7}  unreadable {len(table.unreadable):>5}"
        )
    lines.extend(f"  unreadable: {message}" for message in report.unreadable[:20])
    usage = report.key_usage
    lines.append(
        "values per key: "
        + (", ".join(f"{key} {count}" for key, count in sorted(usage.items())) or "none")
    )
    in_use = [key for key in usage if key not in (report.active_key, PLAINTEXT)]
    lines.append(f"other keys still in use: {', '.join(sorted(in_use)) or 'none'}")
    retirable = [key for key in ring_ids if key != report.active_key and key not in usage]
    lines.append(
        f"keys in the ring no longer used (may be retired): {', '.join(retirable) or 'none'}"
    )
    if report.remaining:
        lines.append(
            f"{report.remaining} rows still hold values not on the active key: "
            "run rotate-keys again"
        )
    return lines


async def rotate_keys(settings: Settings, database_url: str, *, reindex: bool) -> int:
    """Prints what it did and the key usage; exit status 0 when every value is on the
    active key."""
    cipher = build_cipher(settings)
    engine = make_engine(database_url, pool_size=1)
    try:
        rotation = KeyRotation(engine, cipher, HmacBlindIndexer(blind_index_key(settings)))
        report = await rotation.run(reindex=reindex, progress=StderrProgress("rotate-keys").count)
    finally:
        await engine.dispose()
    for line in describe_rotation(report, list(cipher.ring.keys)):
        print(line)
    return 0 if report.remaining == 0 and not report.unreadable else 1


async def run_retention(settings: Settings, database_url: str) -> int:
    """Every retention policy once, idempotency keys included."""
    engine = make_engine(database_url, pool_size=1)
    now = SystemClock().now()
    try:
        purged = await SqlIdempotencyStore(engine, build_sealer(settings)).purge(
            now - timedelta(hours=settings.idempotency_retention_hours)
        )
        report = await enforce_retention(
            retention_policy(settings),
            SqlRetentionStore(engine),
            now,
            StderrProgress("retention run").count,
        )
    finally:
        await engine.dispose()
    print(f"purged {purged} idempotency keys; {report}")
    return 0
