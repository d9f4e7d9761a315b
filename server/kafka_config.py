"""Settings of the Kafka side: the brokers, the payment events topic, and the order topics in
their two forms. `Settings` (server/config.py) inherits them; server/messaging.py builds the
relay and the order events consumer from them. TLS/SASL: server/transport_config.py."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.usecases.order_events import ORDER_CANCELLED, ORDER_CONFIRMED
from infra.messaging.order_topics import OrderTopics


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    # KAFKA_BROKERS is a comma-separated bootstrap list. Unset: no Kafka, the outbox relay does
    # not run and events wait in the outbox (`make run` starts an embedded broker outside
    # staging/production).
    kafka_brokers: str | None = None
    kafka_topic_payment_events: Annotated[str, Field(min_length=1)] = "payment.events"
    # Order events come in two forms (infra/messaging/order_topics.py): CloudEvents-typed on
    # the one shared topic, and the specification's header-less JSON on a topic per event,
    # named as the specification names the event. An empty per-event topic is not consumed.
    kafka_topic_order_events: Annotated[str, Field(min_length=1)] = "order.events"
    kafka_topic_order_confirmed: str = ORDER_CONFIRMED
    kafka_topic_order_cancelled: str = ORDER_CANCELLED
    kafka_group_id: Annotated[str, Field(min_length=1)] = "payment-service"
    kafka_client_id: Annotated[str, Field(min_length=1)] = "payment-service"
    # Off only for brokers without InitProducerId (the embedded Tansu broker).
    kafka_enable_idempotence: bool = True

    @model_validator(mode="after")
    def _order_topics_distinct(self) -> KafkaSettings:
        # A topic with two meanings would give its records a type that depends on the rule
        # applied; the service's own events read back as orders would be dead-lettered.
        named = [
            self.kafka_topic_order_events,
            self.kafka_topic_order_confirmed,
            self.kafka_topic_order_cancelled,
        ]
        named = [t.strip() for t in named if t.strip()]
        if len(set(named)) != len(named):
            raise ValueError(
                "KAFKA_TOPIC_ORDER_EVENTS, KAFKA_TOPIC_ORDER_CONFIRMED and "
                "KAFKA_TOPIC_ORDER_CANCELLED must be different topics"
            )
        if self.kafka_topic_payment_events in named:
            raise ValueError("KAFKA_TOPIC_PAYMENT_EVENTS must not be an order events topic")
        return self

    def order_topics(self) -> OrderTopics:
        per_event = {
            self.kafka_topic_order_confirmed.strip(): ORDER_CONFIRMED,
            self.kafka_topic_order_cancelled.strip(): ORDER_CANCELLED,
        }
        return OrderTopics(
            shared=self.kafka_topic_order_events,
            per_event={topic: kind for topic, kind in per_event.items() if topic},
        )

    @property
    def kafka_configured(self) -> bool:
        return bool(self.kafka_brokers and self.kafka_brokers.strip())

    def kafka_broker_list(self) -> list[str]:
        return [part.strip() for part in (self.kafka_brokers or "").split(",") if part.strip()]
