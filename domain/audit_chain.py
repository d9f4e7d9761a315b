"""The hash chain that makes the audit trail tamper-evident.

Rows are numbered 1, 2, 3 ... without gaps. Each row stores the hash of the row before it
(`prev_hash`; the first row stores GENESIS) and its own hash: SHA-256 over its number, the
previous hash and a canonical JSON serialisation of all its other fields. Changing any field
of a row breaks its own hash; deleting, inserting or reordering rows breaks a `prev_hash`
link or the numbering. Someone able to rewrite every later row too is caught by comparing the
head with a hash recorded elsewhere earlier (an anchor: `audit verify --expect SEQ:HASH`).

Entries are chained shortly after their transaction commits, not in it (the linker, migration
0017). Until then an entry is pending: it carries the SHA-256 of its payload taken when it was
written (its content hash), and verification checks it against the entry's fields. That gives
a pending entry what the chain gives its last row: an edit that does not recompute the hash is
found; a consistent rewrite, a forged or a deleted newest entry is not (for the chain's head,
that is what anchors are for), and the window lasts only as long as the chain lag. After
linking an edit stays found: the linker hashes the payload stored at write time, which edited
fields no longer match, and it refuses to chain an entry whose payload no longer matches its
content hash (the chain never vouches for an edited payload).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from domain.audit import AuditEntry

GENESIS = "0" * 64
FORMAT_VERSION = 1
OCCURRED_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass(frozen=True, slots=True)
class ChainedEntry:
    seq: int
    entry: AuditEntry
    prev_hash: str
    hash: str


def payload(entry: AuditEntry) -> str:
    """The canonical serialisation of a row's fields (all but seq and prev_hash). Sorted keys,
    no spaces, ASCII only, so the same row always gives the same text, whichever process
    writes or reads it."""
    document = {
        "v": FORMAT_VERSION,
        "id": entry.id,
        "occurred_at": entry.occurred_at.astimezone(UTC).strftime(OCCURRED_AT_FORMAT),
        "actor": {"kind": entry.actor_kind, "subject": entry.actor_subject},
        "action": entry.action,
        "resource": {"type": entry.resource_type, "id": entry.resource_id},
        "request_id": entry.request_id,
        "origin": entry.origin,
        "outcome": entry.outcome,
        "reason": entry.reason,
        "before": entry.before,
        "after": entry.after,
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def entry_of(entry_payload: str) -> AuditEntry:
    """The entry a payload serialises (pending entries are stored as their payload)."""
    document = json.loads(entry_payload)
    return AuditEntry(
        id=document["id"],
        occurred_at=datetime.strptime(document["occurred_at"], OCCURRED_AT_FORMAT).replace(
            tzinfo=UTC
        ),
        actor_kind=document["actor"]["kind"],
        actor_subject=document["actor"]["subject"],
        action=document["action"],
        resource_type=document["resource"]["type"],
        resource_id=document["resource"]["id"],
        request_id=document["request_id"],
        origin=document["origin"],
        outcome=document["outcome"],
        reason=document["reason"],
        before=document["before"],
        after=document["after"],
    )


def canonical(seq: int, entry: AuditEntry, prev_hash: str) -> bytes:
    """The bytes a row's hash covers: its number, the previous row's hash, its payload. The
    database computes the same (migration 0012, audit_log_append) when it appends."""
    return f"{seq}\n{prev_hash}\n{payload(entry)}".encode("ascii")


def row_hash(seq: int, entry: AuditEntry, prev_hash: str) -> str:
    return hashlib.sha256(canonical(seq, entry, prev_hash)).hexdigest()


def content_hash(entry_payload: str) -> str:
    """SHA-256 of a payload, hex: a pending entry's own hash (the linker checks it too)."""
    return hashlib.sha256(entry_payload.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An entry written, not chained yet: its stored payload and content hash."""

    entry: AuditEntry
    payload: str
    content_hash: str


# A row of the trail as readers list it: chained, or waiting for the linker.
TrailEntry = ChainedEntry | PendingEntry


def chain(entries: Iterable[AuditEntry], head_seq: int, head_hash: str) -> list[ChainedEntry]:
    """Number and link `entries` after the current head (0 and GENESIS for an empty trail)."""
    chained: list[ChainedEntry] = []
    seq, previous = head_seq, head_hash
    for entry in entries:
        seq += 1
        current = row_hash(seq, entry, previous)
        chained.append(ChainedEntry(seq, entry, previous, current))
        previous = current
    return chained


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first row at which the chain does not hold, and why."""

    seq: int  # 0 for a pending entry (not numbered yet)
    id: str
    problem: str

    def __str__(self) -> str:
        if self.seq == 0:
            return f"pending entry id={self.id}: {self.problem}"
        return f"row seq={self.seq} id={self.id}: {self.problem}"


def check_pending(pending: PendingEntry) -> ChainBreak | None:
    """A pending entry holds when its payload still has its content hash and is the canonical
    serialisation of the entry it holds (what the chain will hash)."""
    if content_hash(pending.payload) != pending.content_hash:
        return ChainBreak(
            0, pending.entry.id,
            "its payload does not match its content hash (modified while waiting to be linked)",
        )  # fmt: skip
    if payload(pending.entry) != pending.payload:
        return ChainBreak(0, pending.entry.id, "its payload is not in canonical form (forged)")
    return None


@dataclass
class ChainVerifier:
    """Fed the rows in sequence order, one at a time (the trail may be far larger than
    memory); reports the first break. `anchors` maps sequence numbers to hashes recorded
    earlier, to catch a chain rewritten from some row to the end."""

    anchors: dict[int, str] = field(default_factory=dict)
    count: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS

    def feed(self, row: ChainedEntry) -> ChainBreak | None:
        expected = self.head_seq + 1
        if row.seq != expected:
            problem = (
                f"expected seq={expected}: rows {expected}..{row.seq - 1} are missing (deleted)"
                if row.seq > expected
                else f"expected seq={expected}: rows out of order"
            )
            return ChainBreak(row.seq, row.entry.id, problem)
        if row.prev_hash != self.head_hash:
            return ChainBreak(
                row.seq,
                row.entry.id,
                f"prev_hash does not match the hash of row seq={self.head_seq}: "
                "a row before it was removed, inserted or replaced",
            )
        if row_hash(row.seq, row.entry, row.prev_hash) != row.hash:
            return ChainBreak(
                row.seq, row.entry.id, "its contents do not match its hash (the row was modified)"
            )
        anchored = self.anchors.get(row.seq)
        if anchored is not None and anchored != row.hash:
            return ChainBreak(
                row.seq,
                row.entry.id,
                f"its hash differs from the anchor {anchored}: the chain was rewritten",
            )
        self.count += 1
        self.head_seq, self.head_hash = row.seq, row.hash
        return None

    def finish(self) -> ChainBreak | None:
        """After the last row: anchors beyond the head mean rows were cut from the end."""
        beyond = [seq for seq in self.anchors if seq > self.head_seq]
        if beyond:
            return ChainBreak(
                min(beyond),
                "-",
                f"the anchored row is missing: the trail ends at seq={self.head_seq} "
                "(rows were removed from the end)",
            )
        return None


async def verify_chain(
    rows: AsyncIterable[ChainedEntry], anchors: dict[int, str] | None = None
) -> tuple[ChainVerifier, ChainBreak | None]:
    """Walks `rows` (in sequence order) to the first break; the verifier holds the count and
    the head reached."""
    verifier = ChainVerifier(anchors=dict(anchors or {}))
    async for row in rows:
        broken = verifier.feed(row)
        if broken is not None:
            return verifier, broken
    return verifier, verifier.finish()


async def verify_pending(rows: AsyncIterable[PendingEntry]) -> tuple[int, ChainBreak | None]:
    """Checks each pending entry (see check_pending); the count checked and the first break."""
    count = 0
    async for row in rows:
        broken = check_pending(row)
        if broken is not None:
            return count, broken
        count += 1
    return count, None
