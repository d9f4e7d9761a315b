"""Settings of the Kafka side: the brokers, the payment events topic, and the order topics in
their two forms, and TLS/SASL towards the brokers. `Settings` (server/config.py) inherits
them; server/messaging.py builds the relay and the order events consumer from them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr

from domain.usecases.order_events import ORDER_CANCELLED, ORDER_CONFIRMED
from infra.messaging.order_topics import OrderTopics
from server.settings_part import SettingsPart
from server.transport_config import missing_files

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSettings(SettingsPart):
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

    # SSL or SASL_SSL in production; SASL needs a mechanism, a user and a password.
    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None
    kafka_sasl_mechanism: KafkaSaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None

    def problems(self) -> list[str]:
        problems = self._topic_problems()
        if (self.kafka_ssl_certfile is None) != (self.kafka_ssl_keyfile is None):
            problems.append("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            problems.append(
                "KAFKA_SECURITY_PROTOCOL=SASL_* needs KAFKA_SASL_MECHANISM, "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        return problems + missing_files(
            {
                "KAFKA_SSL_CAFILE": self.kafka_ssl_cafile,
                "KAFKA_SSL_CERTFILE": self.kafka_ssl_certfile,
                "KAFKA_SSL_KEYFILE": self.kafka_ssl_keyfile,
            }
        )

    def pci_problems(self) -> list[str]:
        if self.kafka_configured and self.kafka_security_protocol in (
            "PLAINTEXT",
            "SASL_PLAINTEXT",
        ):
            return [
                f"KAFKA_SECURITY_PROTOCOL is {self.kafka_security_protocol}: it must be SSL "
                "or SASL_SSL"
            ]
        return []

    def _topic_problems(self) -> list[str]:
        # A topic with two meanings would give its records a type that depends on the rule
        # applied; the service's own events read back as orders would be dead-lettered.
        named = [
            self.kafka_topic_order_events,
            self.kafka_topic_order_confirmed,
            self.kafka_topic_order_cancelled,
        ]
        named = [t.strip() for t in named if t.strip()]
        problems = []
        if len(set(named)) != len(named):
            problems.append(
                "KAFKA_TOPIC_ORDER_EVENTS, KAFKA_TOPIC_ORDER_CONFIRMED and "
                "KAFKA_TOPIC_ORDER_CANCELLED must be different topics"
            )
        if self.kafka_topic_payment_events in named:
            problems.append("KAFKA_TOPIC_PAYMENT_EVENTS must not be an order events topic")
        return problems

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
