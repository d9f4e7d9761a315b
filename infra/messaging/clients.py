"""aiokafka clients shared by the outbox relay and the order-events consumer."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar


class KafkaClient(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


C = TypeVar("C", bound=KafkaClient)


async def started(client: C) -> C:
    """The client, started; a client that fails to start is stopped before the error goes up
    (aiokafka leaves its connections open otherwise)."""
    try:
        await client.start()
    except BaseException:
        with contextlib.suppress(Exception):
            await client.stop()
        raise
    return client


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """How clients reach the brokers: PLAINTEXT, SSL (TLS 1.2+, the brokers' certificates
    verified against `ssl_cafile` or the system's CAs, optionally a client certificate), and
    SASL (PLAIN or SCRAM) on top of either."""

    protocol: str = "PLAINTEXT"
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)

    def client_options(self) -> dict[str, object]:
        """Keyword arguments of AIOKafkaProducer and AIOKafkaConsumer."""
        options: dict[str, object] = {"security_protocol": self.protocol}
        if self.protocol in ("SSL", "SASL_SSL"):
            context = ssl.create_default_context(cafile=self.ssl_cafile)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if self.ssl_certfile is not None:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            options["ssl_context"] = context
        if self.protocol.startswith("SASL_"):
            # aiokafka names them "plain" but uses them for SCRAM too.
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        return options


def producer_settings(
    brokers: Sequence[str],
    client_id: str,
    enable_idempotence: bool,
    request_timeout_ms: int,
    security: KafkaSecurity | None = None,
) -> dict[str, object]:
    """A producer that waits for every in-sync replica (acks=all)."""
    return {
        "bootstrap_servers": list(brokers),
        "client_id": client_id,
        "acks": "all",
        "enable_idempotence": enable_idempotence,
        "request_timeout_ms": request_timeout_ms,
        **(security or KafkaSecurity()).client_options(),
    }


class ProducerConfig(Protocol):
    """What a producer is made from (the relay's and the consumer's configurations)."""

    @property
    def brokers(self) -> Sequence[str]: ...

    @property
    def client_id(self) -> str: ...

    @property
    def enable_idempotence(self) -> bool: ...

    @property
    def request_timeout_ms(self) -> int: ...

    @property
    def security(self) -> KafkaSecurity: ...


def producer_settings_of(config: ProducerConfig) -> dict[str, object]:
    return producer_settings(
        config.brokers,
        config.client_id,
        config.enable_idempotence,
        config.request_timeout_ms,
        config.security,
    )
