"""Builds the event renderer (the published form the outbox stores), the outbox relay (Kafka
producer options) and the order events consumer from the settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.trace import Tracer
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.actor import Actor
from domain.usecases.deps import Deps
from domain.usecases.order_events import (
    ORDER_CANCELLED,
    ORDER_CONFIRMED,
    consumer_actor,
    handle_order_cancelled,
    handle_order_confirmed,
)
from infra.currency import iso4217_catalog
from infra.db.analytics_projector import AnalyticsProjector
from infra.messaging.consumer import Handler, KafkaConsumerConfig, OrderEventsConsumer
from infra.messaging.relay import KafkaProducerConfig, OutboxRelay
from server.config import Settings
from server.events_wire import EventRenderer
from server.metrics import ServiceMetrics
from server.transport import kafka_security


def event_renderer(settings: Settings) -> EventRenderer:
    """Renders events as published: this service is their CloudEvents source."""
    return EventRenderer(f"/{settings.kafka_client_id}", iso4217_catalog().exponent)


def build_outbox_relay(
    settings: Settings, engine: AsyncEngine, metrics: ServiceMetrics, tracer: Tracer | None = None
) -> OutboxRelay:
    return OutboxRelay(
        engine,
        KafkaProducerConfig(
            brokers=settings.kafka_broker_list(),
            client_id=settings.kafka_client_id,
            enable_idempotence=settings.kafka_enable_idempotence,
            security=kafka_security(settings),
        ),
        topic=settings.kafka_topic_payment_events,
        # Renders only rows written before the outbox stored the published form.
        render=event_renderer(settings),
        batch_size=settings.outbox_batch_size,
        poll_interval=settings.outbox_poll_interval_seconds,
        max_backoff=5.0,
        on_published=metrics.outbox_published.inc,
        tracer=tracer,
    )


def build_analytics_projector(
    settings: Settings, engine: AsyncEngine, metrics: ServiceMetrics
) -> AnalyticsProjector:
    return AnalyticsProjector(
        engine,
        # Renders only rows written before the outbox stored the published form.
        render=event_renderer(settings),
        batch_size=settings.analytics_batch_size,
        poll_interval=settings.analytics_poll_interval_seconds,
        on_projected=metrics.count_projected,
    )


def build_order_consumer(
    settings: Settings,
    deps: Callable[[Actor], Deps],
    tracer: Tracer | None = None,
    *,
    on_dead_letter: Callable[[str], object] = lambda _topic: None,
) -> OrderEventsConsumer:
    """Consumes the shared order topic and the per-event ones; each handler is told the topic
    its record came from (the inbox and the audit trail record it)."""

    async def confirmed(event: Mapping[str, Any], topic: str) -> object:
        actor = consumer_actor(str(event.get("eventId", "-")), topic)
        return await handle_order_confirmed(event, deps(actor), settings.auto_capture, topic=topic)

    async def cancelled(event: Mapping[str, Any], topic: str) -> object:
        actor = consumer_actor(str(event.get("eventId", "-")), topic)
        return await handle_order_cancelled(event, deps(actor), topic=topic)

    handlers: dict[str, Handler] = {ORDER_CONFIRMED: confirmed, ORDER_CANCELLED: cancelled}
    return OrderEventsConsumer(
        KafkaConsumerConfig(
            brokers=settings.kafka_broker_list(),
            group_id=settings.kafka_group_id,
            client_id=settings.kafka_client_id,
            enable_idempotence=settings.kafka_enable_idempotence,
            security=kafka_security(settings),
        ),
        topics=settings.order_topics(),
        handlers=handlers,
        max_backoff=5.0,
        tracer=tracer,
        on_dead_letter=on_dead_letter,
    )
