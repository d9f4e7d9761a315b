"""The pure parts of the operators' tools: which dead-lettered records a replay picks, what a
replayed record carries, and how progress is throttled."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from infra.messaging.dead_letters import REPLAYED_FROM, DeadLetter, DeadLetterSelection
from server.progress import StderrProgress


def letter(partition: int, offset: int, value: bytes = b"{}", **headers: str) -> DeadLetter:
    return DeadLetter(
        partition,
        offset,
        datetime(2026, 12, 7, tzinfo=UTC),
        b"order-1",
        value,
        tuple((k, v.encode()) for k, v in headers.items()),
    )


def test_the_event_id_is_the_inbox_key_else_the_cloudevents_id() -> None:
    assert letter(0, 0, json.dumps({"eventId": "e-1", "id": "x"}).encode()).event_id == "e-1"
    assert letter(0, 0, json.dumps({"id": "ce-2"}).encode()).event_id == "ce-2"
    assert letter(0, 0, b"{not json", ce_id="ce-3").event_id == "ce-3"
    assert letter(0, 0, b"[1]").event_id is None


def test_a_replayed_record_drops_the_dead_letter_headers_and_says_where_it_was() -> None:
    dead = letter(
        2, 41, ce_type="order.confirmed", error="boom", error_type="X",
        original_topic="order.events", original_partition="1", original_offset="9",
    )  # fmt: skip
    assert dead.original_topic == "order.events"
    assert dead.reason == "boom"
    assert dead.replay_headers() == [("ce_type", b"order.confirmed"), (REPLAYED_FROM, b"2@41")]


def test_selection_by_offset_range_partition_or_event_id() -> None:
    letters = [
        letter(p, o, json.dumps({"eventId": f"{p}-{o}"}).encode()) for p in (0, 1) for o in range(4)
    ]

    def picked(selection: DeadLetterSelection) -> list[tuple[int, int]]:
        return [(d.partition, d.offset) for d in letters if selection(d)]

    assert picked(DeadLetterSelection(from_offset=1, to_offset=2)) == [
        (0, 1),
        (0, 2),
        (1, 1),
        (1, 2),
    ]
    assert picked(DeadLetterSelection(from_offset=3)) == [(0, 3), (1, 3)]
    assert picked(DeadLetterSelection(from_offset=0, to_offset=1, partition=1)) == [(1, 0), (1, 1)]
    assert picked(DeadLetterSelection(event_id="1-2")) == [(1, 2)]
    assert picked(DeadLetterSelection(event_id="nope")) == []


def test_progress_is_throttled_but_the_last_step_is_always_shown() -> None:
    out = io.StringIO()
    progress = StderrProgress("dlq replay", every=3600, stream=out)
    for done in range(1, 6):
        progress.step(done, 5)
    assert out.getvalue().splitlines() == ["dlq replay: 1/5", "dlq replay: 5/5"]


def test_a_new_count_is_always_shown() -> None:
    out = io.StringIO()
    progress = StderrProgress("rotate-keys", every=3600, stream=out)
    for table, rows in (("payments", 200), ("payments", 400), ("refunds", 0)):
        progress.count(table, rows)
    assert out.getvalue().splitlines() == ["rotate-keys: payments 200", "rotate-keys: refunds 0"]
