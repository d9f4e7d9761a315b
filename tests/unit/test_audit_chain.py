"""The audit trail's hash chain: canonical hashing, and the verifier naming the first bad row."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta, timezone

from domain.actor import Actor, ActorKind
from domain.audit import AuditEntry, AuditOutcome, new_entry
from domain.audit_chain import (
    GENESIS,
    ChainBreak,
    ChainedEntry,
    ChainVerifier,
    PendingEntry,
    canonical,
    chain,
    check_pending,
    content_hash,
    entry_of,
    payload,
    row_hash,
    verify_chain,
    verify_pending,
)

WHEN = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ACTOR = Actor(ActorKind.SERVICE, "orders", request_id="req-1", origin="ipv4:10.0.0.1:5000")


def entry(n: int, **changes: object) -> AuditEntry:
    made = new_entry(
        "payment.capture",
        "payment",
        f"payment-{n}",
        actor=ACTOR,
        occurred_at=WHEN + timedelta(seconds=n),
        outcome=AuditOutcome.SUCCESS,
        before={"status": "AUTHORIZED"},
        after={"status": "CAPTURED", "captured_minor": 100 * n},
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def trail(size: int = 6) -> list[ChainedEntry]:
    return chain([entry(n) for n in range(1, size + 1)], 0, GENESIS)


def first_break(rows: Iterable[ChainedEntry], anchors: dict[int, str] | None = None) -> ChainBreak:
    verifier = ChainVerifier(anchors=dict(anchors or {}))
    for row in rows:
        broken = verifier.feed(row)
        if broken is not None:
            return broken
    broken = verifier.finish()
    assert broken is not None, "the verifier found nothing wrong"
    return broken


def test_rows_are_numbered_from_one_and_linked_to_the_previous_hash() -> None:
    rows = trail(3)
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert all(r.hash == row_hash(r.seq, r.entry, r.prev_hash) for r in rows)
    more = chain([entry(4)], rows[-1].seq, rows[-1].hash)
    assert (more[0].seq, more[0].prev_hash) == (4, rows[-1].hash)


async def test_an_intact_trail_verifies_with_its_count_and_head() -> None:
    rows = trail()

    async def stream() -> AsyncIterator[ChainedEntry]:
        for row in rows:
            yield row

    verifier, broken = await verify_chain(stream())
    assert broken is None
    assert (verifier.count, verifier.head_seq, verifier.head_hash) == (6, 6, rows[-1].hash)


def test_the_hash_covers_every_field() -> None:
    row = trail(1)[0]
    for change in (
        {"actor_subject": "someone-else"},
        {"action": "payment.cancel"},
        {"resource_id": "payment-9"},
        {"request_id": "req-2"},
        {"origin": "ipv4:10.0.0.2:1"},
        {"outcome": "failure"},
        {"reason": "CARD_DECLINED"},
        {"before": {"status": "PENDING"}},
        {"after": {"status": "CAPTURED", "captured_minor": 101}},
        {"occurred_at": WHEN + timedelta(microseconds=1)},
    ):
        changed = dataclasses.replace(row.entry, **change)
        assert row_hash(1, changed, GENESIS) != row.hash, change
    assert row_hash(2, row.entry, GENESIS) != row.hash
    assert row_hash(1, row.entry, "f" * 64) != row.hash


def test_the_serialisation_is_canonical() -> None:
    """Key order and the time zone the instant is written in do not change the bytes: a row
    read back from the database (keys reordered by jsonb, time in UTC) hashes the same."""
    original = entry(1)
    reordered = dataclasses.replace(
        original,
        after={"captured_minor": 100, "status": "CAPTURED"},
        occurred_at=original.occurred_at.astimezone(timezone(timedelta(hours=2))),
    )
    assert canonical(1, original, GENESIS) == canonical(1, reordered, GENESIS)
    assert canonical(1, original, GENESIS).isascii()


def test_a_modified_row_is_named() -> None:
    rows = trail()
    rows[2] = dataclasses.replace(
        rows[2], entry=dataclasses.replace(rows[2].entry, after={"status": "REFUNDED"})
    )
    broken = first_break(rows)
    assert (broken.seq, broken.id) == (3, rows[2].entry.id)
    assert "modified" in broken.problem


def test_a_deleted_row_is_named_by_the_row_after_the_gap() -> None:
    rows = trail()
    del rows[2]
    broken = first_break(rows)
    assert (broken.seq, broken.id) == (4, rows[2].entry.id)
    assert "rows 3..3 are missing" in broken.problem


def test_swapped_hashes_are_caught_at_the_first_of_the_two() -> None:
    rows = trail()
    third, fourth = rows[2], rows[3]
    rows[2] = dataclasses.replace(third, hash=fourth.hash)
    rows[3] = dataclasses.replace(fourth, hash=third.hash)
    assert first_break(rows).seq == 3


def test_reordered_rows_break_the_link() -> None:
    rows = trail()
    third, fourth = rows[2], rows[3]
    # Each keeps its content and hashes but takes the other's place in the sequence.
    rows[2] = dataclasses.replace(fourth, seq=3)
    rows[3] = dataclasses.replace(third, seq=4)
    broken = first_break(rows)
    assert (broken.seq, broken.id) == (3, fourth.entry.id)
    assert "prev_hash" in broken.problem


def test_an_inserted_row_is_caught_at_the_row_it_was_slipped_before() -> None:
    """Even with a correctly computed hash of its own, the forged row cannot be the previous
    row of the genuine one after it."""
    rows = trail()
    forged = chain([entry(99)], 2, rows[1].hash)[0]
    shifted = [dataclasses.replace(r, seq=r.seq + 1) for r in rows[2:]]
    broken = first_break([*rows[:2], forged, *shifted])
    assert (broken.seq, broken.id) == (4, rows[2].entry.id)


def test_a_rewritten_chain_is_caught_only_against_an_anchor() -> None:
    rows = trail()
    anchor = {rows[-1].seq: rows[-1].hash}  # the head printed by an earlier verify
    rewritten = rows[:2] + chain(
        [dataclasses.replace(r.entry, reason="forged") for r in rows[2:]], 2, rows[1].hash
    )
    verifier = ChainVerifier()
    assert all(verifier.feed(r) is None for r in rewritten)  # self-consistent on its own
    broken = first_break(rewritten, anchor)
    assert broken.seq == 6 and "anchor" in broken.problem


def test_rows_cut_from_the_end_are_caught_against_an_anchor() -> None:
    rows = trail()
    broken = first_break(rows[:4], {6: rows[5].hash})
    assert broken.seq == 6 and "ends at seq=4" in broken.problem


# --- entries waiting for the linker ----------------------------------------------------------
def waiting(n: int) -> PendingEntry:
    text = payload(entry(n))
    return PendingEntry(entry_of(text), text, content_hash(text))


def test_a_pending_entry_is_its_payload_read_back_whole() -> None:
    original = entry(3, reason="card declined", before=None)
    assert entry_of(payload(original)) == original
    assert check_pending(waiting(1)) is None


def test_an_edited_pending_entry_is_found() -> None:
    held = waiting(2)
    edited = held.payload.replace("CAPTURED", "REFUNDED")
    broken = check_pending(dataclasses.replace(held, payload=edited, entry=entry_of(edited)))
    assert broken is not None and broken.id == held.entry.id and "content hash" in broken.problem
    assert str(broken) == f"pending entry id={held.entry.id}: {broken.problem}"
    rehashed = dataclasses.replace(held, content_hash=content_hash(held.payload + " "))
    assert check_pending(rehashed) is not None


def test_a_forged_payload_not_in_canonical_form_is_found() -> None:
    held = waiting(4)
    spaced = held.payload.replace(",", ", ")  # same JSON, not the text the chain hashes
    forged = PendingEntry(entry_of(spaced), spaced, content_hash(spaced))
    broken = check_pending(forged)
    assert broken is not None and "canonical" in broken.problem


async def test_verify_pending_counts_up_to_the_first_break() -> None:
    good, bad = waiting(1), dataclasses.replace(waiting(2), content_hash="0" * 64)

    async def rows() -> AsyncIterator[PendingEntry]:
        for row in (good, bad, good):
            yield row

    assert await verify_pending(rows()) == (1, check_pending(bad))
