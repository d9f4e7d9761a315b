"""The retention loop: every policy, in batches, until nothing is left."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from domain.retention import RetentionPolicy, RetentionReport, enforce_retention

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class FakeRetentionStore:
    """Rows by their age; each call handles at most `limit` of those older than the cutoff."""

    webhook_received: list[datetime] = field(default_factory=list)
    payments_created: list[datetime] = field(default_factory=list)
    methods_deleted: list[datetime] = field(default_factory=list)
    calls: list[tuple[str, datetime, int]] = field(default_factory=list)

    @staticmethod
    def _take(rows: list[datetime], before: datetime, limit: int) -> int:
        due = [row for row in rows if row < before][:limit]
        for row in due:
            rows.remove(row)
        return len(due)

    async def drop_webhook_payloads(self, received_before: datetime, limit: int) -> int:
        self.calls.append(("webhooks", received_before, limit))
        return self._take(self.webhook_received, received_before, limit)

    async def anonymise_payments(self, created_before: datetime, now: datetime, limit: int) -> int:
        self.calls.append(("payments", created_before, limit))
        return self._take(self.payments_created, created_before, limit)

    async def anonymise_deleted_payment_methods(
        self, deleted_before: datetime, now: datetime, limit: int
    ) -> int:
        self.calls.append(("methods", deleted_before, limit))
        return self._take(self.methods_deleted, deleted_before, limit)


def policy(batch_size: int = 2) -> RetentionPolicy:
    return RetentionPolicy(
        webhook_payloads=timedelta(days=90),
        personal_data=timedelta(days=2557),
        audit_log=timedelta(days=365),
        batch_size=batch_size,
    )


async def test_every_policy_is_drained_in_batches_with_its_own_cutoff() -> None:
    years = [NOW - timedelta(days=3000)] * 5
    store = FakeRetentionStore(
        webhook_received=[NOW - timedelta(days=91)] * 3 + [NOW - timedelta(days=89)],
        payments_created=[*years, NOW - timedelta(days=1)],
        methods_deleted=years[:1],
    )
    report = await enforce_retention(policy(batch_size=2), store, NOW)
    assert report == RetentionReport(3, 5, 1)
    assert len(store.webhook_received) == 1 and len(store.payments_created) == 1
    assert {(kind, cutoff) for kind, cutoff, _ in store.calls} == {
        ("webhooks", NOW - timedelta(days=90)),
        ("payments", NOW - timedelta(days=2557)),
        ("methods", NOW - timedelta(days=2557)),
    }
    # 3 payloads in batches of 2: a full batch, then a short one ends the loop.
    assert [kind for kind, *_ in store.calls].count("webhooks") == 2
    assert [kind for kind, *_ in store.calls].count("payments") == 3


async def test_a_second_run_finds_nothing() -> None:
    store = FakeRetentionStore(payments_created=[NOW - timedelta(days=3000)] * 4)
    assert await enforce_retention(policy(), store, NOW)
    again = await enforce_retention(policy(), store, NOW)
    assert not again and str(again).startswith("dropped 0 webhook payloads")


def test_audit_logs_are_kept_at_least_a_year() -> None:
    with pytest.raises(ValueError, match="365 days"):
        RetentionPolicy(timedelta(days=90), timedelta(days=2557), timedelta(days=364), 100)
