"""Settings of data retention (README "Data retention"), enforced by a job in the lease
holder and by `payment-service retention run`. Idempotency keys follow
IDEMPOTENCY_RETENTION_HOURS, published outbox rows OUTBOX_RETENTION_HOURS."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from server.settings_part import SettingsPart


class RetentionSettings(SettingsPart):
    webhook_payload_retention_days: Annotated[float, Field(gt=0)] = 90.0
    personal_data_retention_days: Annotated[float, Field(gt=0)] = 2557.0  # 7 years
    # PCI DSS 10.5.1: audit history is kept at least 12 months. Never deleted by this
    # service's retention job; the audit log's own tooling honours it.
    audit_retention_days: Annotated[int, Field(ge=365)] = 365
    retention_interval_seconds: Annotated[float, Field(gt=0)] = 3600.0
    retention_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 500
