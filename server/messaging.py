"""Builds the outbox relay from the settings: Kafka producer options and the wire format."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from infra.currency import CldrCurrencyCatalog
from infra.messaging.relay import KafkaProducerConfig, OutboxMessage, OutboxRelay
from server.config import Settings
from server.events_wire import render_event
from server.metrics import ServiceMetrics


def build_outbox_relay(
    settings: Settings, engine: AsyncEngine, metrics: ServiceMetrics
) -> OutboxRelay:
    currencies = CldrCurrencyCatalog()

    def render(message: OutboxMessage) -> bytes:
        return render_event(message.event_type, message.payload, currencies.exponent)

    return OutboxRelay(
        engine,
        KafkaProducerConfig(
            brokers=settings.kafka_broker_list(),
            client_id=settings.kafka_client_id,
            enable_idempotence=settings.kafka_enable_idempotence,
        ),
        topic=settings.kafka_topic_payment_events,
        render=render,
        source=f"/{settings.kafka_client_id}",
        batch_size=settings.outbox_batch_size,
        poll_interval=settings.outbox_poll_interval_seconds,
        max_backoff=5.0,
        on_published=metrics.outbox_published.inc,
    )
