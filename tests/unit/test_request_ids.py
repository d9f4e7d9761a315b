"""RequestIds: the ids of a keyed request, the same in the same order when it is replayed."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.idempotency import IdempotencyKey, RequestIds

KEY = IdempotencyKey("svc", "/payments.v1.PaymentService/CapturePayment", "k-1")
CLAIMED = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def seeded() -> RequestIds:
    ids = RequestIds(KEY)
    ids.seed(CLAIMED)
    return ids


def test_a_replay_of_the_request_makes_the_same_ids_in_the_same_order() -> None:
    first, replay = seeded(), seeded()
    assert [first.new_id() for _ in range(3)] == [replay.new_id() for _ in range(3)]


def test_ids_drawn_in_a_rolled_back_transaction_are_drawn_again() -> None:
    """What the replay after a crash draws - it never saw the transaction that rolled back -
    this process draws too, after the rollback."""
    ids, replay = seeded(), seeded()
    committed = ids.new_id()
    mark = ids.drawn
    ids.new_id(), ids.new_id()  # a transaction that rolled back
    ids.rewind(mark)
    again = [ids.new_id(), ids.new_id()]
    assert [committed, *again] == [replay.new_id() for _ in range(3)]
    assert ids.drawn == 3


def test_rewinding_never_moves_forward_and_ids_before_the_seed_are_random() -> None:
    ids = RequestIds(KEY)
    assert ids.new_id() != ids.new_id()  # no seed: random, nothing counted
    assert ids.drawn == 0
    ids.seed(CLAIMED)
    ids.new_id()
    ids.rewind(5)
    assert ids.drawn == 1
